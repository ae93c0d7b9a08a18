"""The clip manifest: build it from a dataset root, write/read it, and define evaluation clips.

``build_manifest`` runs a reader (ego4d.py / epic.py), then the checks both datasets share: video
file present, IMU parsed once per video, model window coverage, duplicate ids, class size, split,
contiguous labels. Every annotation row ends up either in the manifest or in the quarantine
(rows in = rows kept + rows quarantined).

Why this module is long: the manifest's checks, splits, labels and dense windows are one contract with one writer.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
from pydantic import Field

from egodistill.config import StrictConfig, dump_config
from egodistill.datasets.common import FILTER_REASONS, AnnotationError, Candidate
from egodistill.datasets.config import IndexConfig
from egodistill.datasets.ego4d import read_ego4d
from egodistill.datasets.epic import read_epic
from egodistill.datasets.imu import ImuFileError, ImuWindowConfig, extract_window, load_imu_stream
from egodistill.quarantine import Quarantine
from egodistill.storage import atomic_write_table, read_table
from egodistill.tables import conform, load_contract, validate

log = logging.getLogger(__name__)

CONTRACT = "manifest"
CONFIG_KEY = b"egodistill.index_config"


class IndexResult(NamedTuple):
    manifest: pa.Table
    quarantine: Quarantine
    rows_in: int
    """Annotation rows (EPIC CSV rows, Ego4D narrated actions) read."""
    imu_rows_dropped: Counter[str]
    """IMU file rows dropped while cleaning, by reason, over all loaded files."""


# ----------------------------------------------------------------------------------------------
# windows


def model_window(
    start_sec: float, end_sec: float, video_duration_sec: float | None, cfg: IndexConfig | None = None
) -> tuple[float, float]:
    """(window_start, window_end): segment centre +- half the IMU window, kept inside the video."""
    imu = cfg.imu if cfg else ImuWindowConfig()
    clamp = cfg.clamp_window_to_video if cfg else True
    width = imu.window_sec
    ws = 0.5 * (start_sec + end_sec) - 0.5 * width
    if clamp:
        ws = _clamp(ws, width, video_duration_sec)
    return ws, ws + width


def _clamp(ws: float, width: float, duration: float | None) -> float:
    """Keep [ws, ws + width] inside [0, duration]; a video shorter than the window keeps it centred."""
    if duration is None:
        return max(ws, 0.0)
    if duration < width:
        return ws
    return min(max(ws, 0.0), duration - width)


class DenseClipConfig(StrictConfig):
    """Evaluation clips densely covering a segment (seed 000 §4: average predictions over them)."""

    stride_sec: float | None = Field(None, gt=0)
    """Distance between window starts; None: half the window (50 % overlap)."""
    max_clips: int | None = Field(None, ge=1)
    """Cap per segment; the capped clips stay evenly spread over the segment."""


def dense_clips(rows: Mapping[str, Any] | pa.Table, cfg: DenseClipConfig | None = None) -> pa.Table:
    """Evaluation windows for each manifest row: (clip_id, dense_index, num_dense, window_start_sec,
    window_end_sec).

    A segment no longer than the window gets one window, the manifest's own; a longer one gets
    windows whose starts run evenly from the segment start to (segment end - window), at most
    stride_sec apart, so the first starts and the last ends with the segment. Windows keep inside
    [0, video_duration_sec] like the manifest window, and have its width (window_end - window_start).
    """
    cfg = cfg or DenseClipConfig()
    table_rows = rows.to_pylist() if isinstance(rows, pa.Table) else [rows]
    out: dict[str, list[Any]] = defaultdict(list)
    for r in table_rows:
        width = float(r["window_end_sec"]) - float(r["window_start_sec"])
        stride = cfg.stride_sec or width / 2
        start, end = float(r["start_sec"]), float(r["end_sec"])
        duration = r.get("video_duration_sec")
        if end - start <= width:
            starts = np.array([float(r["window_start_sec"])])
        else:
            n = int(np.ceil((end - start - width) / stride - 1e-9)) + 1
            if cfg.max_clips:
                n = min(n, cfg.max_clips)
            starts = (
                np.linspace(start, end - width, n)
                if n > 1
                else np.array([start + 0.5 * (end - start - width)])
            )
            starts = np.array([_clamp(s, width, duration) for s in starts])
        for k, s in enumerate(starts):
            out["clip_id"].append(r["clip_id"])
            out["dense_index"].append(k)
            out["num_dense"].append(len(starts))
            out["window_start_sec"].append(float(s))
            out["window_end_sec"].append(float(s) + width)
    schema = pa.schema(
        [
            ("clip_id", pa.string()),
            ("dense_index", pa.int32()),
            ("num_dense", pa.int32()),
            ("window_start_sec", pa.float64()),
            ("window_end_sec", pa.float64()),
        ]
    )
    return pa.Table.from_pydict({f.name: out[f.name] for f in schema}, schema=schema)


# ----------------------------------------------------------------------------------------------
# building


def _read(cfg: IndexConfig) -> tuple[list[Candidate], Quarantine, int]:
    root = Path(cfg.root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: dataset root is not a directory")
    if cfg.dataset == "ego4d":
        cands, bad, rows_in = read_ego4d(root, cfg.ego4d, cfg.clip_tolerance_sec)
    else:
        cands, bad, rows_in = read_epic(root, cfg.epic, cfg.clip_tolerance_sec)
    quarantine = Quarantine()
    quarantine.extend(bad)
    seen: set[str] = set()
    unique = []
    for c in cands:
        if c.clip_id in seen:
            quarantine.add(c.quarantine("duplicate_id", f"clip id {c.clip_id} appeared earlier"))
            continue
        seen.add(c.clip_id)
        unique.append(c)
    return unique, quarantine, rows_in


def _check_media(
    cands: list[Candidate], cfg: IndexConfig, quarantine: Quarantine, imu_dropped: Counter[str]
) -> list[tuple[Candidate, dict[str, Any]]]:
    """Video present and non-empty, IMU loadable, window coverage; one IMU parse per video."""
    by_video: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by_video[c.video_id].append(c)
    kept = []
    for video_id, clips in by_video.items():
        first = clips[0]
        video = Path(first.video_path)
        problem = None
        if not video.is_file():
            problem = ("video_missing", f"video file {video} not found")
        elif video.stat().st_size == 0:
            problem = ("video_empty", f"video file {video} is empty")
        else:
            try:
                stream = load_imu_stream(first.dataset, first.imu_paths, first.video_duration_sec, cfg.imu)
            except ImuFileError as e:
                problem = (e.reason, str(e))
            else:
                imu_dropped.update(stream.dropped)
        if problem:
            quarantine.extend(c.quarantine(*problem) for c in clips)
            continue
        for c in clips:
            ws, we = model_window(c.start_sec, c.end_sec, c.video_duration_sec, cfg)
            win = extract_window(stream, ws, cfg.imu)
            if win.coverage < cfg.imu.min_coverage:
                detail = (
                    f"IMU covers {win.coverage:.2f} of window {ws:.3f}-{we:.3f} s (< {cfg.imu.min_coverage}); "
                    f"max gap {win.max_gap_ms:.1f} ms; stream {stream.t_ms[0] / 1000:.3f}-{stream.t_ms[-1] / 1000:.3f} s"
                )
                quarantine.add(c.quarantine("imu_low_coverage", detail))
                continue
            kept.append(
                (
                    c,
                    {
                        "window_start_sec": ws,
                        "window_end_sec": we,
                        "imu_rate_hz": stream.rate_hz,
                        "imu_coverage": win.coverage,
                        "imu_max_gap_ms": win.max_gap_ms,
                        "imu_clipped": win.clipped,
                        "imu_units": list(stream.units),
                    },
                )
            )
        log.debug("indexed %s: %d clips", video_id, len(clips))
    return kept


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _n_val(n: int, fraction: float) -> int:
    """Validation count for n items: rounded fraction, keeping both sides non-empty when n >= 2."""
    k = int(round(fraction * n))
    return min(max(k, 1), n - 1) if n >= 2 and 0 < fraction < 1 else k


def _random_subset(keys: Sequence[str], fraction: float, seed: int, salt: str) -> set[str]:
    keys = sorted(set(keys))
    order = _rng(seed, salt).permutation(len(keys))
    return {keys[i] for i in order[: _n_val(len(keys), fraction)]}


def _assign_splits(
    kept: list[tuple[Candidate, dict[str, Any]]], cfg: IndexConfig, quarantine: Quarantine
) -> list[tuple[Candidate, dict[str, Any]]]:
    rule, sp = cfg.split_rule, cfg.split
    out = []
    if rule == "per_class_random":
        by_class: dict[int, list[tuple[Candidate, dict[str, Any]]]] = defaultdict(list)
        for item in kept:
            by_class[item[0].verb_class].append(item)
        for verb_class, items in by_class.items():
            val = _random_subset(
                [c.clip_id for c, _ in items], sp.val_fraction, cfg.seed, f"class:{verb_class}"
            )
            for c, extra in items:
                out.append((c, {**extra, "split": "val" if c.clip_id in val else "train"}))
        return out
    if rule == "by_video":
        val = _random_subset([c.video_id for c, _ in kept], sp.val_fraction, cfg.seed, "videos")
    elif rule == "random_participants":
        val = _random_subset(
            [str(c.participant_id) for c, _ in kept], sp.val_fraction, cfg.seed, "participants"
        )
    for c, extra in kept:
        if rule == "by_video":
            split = "val" if c.video_id in val else "train"
        elif rule == "random_participants":
            split = "val" if c.participant_id in val else "train"
        elif rule == "participants":
            split = "val" if c.participant_id in sp.val_participants else "train"
        elif rule == "source_file":
            split = sp.source_splits.get(str(c.split_hint), "train")
        else:  # split_fho
            split = c.split_hint if c.split_hint in ("train", "val", "test") else None
        if split is None:
            quarantine.add(c.quarantine("no_split", f"split_fho={c.split_hint!r} is not train/val/test"))
            continue
        out.append((c, {**extra, "split": split}))
    return out


def _drop_rare(
    kept: list[tuple[Candidate, dict[str, Any]]], cfg: IndexConfig, quarantine: Quarantine
) -> list[tuple[Candidate, dict[str, Any]]]:
    counts = Counter(c.verb_class for c, _ in kept)
    out = []
    for c, extra in kept:
        if counts[c.verb_class] < cfg.min_class_instances:
            detail = f"class {c.verb!r} has {counts[c.verb_class]} usable clips (< {cfg.min_class_instances})"
            quarantine.add(c.quarantine("rare_class", detail))
        else:
            out.append((c, extra))
    return out


def build_manifest(cfg: IndexConfig) -> IndexResult:
    """Index a dataset root: the manifest table (contract ``manifest``) and its quarantine.

    Raises AnnotationError (a ValueError naming the file and what was expected) for structural
    problems; everything row-level is quarantined with a reason.
    """
    cands, quarantine, rows_in = _read(cfg)
    imu_dropped: Counter[str] = Counter()
    kept = _check_media(cands, cfg, quarantine, imu_dropped)
    if cfg.split_rule == "per_class_random":
        kept = _assign_splits(_drop_rare(kept, cfg, quarantine), cfg, quarantine)
    else:  # clips the rule cannot place must not count towards class sizes
        kept = _drop_rare(_assign_splits(kept, cfg, quarantine), cfg, quarantine)
    labels = {vc: i for i, vc in enumerate(sorted({c.verb_class for c, _ in kept}))}
    rows = [
        {
            "dataset": c.dataset,
            "clip_id": c.clip_id,
            "video_id": c.video_id,
            "participant_id": c.participant_id,
            "start_sec": c.start_sec,
            "end_sec": c.end_sec,
            "verb": c.verb,
            "verb_class": c.verb_class,
            "label": labels[c.verb_class],
            "video_path": c.video_path,
            "imu_paths": list(c.imu_paths),
            "fps": c.fps,
            "video_duration_sec": c.video_duration_sec,
            "source_file": c.source_file,
            "source_row": c.source_row,
            **extra,
        }
        for c, extra in sorted(kept, key=lambda item: (item[0].source_file, item[0].source_row))
    ]
    table = conform(pa.Table.from_pylist(rows, schema=load_contract(CONTRACT).schema), CONTRACT)
    if table.num_rows + len(quarantine) != rows_in:  # the accounting every job promises
        raise RuntimeError(
            f"index lost rows: {rows_in} read != {table.num_rows} kept + {len(quarantine)} quarantined"
        )
    return IndexResult(table, quarantine, rows_in, imu_dropped)


# ----------------------------------------------------------------------------------------------
# files


def quarantine_path(manifest_path: str) -> str:
    """``x.parquet`` -> ``x.quarantine.parquet`` (the quarantine table lives next to the manifest)."""
    text = str(manifest_path)
    stem = text[: -len(".parquet")] if text.endswith(".parquet") else text
    return stem + ".quarantine.parquet"


def write_manifest(table: pa.Table, path: str, config: StrictConfig | None = None) -> None:
    """Conform to the contract and write atomically; the index config rides in the metadata."""
    table = conform(table, CONTRACT)
    if config is not None:
        meta = dict(table.schema.metadata or {})
        # where the run was tracked is not part of how the clips were indexed
        meta[CONFIG_KEY] = dump_config(config, exclude={"workspace", "tracking"}).encode()
        table = table.replace_schema_metadata(meta)
    atomic_write_table(table, path)


def read_manifest(path: str) -> pa.Table:
    """Read a manifest and check it against the contract (SchemaError on mismatch)."""
    table = read_table(path)
    validate(table, CONTRACT)
    return table


def summarize(result: IndexResult) -> str:
    """Human summary: clips per class and split, IMU coverage, quarantine counts by reason."""
    m = result.manifest
    lines = [f"rows read: {result.rows_in}; clips kept: {m.num_rows}; quarantined: {len(result.quarantine)}"]
    if m.num_rows:
        splits = sorted(set(m.column("split").to_pylist()))
        per: Counter[tuple[int, str]] = Counter(
            zip(m.column("label").to_pylist(), m.column("split").to_pylist(), strict=True)
        )
        names = dict(zip(m.column("label").to_pylist(), m.column("verb").to_pylist(), strict=True))
        lines.append(f"clips per class and split ({len(names)} classes):")
        lines.append("  label  verb" + " " * 20 + "".join(f"{s:>8}" for s in splits))
        for label in sorted(names):
            lines.append(
                f"  {label:5d}  {names[label][:24]:24}" + "".join(f"{per[label, s]:8d}" for s in splits)
            )
        lines.append("  total" + " " * 26 + "".join(f"{sum(per[k, s] for k in names):8d}" for s in splits))
        if "val" not in splits:
            lines.append(
                "warning: no clip is in split 'val'; check split.rule (EPIC: split.val_participants)"
            )
        cov = np.asarray(m.column("imu_coverage").to_pylist(), dtype=float)
        gap = np.asarray(m.column("imu_max_gap_ms").to_pylist(), dtype=float)
        rate = np.asarray(m.column("imu_rate_hz").to_pylist(), dtype=float)
        lines.append(
            f"IMU coverage of kept windows: mean {cov.mean():.3f}, min {cov.min():.3f}, "
            f"full {np.mean(cov >= 1.0):.1%}; max gap median {np.median(gap):.1f} ms, max {gap.max():.1f} ms; "
            f"source rate {np.min(rate):.1f}-{np.max(rate):.1f} Hz"
        )
    if result.imu_rows_dropped:
        lines.append(
            "IMU rows dropped while cleaning: "
            + ", ".join(f"{k}={v}" for k, v in sorted(result.imu_rows_dropped.items()))
        )
    counts = result.quarantine.counts()
    if counts:
        lines.append("quarantined by reason:")
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            kind = "rule" if reason in FILTER_REASONS else "defect"
            lines.append(f"  {reason:28} {n:8d}  ({kind})")
    return "\n".join(lines)


__all__ = [
    "DenseClipConfig",
    "IndexResult",
    "build_manifest",
    "dense_clips",
    "model_window",
    "quarantine_path",
    "read_manifest",
    "summarize",
    "write_manifest",
]
