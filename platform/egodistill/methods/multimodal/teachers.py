"""One teacher per modality, trained on the epoch engine; its logits cached once as teacher-features tables.

Models: the zoo's ``tiny3d`` (:func:`egodistill.models.teachers.build_teacher`) for RGB (stored frames)
and flow (u, v, 0 as a 3-channel clip, the reference code's convention); small models for audio (a
2-D CNN over the log-mel), layout (an MLP over per-frame class boxes) and IMU (the platform's f_M
encoder). Each returns (feature, logits). Teachers train on the training clips *minus* the held-out
part (:mod:`.split`), so the per-dataset ensemble weights are measured on clips no teacher saw.

Inputs come from Ray Data (:func:`modality_dataset`): RGB and IMU read the clips table, the others the
sidecars. After training, :class:`LogitWriter` (a Ray Data actor) runs the teacher over every clip of a
source and writes ``teacher_features.v1`` files under ``<root>/<dataset>/<modality>/``, which the
student-inputs join attaches as ``teacher_logits__<modality>``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
import torch.nn.functional as F
from torch import nn

from egodistill.training.loop import StepContext, StepOutput, run_epochs

MODALITIES = ("rgb", "flow", "audio", "layout", "imu")
FLOW_SCALE = 4.0  # px per frame pair -> about unit range
RGB_MEAN, RGB_STD = 0.45, 0.225


class ModalityTeacher(nn.Module):
    """(feature, logits) of one modality's input; ``feature_dim`` is the feature's size."""

    def __init__(self, modality: str, num_classes: int, input_shape: list[int], width: int = 16) -> None:
        super().__init__()
        self.modality = modality
        if modality in ("rgb", "flow"):
            from egodistill.models.config import TeacherConfig
            from egodistill.models.teachers import build_teacher

            zoo = build_teacher(
                TeacherConfig(name="tiny3d", weights="none", num_classes=num_classes, tiny_width=width)
            )
            self.body, self.feature_dim = zoo.net.features, zoo.feature_dim
            self.pool_dims: tuple[int, ...] = (2, 3, 4)
        elif modality == "audio":
            c = width
            self.body = nn.Sequential(
                nn.BatchNorm2d(1), nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(2 * c, 4 * c, 3, padding=1), nn.BatchNorm2d(4 * c), nn.ReLU(),
            )  # fmt: skip
            self.feature_dim = 4 * c
            self.pool_dims = (2, 3)
        elif modality == "layout":
            self.layout_steps = int(input_shape[0])
            d = int(np.prod(input_shape))
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(d, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 128),
                                      nn.ReLU())  # fmt: skip
            self.feature_dim = 128
            self.pool_dims = ()
        elif modality == "imu":
            from egodistill.models.imu import IMUEncoder

            self.body = IMUEncoder(int(input_shape[-1]), 64)
            self.feature_dim = 64
            self.pool_dims = ()
        else:
            raise ValueError(f"modality {modality!r} is not one of {MODALITIES}")
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.modality == "layout" and x.shape[1] != self.layout_steps:
            x = resample_steps(x, self.layout_steps)
        feature = self.body(x)
        if self.pool_dims:
            feature = feature.mean(dim=self.pool_dims)
        return feature, self.head(feature)


def resample_steps(x: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, T, K, F) -> (B, steps, K, F), linear in time: a clip stored at another frame rate (the dense
    evaluation clips) spans the same window, so the layout MLP sees the time grid it was trained on."""
    b, t, k, f = x.shape
    flat = x.permute(0, 2, 3, 1).reshape(b, k * f, t)
    out = F.interpolate(flat, size=steps, mode="linear", align_corners=True)
    return out.reshape(b, k, f, steps).permute(0, 3, 1, 2).contiguous()


class ModalityTensors:
    """``map_batches``: clips or sidecar rows -> ``{"x", "label"}`` fixed-shape arrays of one modality."""

    def __init__(
        self, modality: str, keep_ids: frozenset[str] | None = None, input_shape: list[int] | None = None
    ) -> None:
        self.modality, self.keep_ids, self.input_shape = modality, keep_ids, input_shape

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        if self.keep_ids is not None:
            batch = batch.filter(
                pc.is_in(batch.column("clip_id"), pa.array(sorted(self.keep_ids), pa.string()))
            )
        if batch.num_rows == 0 and self.input_shape:  # a batch of only held-out clips: keep the shape
            return {"x": np.zeros((0, *self.input_shape), np.float32), "label": np.zeros(0, np.int64)}
        return {
            "x": model_input(self.modality, batch),
            "label": batch.column("label").to_numpy().astype(np.int64),
        }


def model_input(modality: str, batch: pa.Table) -> np.ndarray:
    """The teacher's input array of a batch of clips rows (rgb, imu) or sidecar rows."""
    n = batch.num_rows
    if modality == "rgb":
        from egodistill.ingest.frames import decode_jpeg

        clips = []
        for blobs, times in zip(batch.column("frames").to_pylist(), batch.column("frame_time_sec").to_pylist(),
                                strict=True):  # fmt: skip
            order = np.argsort(times, kind="stable")
            clips.append(np.stack([decode_jpeg(bytes(blobs[i])) for i in order]))
        x = np.stack(clips).astype(np.float32) / 255.0  # (B, T, H, W, 3)
        return (
            ((x - RGB_MEAN) / RGB_STD).transpose(0, 4, 1, 2, 3).copy()
            if n
            else np.zeros((0, 3, 1, 1, 1), np.float32)
        )
    if modality == "imu":
        length = int(batch.column("imu_num_samples")[0].as_py()) if n else 0
        channels = int(batch.column("imu_num_channels")[0].as_py()) if n else 6
        flat = pc.list_flatten(batch.column("imu")).to_numpy(zero_copy_only=False).astype(np.float32)
        return flat.reshape(n, length, channels)
    shape = batch.column("shape")[0].as_py() if n else [1]
    flat = pc.list_flatten(batch.column("value")).to_numpy(zero_copy_only=False).astype(np.float32)
    x = flat.reshape(n, *shape)
    if modality == "flow":  # (B, T-1, H, W, 2) -> (B, 3, T-1, H, W) with channels u, v, 0
        x = np.concatenate([x / FLOW_SCALE, np.zeros_like(x[..., :1])], axis=-1).transpose(0, 4, 1, 2, 3)
        return np.ascontiguousarray(x)
    if modality == "audio":  # (B, mels, time) -> (B, 1, mels, time); BatchNorm2d normalises the dB
        return x[:, None]
    return x  # layout (B, T, K, 5)


INPUT_COLUMNS = {"rgb": ["clip_id", "video_id", "split", "label", "frames", "frame_time_sec"],
                 "imu": ["clip_id", "video_id", "split", "label", "imu", "imu_num_samples", "imu_num_channels"]}  # fmt: skip
SIDECAR_COLUMNS = ["clip_id", "video_id", "split", "label", "value", "shape"]


def modality_dataset(
    modality: str,
    files: list[str],
    keep_ids: frozenset[str] | None = None,
    input_shape: list[int] | None = None,
):
    """Lazy Ray Dataset of one modality's teacher inputs (``keep_ids``: only those clips, ``input_shape``: the
    per-row shape of ``x``, which a batch left empty by ``keep_ids`` cannot tell)."""
    import ray

    ds = ray.data.read_parquet(files, partitioning=None).select_columns(
        INPUT_COLUMNS.get(modality, SIDECAR_COLUMNS)
    )
    return ds.map_batches(
        ModalityTensors(modality, keep_ids, input_shape), batch_format="pyarrow", batch_size=32
    )


class TeacherTask:
    """The engine task of one modality teacher: cross-entropy on the teacher's training clips."""

    def __init__(self, config: dict[str, Any]) -> None:
        from egodistill.training.optim import OptimSettings

        self.stage = f"teacher-{config['modality']}"
        self.modality, self.num_classes = config["modality"], int(config["num_classes"])
        self.input_shape, self.width = list(config["input_shape"]), int(config["width"])
        self.optim = OptimSettings.model_validate(config["optim"])
        self.seed, self.shuffle_buffer, self.fail_once = int(config["seed"]), 64, None

    def build_model(self) -> nn.Module:
        return ModalityTeacher(self.modality, self.num_classes, self.input_shape, self.width)

    def step(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        _, logits = model(batch["x"].float())
        y = batch["label"].long()
        loss = F.cross_entropy(logits.float(), y)
        b = float(len(y))
        return StepOutput(
            loss, {"loss": float(loss.detach()) * b, "top1": float((logits.argmax(1) == y).sum())}, b
        )


def teacher_loop(config: dict[str, Any]) -> None:
    """What ``TorchTrainer`` runs on every worker for a modality teacher."""
    run_epochs(config, TeacherTask(config))


class LogitWriter:
    """Ray Data actor: run a trained teacher over clip rows and write ``teacher_features.v1`` files."""

    def __init__(self, modality: str, state: dict[str, Any], model_args: dict[str, Any], out_dir: str,
                 dataset: str, fingerprint: str) -> None:  # fmt: skip
        self.model = ModalityTeacher(modality, **model_args)
        self.model.load_state_dict(state)
        self.model.eval()
        self.modality, self.out_dir, self.dataset, self.fp = modality, out_dir, dataset, fingerprint

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        from egodistill.features import store as fstore

        if batch.num_rows == 0:
            return {"rows": np.zeros(0, np.int64)}
        with torch.no_grad():
            feature, logits = self.model(torch.as_tensor(model_input(self.modality, batch)))
        ids = batch.column("clip_id").to_pylist()
        n = len(ids)
        table = pa.table({
            "dataset": [self.dataset] * n, "clip_id": ids, "video_id": batch.column("video_id").to_pylist(),
            "split": batch.column("split").to_pylist(), "model_name": [f"mm-{self.modality}"] * n,
            "teacher": [f"multimodal/{self.modality}"] * n,
            "teacher_feature": pa.array(list(feature.numpy().astype(np.float16)), pa.list_(pa.float16())),
            "teacher_logits": pa.array(list(logits.numpy().astype(np.float32)), pa.list_(pa.float32())),
            "feature_dim": [int(feature.shape[1])] * n, "num_classes": [int(logits.shape[1])] * n,
            "num_frames": [0] * n, "sample_rate": [0] * n, "clip_start_sec": [0.0] * n, "clip_end_sec": [0.0] * n,
            "frames_padded": [0] * n,
        })  # fmt: skip
        part = hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()[:16]
        fstore.write_features(
            table, str(Path(self.out_dir) / f"part-{part}.parquet"), self.fp, f"mm-{self.modality}"
        )
        return {"rows": np.array([n], np.int64)}


def write_logits(modality: str, files: list[str], state: dict[str, Any], model_args: dict[str, Any],
                 out_dir: str, dataset: str, fingerprint: str) -> int:  # fmt: skip
    """Run the teacher over every row of ``files`` in a Ray Data actor; returns the rows written."""
    import ray

    ds = ray.data.read_parquet(files, partitioning=None).select_columns(
        INPUT_COLUMNS.get(modality, SIDECAR_COLUMNS)
    )
    out = ds.map_batches(LogitWriter, fn_constructor_kwargs={"modality": modality, "state": state,
                         "model_args": model_args, "out_dir": out_dir, "dataset": dataset,
                         "fingerprint": fingerprint}, batch_format="pyarrow", batch_size=128, concurrency=1)  # fmt: skip
    return int(sum(r["rows"] for r in out.iter_rows()))


__all__ = ["MODALITIES", "LogitWriter", "ModalityTeacher", "ModalityTensors", "TeacherTask", "model_input",
           "modality_dataset", "resample_steps", "teacher_loop", "write_logits"]  # fmt: skip
