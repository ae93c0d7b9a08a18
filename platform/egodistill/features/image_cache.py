"""The image-feature cache: the frozen f_I (ResNet-18) over every stored frame, once, as a sidecar table.

Why: f_I is frozen (seed 000, footnote 2), so its output for a stored frame never changes. Computing it
once per frame (the N uniform frames + the first and last frame of each clip, the *frame pool*) and
joining the 512-d features to the clip rows by ``clip_id`` makes a training epoch touch only small
float columns: no JPEG decoding and no ResNet forward pass per step (see benchmarks/bench_distill.py).
A student configured with an unfrozen encoder does not use the cache and trains from the JPEGs.

Design (the teacher features pass's pattern, reusing :mod:`egodistill.features.store`):
``ray.data.read_parquet`` streams the clips files (id, time and JPEG columns only), a filter drops the
clips already written or quarantined (the pass is resumable), an actor pool
(:class:`ImageFeaturizer`, one encoder per actor, GPU when the cluster has one) decodes and encodes each
pool, and the driver writes the rows back ``rows_per_file`` at a time, atomically, under
``<workspace>/features/<dataset>/image_<weights>/`` (contract ``image_features``). A row whose JPEGs
cannot be decoded goes to ``_quarantine/`` with the reason. Rows in = rows written + quarantined.

Why this module is long: the cache pass keeps its plan, actor, writer and reader together like the other data stages (ingest, features).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
from pydantic import Field

from egodistill.config import ConfigError, StrictConfig
from egodistill.features import store
from egodistill.quarantine import Quarantine, QuarantineEntry
from egodistill.tables import conform, validate

log = logging.getLogger(__name__)

CONTRACT = "image_features"
STAGE = "image_features"
FEATURE_DIM = 512

_READ_COLUMNS = ["dataset", "clip_id", "video_id", "split", "video_path", "frames", "frame_time_sec",
                 "first_frame", "first_frame_time_sec", "last_frame", "last_frame_time_sec"]  # fmt: skip


class ImageCacheConfig(StrictConfig):
    """Run the frozen f_I over every stored frame of a clips dataset."""

    clips: str | None = Field(None, description="clips dataset root (`egodistill ingest --out`)")
    workspace: str = "workspace"
    out: str | None = Field(None, description="features root; None: <workspace>/features")
    dataset: str | None = Field(None, description="only this dataset (default: all in --clips)")
    weights: str = Field("torchvision", description='f_I weights: "torchvision" | "none" | checkpoint path')
    image_size: int | None = Field(
        None, ge=16, description="resize frames to this square size first; None: the stored size"
    )
    model_name: str | None = Field(None, description="sidecar folder; None: image_<weights tag>")
    batch_size: int = Field(32, ge=1, description="clips per encoder call")
    rows_per_file: int = Field(512, ge=1)
    actors: int | None = Field(None, ge=1, description="encoder replicas (None: one per GPU, or 1)")
    num_cpus_per_actor: float = Field(1.0, gt=0)
    allow_download: bool = True

    def require(self) -> str:
        if not self.clips:
            raise ConfigError("the image-feature cache needs --clips (the ingested clips dataset root)")
        return self.clips

    def out_root(self) -> str:
        return self.out or str(Path(self.workspace).expanduser().absolute() / "features")

    def folder_name(self) -> str:
        return self.model_name or default_model_name(self.weights)


def default_model_name(weights: str) -> str:
    """``image_resnet18-imagenet`` (torchvision), ``image_resnet18-random`` (none), ``image_<stem>`` (path)."""
    if weights == "torchvision":
        tag = "resnet18-imagenet"
    elif weights == "none":
        tag = "resnet18-random"
    else:
        tag = Path(weights).stem
    return f"image_{tag}"


def weights_digest(weights: str) -> str:
    if weights in ("torchvision", "none"):
        return weights
    p = Path(weights)
    if not p.is_file():
        raise FileNotFoundError(f"f_I weights file {p} does not exist")
    return hashlib.sha1(p.read_bytes()).hexdigest()[:16]


RANDOM_SEED = 0


def effective_weights(cfg: ImageCacheConfig) -> str:
    """The weights f_I runs with: ``"none"`` becomes a seeded random ResNet-18 saved once under the
    features root (``_weights/resnet18-random-seed0.pt``), so the cache and every student built from
    it share the same random encoder; anything else is used as given."""
    if cfg.weights != "none":
        return cfg.weights
    import torch
    import torchvision.models as tvm

    path = Path(cfg.out_root()) / "_weights" / f"resnet18-random-seed{RANDOM_SEED}.pt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            state = tvm.resnet18(weights=None).state_dict()
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)
    return str(path)


def run_fingerprint(cfg: ImageCacheConfig) -> str:
    weights = f"random-seed{RANDOM_SEED}" if cfg.weights == "none" else weights_digest(cfg.weights)
    content = {"weights": weights, "size": cfg.image_size, "contract": "image_features/v1"}
    return hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# the actor


def decode_pool(row: dict[str, Any], size: int | None) -> tuple[np.ndarray, list[float], bool]:
    """JPEG pool of one clip row -> (P, H, W, 3) uint8, times, has_first_last (resized if ``size``)."""
    from egodistill.ingest.frames import decode_jpeg

    blobs = list(row["frames"])
    times = [float(t) for t in row["frame_time_sec"]]
    has_fl = row.get("first_frame") is not None and row.get("last_frame") is not None
    if has_fl:
        blobs += [row["first_frame"], row["last_frame"]]
        times += [float(row["first_frame_time_sec"]), float(row["last_frame_time_sec"])]
    images = [decode_jpeg(bytes(b)) for b in blobs]
    if size is not None:
        from PIL import Image

        images = [np.asarray(Image.fromarray(i).resize((size, size), Image.BILINEAR)) for i in images]
    return np.stack(images), times, has_fl


def to_input(images: np.ndarray | Any, device: Any = None):
    """uint8 (..., H, W, 3) -> float (..., 3, H, W), ImageNet-normalised (f_I's input)."""
    import torch

    from egodistill.models.image import image_input_spec

    spec = image_input_spec()
    x = torch.as_tensor(images, device=device)
    x = x.movedim(-1, -3).float().div_(255.0)
    mean = torch.tensor(spec.mean, device=x.device).view(3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(3, 1, 1)
    return (x - mean) / std


class ImageFeaturizer:
    """Ray Data actor: decode each row's frame pool and run the frozen f_I over it."""

    def __init__(self, weights: str, size: int | None, threads: int = 1, allow_download: bool = True):
        import torch

        from egodistill.models.image import ImageEncoder

        torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.encoder = ImageEncoder(weights, frozen=True, allow_download=allow_download).to(self.device)
        self.encoder.eval()
        self.size = size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        n = len(batch["clip_id"])
        feats: list[Any] = [None] * n
        times: list[Any] = [None] * n
        sizes = np.zeros(n, np.int32)
        nframes = np.zeros(n, np.int32)
        has_fl = np.zeros(n, bool)
        reasons = [""] * n
        pools, owners = [], []
        for i in range(n):
            row = {k: batch[k][i] for k in batch}
            try:
                images, t, fl = decode_pool(row, self.size)
            except Exception as e:  # a corrupt JPEG: quarantined by the driver, never dropped
                reasons[i] = f"jpeg_decode_failed: {type(e).__name__}: {e}"
                continue
            pools.append(images)
            owners.append(i)
            times[i] = np.asarray(t, np.float64)
            sizes[i] = images.shape[1]
            nframes[i] = len(row["frames"])
            has_fl[i] = fl
        if pools:
            shapes = {p.shape[1:] for p in pools}
            with torch.inference_mode():
                for shape in shapes:
                    idx = [j for j, p in enumerate(pools) if p.shape[1:] == shape]
                    stacked = np.concatenate([pools[j] for j in idx])
                    out = self.encoder(to_input(stacked, self.device)).float().cpu().numpy()
                    start = 0
                    for j in idx:
                        k = len(pools[j])
                        feats[owners[j]] = out[start : start + k].reshape(-1)
                        start += k
        return {
            "clip_id": batch["clip_id"],
            "dataset": batch["dataset"],
            "video_id": batch["video_id"],
            "split": batch["split"],
            "video_path": batch["video_path"],
            "frame_features": np.array(
                [f if f is not None else np.zeros(0, np.float32) for f in feats], dtype=object
            ),
            "pool_time_sec": np.array([t if t is not None else np.zeros(0) for t in times], dtype=object),
            "image_size": sizes,
            "num_frames": nframes,
            "has_first_last": has_fl,
            "reason": np.array(reasons, dtype=object),
        }


# ----------------------------------------------------------------------------------------------
# the pass


@dataclass
class ImageCacheSummary:
    dataset: str
    directory: str
    rows_in: int
    rows_written: int
    rows_quarantined: int
    computed: int
    elapsed_sec: float
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rows_in == self.rows_written + self.rows_quarantined

    def line(self) -> str:
        return (
            f"image features {'OK' if self.ok else 'INCOMPLETE'} [{self.dataset}]: rows in {self.rows_in} = "
            f"written {self.rows_written} + quarantined {self.rows_quarantined}; computed {self.computed} "
            f"this run in {self.elapsed_sec:.1f} s -> {self.directory}"
        )


def _feature_table(rows: list[dict[str, Any]], cfg: ImageCacheConfig) -> pa.Table:
    n = len(rows)
    name = cfg.folder_name()
    return pa.table(
        {
            "dataset": [str(r["dataset"]) for r in rows],
            "clip_id": [str(r["clip_id"]) for r in rows],
            "video_id": [str(r["video_id"]) for r in rows],
            "split": [str(r["split"]) for r in rows],
            "model_name": [name] * n,
            "weights": [cfg.weights] * n,
            "image_size": pa.array([int(r["image_size"]) for r in rows], pa.int32()),
            "num_frames": pa.array([int(r["num_frames"]) for r in rows], pa.int32()),
            "has_first_last": pa.array([bool(r["has_first_last"]) for r in rows]),
            "num_pool": pa.array([len(r["pool_time_sec"]) for r in rows], pa.int32()),
            "feature_dim": pa.array([FEATURE_DIM] * n, pa.int32()),
            "frame_features": pa.array([np.asarray(r["frame_features"], np.float32) for r in rows],
                                       pa.list_(pa.float32())),
            "frame_time_sec": pa.array([np.asarray(r["pool_time_sec"], np.float64) for r in rows],
                                       pa.list_(pa.float64())),
        }
    )  # fmt: skip


def _quarantine_table(rows: list[dict[str, Any]]) -> pa.Table:
    q = Quarantine()
    for r in rows:
        reason, _, detail = str(r["reason"]).partition(": ")
        q.add(
            QuarantineEntry(
                stage=STAGE,
                dataset=str(r["dataset"]),
                source_file=str(r["video_path"]),
                reason=reason,
                detail=detail,
                item_id=str(r["clip_id"]),
            )
        )
    return q.to_table()


def _flush(rows: list[dict[str, Any]], directory: str, fp: str, cfg: ImageCacheConfig) -> None:
    good = [r for r in rows if not r["reason"]]
    bad = [r for r in rows if r["reason"]]
    part = store.part_id(fp, [str(r["clip_id"]) for r in rows])
    desc = f"resnet18 {cfg.weights}"
    if good:
        table = conform(_feature_table(good, cfg), CONTRACT)
        meta = dict(table.schema.metadata or {})
        meta[store.FINGERPRINT_KEY] = fp.encode()
        from egodistill import storage

        storage.atomic_write_table(
            table.replace_schema_metadata(meta),
            store.join(directory, f"part-{part}.parquet"),
            compression="zstd",
        )
    if bad:
        store.write_quarantine(_quarantine_table(bad), store.join(directory, store.QUARANTINE_DIR,
                                                                  f"part-{part}.parquet"), fp, desc)  # fmt: skip


def _actor_resources(cfg: ImageCacheConfig) -> tuple[int, float]:
    import ray

    gpus = float(ray.cluster_resources().get("GPU", 0.0))
    per = 1.0 if gpus else 0.0
    return cfg.actors or (max(1, int(gpus)) if gpus else 1), per


def run_image_cache(cfg: ImageCacheConfig) -> list[ImageCacheSummary]:
    """Compute the missing image features of every dataset of the clips root (Ray must be initialised)."""
    import ray

    from egodistill.ingest.store import clip_files, read_clips

    clips_root = cfg.require()
    fp = run_fingerprint(cfg)
    names = sorted(set(read_clips(clips_root, columns=["dataset"]).column("dataset").to_pylist()))
    if cfg.dataset is not None:
        if cfg.dataset not in names:
            raise ValueError(f"{clips_root}: no rows of dataset {cfg.dataset!r} (found {names})")
        names = [cfg.dataset]
    out: list[ImageCacheSummary] = []
    actors, gpus = _actor_resources(cfg)
    for dataset in names:
        t0 = time.perf_counter()
        directory = store.model_dir(cfg.out_root(), dataset, cfg.folder_name())
        state = store.scan(directory, fp)
        ids = read_clips(clips_root, dataset=dataset, columns=["clip_id"]).column("clip_id").to_pylist()
        pending = [c for c in ids if not state.done(c)]
        computed = 0
        if pending:
            fs, files = clip_files(clips_root, dataset)
            ds = ray.data.read_parquet(files, filesystem=fs, partitioning=None).select_columns(_READ_COLUMNS)
            if len(pending) < len(ids):
                todo = set(pending)
                ds = ds.filter(lambda r, todo=todo: r["clip_id"] in todo)
            ds = ds.map_batches(
                ImageFeaturizer,
                fn_constructor_kwargs={
                    "weights": effective_weights(cfg),
                    "size": cfg.image_size,
                    "threads": max(1, int(cfg.num_cpus_per_actor)),
                    "allow_download": cfg.allow_download,
                },
                batch_size=cfg.batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=cfg.num_cpus_per_actor,
                num_gpus=gpus or None,
            )
            buffer: list[dict[str, Any]] = []
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for j in range(len(batch["clip_id"])):
                    buffer.append({k: batch[k][j] for k in batch})
                if len(buffer) >= cfg.rows_per_file:
                    _flush(buffer, directory, fp, cfg)
                    computed += len(buffer)
                    buffer = []
            if buffer:
                _flush(buffer, directory, fp, cfg)
                computed += len(buffer)
        final = store.scan(directory, fp)
        idset = set(ids)
        reasons = Counter(r for c, r in final.quarantined.items() if c in idset and c not in final.written)
        summary = ImageCacheSummary(
            dataset=dataset,
            directory=directory,
            rows_in=len(idset),
            rows_written=len(idset & final.written),
            rows_quarantined=sum(reasons.values()),
            computed=computed,
            elapsed_sec=time.perf_counter() - t0,
            reasons=dict(reasons),
        )
        log.info(summary.line())
        out.append(summary)
    return out


def read_image_features(
    root: str, dataset: str, model_name: str, columns: list[str] | None = None
) -> pa.Table:
    """All image-feature rows of one sidecar folder (every file validated against the contract)."""
    directory = store.model_dir(root, dataset, model_name)
    fs, files = store._list_parquet(directory, "")
    if not files:
        raise FileNotFoundError(
            f"no image feature files under {directory} (run the image-feature cache pass on the clips first)"
        )
    ds = pads.dataset(files, filesystem=fs, format="parquet")
    for fragment in ds.get_fragments():
        validate(fragment.physical_schema, CONTRACT)
    return ds.to_table(columns=columns)


__all__ = [
    "CONTRACT",
    "ImageCacheConfig",
    "ImageCacheSummary",
    "ImageFeaturizer",
    "decode_pool",
    "default_model_name",
    "effective_weights",
    "read_image_features",
    "run_fingerprint",
    "run_image_cache",
    "to_input",
]
