"""The Ray Data actor of the features pass: one teacher per actor, clips in, features and logits out.

Built once per actor (``map_batches`` with an ``ActorPoolStrategy``), on the GPU Ray assigned to it
when there is one (``num_gpus``), else on the CPU; a local checkpoint travels as bytes from the
driver, so actors on other nodes need no shared filesystem. Each call takes a batch of decoded clip rows
(:mod:`egodistill.teacher.data`), runs the teacher on the rows that decoded (centre crop,
normalisation, autocast on CUDA) and returns the same rows *without* the heavy ``clip`` column plus
``teacher_feature`` (float16) and ``teacher_logits`` (float32). Rows that failed upstream keep their
reason; rows whose output is not finite (e.g. a feature beyond float16's range) get
``non_finite_output``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np


class TeacherPredictor:
    """Callable class for ``Dataset.map_batches``."""

    def __init__(
        self,
        teacher: Mapping[str, Any],
        weights_bytes: bytes | None = None,
        amp: bool = True,
        threads: int | None = None,
    ) -> None:
        import os
        import tempfile

        import torch

        from egodistill.models.config import TeacherConfig
        from egodistill.models.teachers import build_teacher

        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        cfg = TeacherConfig.model_validate(teacher)
        if weights_bytes is None:
            model = build_teacher(cfg)
        else:  # the driver's checkpoint, shipped through the object store: no shared filesystem needed
            fd, path = tempfile.mkstemp(suffix=".pt")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(weights_bytes)
                model = build_teacher(cfg.model_copy(update={"weights": path}))
            finally:
                os.unlink(path)
        self.model = model.to(self.device).eval()
        self.spec = self.model.input_spec
        self.amp = amp

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        from egodistill.teacher.augment import model_input
        from egodistill.training.ray_wiring import autocast

        ok = np.asarray(batch["ok"], dtype=bool).copy()
        reason = np.asarray(batch["reason"], dtype=object).copy()
        detail = np.asarray(batch["detail"], dtype=object).copy()
        n = len(ok)
        feats = np.zeros((n, self.model.feature_dim), dtype=np.float16)
        logits = np.zeros((n, self.model.num_classes), dtype=np.float32)
        t0 = time.perf_counter()
        idx = np.flatnonzero(ok)
        if idx.size:
            clips = torch.from_numpy(np.ascontiguousarray(batch["clip"][idx])).to(self.device)
            with torch.inference_mode(), autocast(self.device, self.amp):
                out = self.model(model_input(clips, self.spec))
            f32 = out.features.float().cpu().numpy()
            f16 = f32.astype(np.float16)
            lg = out.logits.float().cpu().numpy()
            finite = np.isfinite(f16).all(axis=1) & np.isfinite(lg).all(axis=1)
            feats[idx] = np.where(finite[:, None], f16, 0)
            logits[idx] = np.where(finite[:, None], lg, 0)
            for j in idx[~finite]:
                ok[j] = False
                reason[j] = "non_finite_output"
                detail[j] = "teacher feature or logits not finite (float16 overflow or NaN)"
        forward_sec = (time.perf_counter() - t0) / max(1, idx.size)
        out_batch = {k: v for k, v in batch.items() if k != "clip"}
        out_batch.update(
            {
                "ok": ok,
                "reason": reason,
                "detail": detail,
                "teacher_feature": feats,
                "teacher_logits": logits,
                "forward_sec": np.full(n, forward_sec, dtype=np.float64),
            }
        )
        return out_batch


__all__ = ["TeacherPredictor"]
