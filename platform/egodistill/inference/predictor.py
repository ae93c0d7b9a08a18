"""The Ray Data actor of ``predict``: one student per actor, window batches in, predictions out.

Built once per actor (``map_batches`` with an actor pool) from the student's files shipped as bytes
by the driver (no shared filesystem needed), on the GPU Ray gave it when there is one. Rows that
failed upstream (decode, IMU) keep their reason and pass through untouched; the heavy ``frames``
column is dropped from the output.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from egodistill.inference.model_io import StudentFiles, load_student_files


def prepare_frames(frames: np.ndarray, device: Any = None):
    """uint8 ``(B, N, H, W, 3)`` -> the student's float input ``(B, N, 3, H, W)`` (features.image_cache.to_input)."""
    from egodistill.features.image_cache import to_input

    return to_input(frames, device=device)


class StudentPredictor:
    """Callable class for ``Dataset.map_batches``: run the student on a batch of windows."""

    def __init__(self, files: StudentFiles, top_k: int = 3, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model, self.cfg, info = load_student_files(files, files.name)
        self.model = model.to(self.device).eval()
        self.classes = [str(c) for c in info["classes"]]
        self.top_k = min(top_k, len(self.classes))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        ok = np.asarray(batch["ok"], bool)
        n, c, d = len(ok), len(self.classes), self.cfg.teacher_feature_dim
        probs = np.zeros((n, c), np.float32)
        feats = np.zeros((n, d), np.float32)
        t0 = time.perf_counter()
        idx = np.flatnonzero(ok)
        if idx.size:
            frames = prepare_frames(np.ascontiguousarray(batch["frames"][idx]), self.device)
            imu = None
            if self.model.uses_imu:
                imu = torch.from_numpy(np.ascontiguousarray(batch["imu"][idx])).to(self.device)
            with torch.inference_mode():
                out = self.model(frames=frames, imu=imu)
            probs[idx] = torch.softmax(out.logits.float(), dim=1).cpu().numpy()
            feats[idx] = out.fused.float().cpu().numpy()
        forward = time.perf_counter() - t0
        order = np.argsort(-probs, axis=1, kind="stable")[:, : self.top_k].astype(np.int32)
        result = {k: v for k, v in batch.items() if k not in ("frames", "imu", "imu_mask")}
        result.update(
            probs=probs,
            feature=feats,
            topk_classes=order,
            topk_probs=np.take_along_axis(probs, order, axis=1),
            forward_sec=np.full(n, forward / max(n, 1), np.float64),
        )
        return result
