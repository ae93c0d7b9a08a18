"""Retrieval by the student's clip feature (seed paper Figure 6): nearest clips by cosine similarity.

Features come from a ``predict`` output (the ``feature`` column: z_phi of every predicted window) or
from a clips dataset run through a student here (its stored frames, selected with the training rule,
and its stored IMU window). A query is a clip id (``<video>#w<k>`` for predicted windows) or
``VIDEO@SECONDS``; neighbours come from other videos unless ``same_video`` (overlapping windows of
one video are trivially alike). The evaluation mode reports precision@k of a neighbour sharing the
query's verb, next to the chance level of the same gallery, for each feature source given, so
EgoDistill and VisOnly-Distill features can be compared on the same clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egodistill.inference.config import RetrieveConfig


class RetrievalError(ValueError):
    """A query that matches nothing, or a source without features."""


@dataclass
class FeatureSet:
    """L2-normalised features of a gallery of clips, with what is needed to show and score them."""

    name: str
    ids: list[str]
    video_ids: list[str]
    labels: list[str | None]
    spans: np.ndarray  # (M, 2) start, end seconds
    features: np.ndarray  # (M, D) float32, unit norm
    image: Callable[[int], np.ndarray]  # index -> (H, W, 3) uint8 frame for the strip
    source: str

    def __len__(self) -> int:
        return len(self.ids)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def from_predictions(folder: str | Path) -> FeatureSet:
    """The windows of a ``predict`` output folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from egodistill.tables import validate

    files = sorted((Path(folder) / "predictions").glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        raise RetrievalError(
            f"{folder}: no predicted windows (run `egodistill predict --out {folder}` first)"
        )
    for f, t in zip(files, tables, strict=False):
        validate(t, "predictions")
        del f
    t = pa.concat_tables(tables)
    feats = np.array(t.column("feature").to_pylist(), np.float32)
    paths = t.column("video_path").to_pylist()
    times = [ft[len(ft) // 2] for ft in t.column("frame_time_sec").to_pylist()]

    def image(i: int) -> np.ndarray:
        from egodistill.inference.frames import decode_frames
        from egodistill.ingest.frames import FrameTransform

        fb = decode_frames("exact", paths[i], [times[i]], FrameTransform(128, 128))
        if not fb.images:
            return np.zeros((128, 128, 3), np.uint8)
        return next(iter(fb.images.values()))

    models = sorted(set(t.column("model").to_pylist()))
    return FeatureSet(
        name=", ".join(models),
        ids=t.column("clip_id").to_pylist(),
        video_ids=t.column("video_id").to_pylist(),
        labels=t.column("gt_label").to_pylist(),
        spans=np.stack([t.column("window_start_sec").to_numpy(), t.column("window_end_sec").to_numpy()], 1),
        features=_normalise(feats),
        image=image,
        source=str(folder),
    )


def from_clips(
    clips: str,
    student: str | Path,
    dataset: str | None = None,
    split: str | None = None,
    batch_size: int = 64,
) -> FeatureSet:
    """The clips dataset's rows through a student (frames picked by the training's uniform rule)."""
    import torch

    from egodistill.inference.model_io import load_student, model_name
    from egodistill.inference.predictor import prepare_frames
    from egodistill.ingest.frames import decode_jpeg
    from egodistill.ingest.store import read_clips
    from egodistill.student.inputs import select_frames

    cols = ["clip_id", "video_id", "verb", "frames", "frame_time_sec", "sample_start_sec", "sample_end_sec",
            "video_fps", "imu", "imu_num_samples", "imu_num_channels", "window_start_sec", "window_end_sec"]  # fmt: skip
    table = read_clips(clips, dataset, split, columns=cols)
    if table.num_rows == 0:
        raise RetrievalError(f"{clips}: no clip rows (dataset={dataset}, split={split})")
    model, cfg, _ = load_student(student)
    rows = table.to_pylist()
    feats = np.zeros((len(rows), cfg.teacher_feature_dim), np.float32)
    for b0 in range(0, len(rows), batch_size):
        chunk = rows[b0 : b0 + batch_size]
        frames, imus = [], []
        for r in chunk:
            idx = select_frames(np.array(r["frame_time_sec"]), r["sample_start_sec"], r["sample_end_sec"],
                                r["video_fps"], cfg.num_frames, "uniform")  # fmt: skip
            frames.append(np.stack([decode_jpeg(bytes(r["frames"][i])) for i in idx]))
            imus.append(np.asarray(r["imu"], np.float32).reshape(r["imu_num_samples"], r["imu_num_channels"]))
        imu = torch.from_numpy(np.stack(imus)) if model.uses_imu else None
        with torch.inference_mode():
            out = model(frames=prepare_frames(np.stack(frames)), imu=imu)
        feats[b0 : b0 + len(chunk)] = out.fused.float().numpy()

    def image(i: int) -> np.ndarray:
        pool = rows[i]["frames"]
        return decode_jpeg(bytes(pool[len(pool) // 2]))

    return FeatureSet(
        name=model_name(student),
        ids=[r["clip_id"] for r in rows],
        video_ids=[r["video_id"] for r in rows],
        labels=[r["verb"] for r in rows],
        spans=np.array([[r["window_start_sec"], r["window_end_sec"]] for r in rows], np.float64),
        features=_normalise(feats),
        image=image,
        source=f"{clips} through {student}",
    )


def resolve_query(fs: FeatureSet, query: str) -> int:
    """Index of a clip id, or of the item of VIDEO@SECONDS whose span holds (else is nearest) the time."""
    if query in fs.ids:
        return fs.ids.index(query)
    video, sep, when = query.rpartition("@")
    if sep:
        try:
            t = float(when)
        except ValueError as e:
            raise RetrievalError(f"query {query!r}: {when!r} is not a number of seconds") from e
        idx = [i for i, v in enumerate(fs.video_ids) if v == video]
        if not idx:
            raise RetrievalError(f"query {query!r}: no clips of video {video!r} in {fs.source}")
        centres = fs.spans[idx].mean(1)
        return idx[int(np.argmin(np.abs(centres - t)))]
    raise RetrievalError(f"query {query!r} is neither a clip id of {fs.source} nor VIDEO@SECONDS")


def neighbours(fs: FeatureSet, i: int, k: int, same_video: bool = False, labelled_only: bool = False):
    """(indices, cosine similarities) of the k nearest items to item i, best first."""
    sims = fs.features @ fs.features[i]
    allowed = np.ones(len(fs), bool)
    allowed[i] = False
    if not same_video:
        allowed &= np.array([v != fs.video_ids[i] for v in fs.video_ids])
    if labelled_only:
        allowed &= np.array([lab is not None for lab in fs.labels])
    cand = np.flatnonzero(allowed)
    if cand.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    order = cand[np.argsort(-sims[cand], kind="stable")[:k]]
    return order, sims[order]


@dataclass
class PrecisionAtK:
    precision: float
    chance: float
    queries: int
    k: int


def precision_at_k(fs: FeatureSet, k: int, same_video: bool = False) -> PrecisionAtK:
    """Mean fraction of the k neighbours (labelled gallery) sharing the query's verb, and its chance level."""
    labels = np.array([lab if lab is not None else "" for lab in fs.labels], dtype=object)
    labelled = np.flatnonzero(labels != "")
    vids = np.array(fs.video_ids, dtype=object)
    hits, chance = [], []
    for i in labelled:
        idx, _ = neighbours(fs, int(i), k, same_video, labelled_only=True)
        if idx.size == 0:
            continue
        hits.append(float(np.mean(labels[idx] == labels[i])))
        pool = labelled[(labelled != i) & ((vids[labelled] != vids[i]) | same_video)]
        chance.append(float(np.mean(labels[pool] == labels[i])) if pool.size else 0.0)
    if not hits:
        raise RetrievalError(f"{fs.source}: no labelled items with neighbours to evaluate")
    return PrecisionAtK(float(np.mean(hits)), float(np.mean(chance)), len(hits), k)


def strip_png(fs: FeatureSet, query: int, idx: np.ndarray, sims: np.ndarray, path: str | Path) -> Path:
    """The query's frame and its neighbours' side by side, captioned with label and cosine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [(query, None)] + [(int(j), float(s)) for j, s in zip(idx, sims, strict=True)]
    fig, axes = plt.subplots(1, len(items), figsize=(2.2 * len(items), 2.6), squeeze=False)
    for ax, (j, s) in zip(axes[0], items, strict=True):
        ax.imshow(fs.image(j))
        ax.set_axis_off()
        head = "query" if s is None else f"cos {s:.3f}"
        ax.set_title(f"{head}\n{fs.ids[j]}\n{fs.labels[j] or '-'}", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def _sources(cfg: RetrieveConfig) -> list[FeatureSet]:
    out = [from_predictions(p) for p in cfg.predictions]
    if cfg.clips:
        if not cfg.students:
            raise RetrievalError("--clips needs at least one --student to compute features with")
        out += [from_clips(cfg.clips, s, cfg.dataset, cfg.split, cfg.batch_size) for s in cfg.students]
    return out


def run_retrieve(cfg: RetrieveConfig) -> list[str]:
    """The lines ``egodistill retrieve`` prints (and the strips it writes)."""
    lines: list[str] = []
    for n, fs in enumerate(_sources(cfg)):
        lines.append(f"[{fs.name}] {len(fs)} clips from {fs.source}")
        if cfg.query is not None:
            q = resolve_query(fs, cfg.query)
            idx, sims = neighbours(fs, q, cfg.k, cfg.same_video)
            s, e = fs.spans[q]
            lines.append(
                f"  query {fs.ids[q]} ({fs.video_ids[q]} {s:.2f}-{e:.2f} s, verb {fs.labels[q] or '-'})"
            )
            for rank, (j, sim) in enumerate(zip(idx, sims, strict=True), 1):
                s, e = fs.spans[j]
                lines.append(
                    f"  {rank:2d}. cos {sim:.3f}  {fs.ids[j]} ({fs.video_ids[j]} {s:.2f}-{e:.2f} s, "
                    f"verb {fs.labels[j] or '-'})"
                )
            base = (
                Path(cfg.out)
                if cfg.out
                else Path(cfg.predictions[0] if cfg.predictions else ".") / "retrieval"
            )
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in fs.ids[q])
            path = strip_png(fs, q, idx, sims, base / f"{safe}-{n}.png")
            lines.append(f"  strip: {path}")
        if cfg.evaluate:
            p = precision_at_k(fs, cfg.k, cfg.same_video)
            lines.append(
                f"  precision@{p.k} (neighbour shares the verb): {p.precision:.3f} over {p.queries} queries "
                f"(chance {p.chance:.3f}; neighbours from {'any' if cfg.same_video else 'other'} videos)"
            )
    return lines
