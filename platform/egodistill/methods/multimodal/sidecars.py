"""The modality sidecars: flow, audio log-mel and object layout of every ingested clip, keyed by ``clip_id``.

Plan -> Ray Data tasks -> atomic writes -> quarantine -> reconcile, like ingest and features: one task
per clips file (train/val clips and the dense evaluation clips alike) reads the rows' stored frames
and times, computes every modality (:mod:`.modalities`) and writes one file per modality,
``<root>/<source>/<modality>/part-<clips file stem>.parquet``, plus the rows it could not use
(``_quarantine/``, with a reason code: no audio track, no boxes file, too few frames...). The folder
of each source is held under a lease (one writer); a file whose fingerprint matches is reused, so a
re-run only computes what is missing; per modality rows in = written + quarantined.
RGB and IMU need no sidecar: their teachers read the clips table itself.

Sidecar table (one per modality): ``clip_id, video_id, split, label, segment_id`` and ``value``
(list<float16>, the modality's array flattened) with ``shape`` (list<int32>).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from egodistill.methods.multimodal.modalities import (
    ModalityError,
    boxes_file,
    layout_features,
    log_mel,
    optical_flow,
    read_audio,
)

log = logging.getLogger(__name__)

SIDECAR_MODALITIES = ("flow", "audio", "layout")
FINGERPRINT_KEY = b"egodistill.sidecar_fingerprint"
ROWS_KEY = b"egodistill.rows"
SCHEMA = pa.schema([("clip_id", pa.string()), ("video_id", pa.string()), ("split", pa.string()),
                    ("label", pa.int32()), ("segment_id", pa.string()), ("value", pa.list_(pa.float16())),
                    ("shape", pa.list_(pa.int32()))])  # fmt: skip
QUARANTINE_SCHEMA = pa.schema([("clip_id", pa.string()), ("modality", pa.string()), ("reason", pa.string()),
                               ("detail", pa.string()), ("source_file", pa.string())])  # fmt: skip
READ_COLUMNS = ["clip_id", "video_id", "split", "label", "frames", "frame_time_sec", "sample_start_sec",
                "sample_end_sec", "video_fps", "video_path", "source_width", "source_height"]  # fmt: skip


@dataclass
class SidecarSpec:
    """What one run computes (everything that shapes the values is in the fingerprint)."""

    flow_method: str = "dis"
    audio_time_bins: int = 32
    vocabulary: list[str] = field(default_factory=list)  # object classes of the layout, fixed per dataset

    def fingerprint(self) -> str:
        content = {
            "flow": self.flow_method,
            "audio_bins": self.audio_time_bins,
            "vocab": self.vocabulary,
            "v": 1,
        }
        return hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]


def part_name(clips_file: str) -> str:
    """``part-<split folder>-<clips file stem>.parquet``: one video's clips files share a stem across splits."""
    p = Path(clips_file)
    return f"part-{p.parent.name.replace('=', '_')}-{p.stem}.parquet"


def out_file(root: str, source: str, modality: str, clips_file: str) -> Path:
    return Path(root) / source / modality / part_name(clips_file)


def quarantine_path(root: str, source: str, clips_file: str) -> Path:
    return Path(root) / source / "_quarantine" / part_name(clips_file)


def _done(path: Path, fp: str) -> bool:
    if not path.is_file():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
        rows = pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowInvalid):
        return False
    return meta.get(FINGERPRINT_KEY) == fp.encode() and int(meta.get(ROWS_KEY, b"-1")) == rows


def _write(table: pa.Table, path: Path, fp: str) -> None:
    from egodistill.storage import atomic_write_table

    meta = {FINGERPRINT_KEY: fp.encode(), ROWS_KEY: str(table.num_rows).encode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_table(table.replace_schema_metadata(meta), str(path), compression="zstd")


def clip_modalities(row: dict[str, Any], spec: SidecarSpec, boxes_cache: dict[str, Any]) -> dict[str, Any]:
    """Every sidecar modality of one clip row: modality -> array or :class:`ModalityError`."""
    from egodistill.ingest.frames import decode_jpeg

    out: dict[str, Any] = {}
    times = np.asarray(row["frame_time_sec"], np.float64)
    order = np.argsort(times, kind="stable")
    try:
        frames = np.stack([decode_jpeg(bytes(row["frames"][i])) for i in order])
        out["flow"] = optical_flow(frames, spec.flow_method)
    except ModalityError as e:
        out["flow"] = e
    except (ValueError, OSError) as e:
        out["flow"] = ModalityError("frame_decode_failed", str(e))
    try:
        samples = read_audio(row["video_path"], float(row["sample_start_sec"]), float(row["sample_end_sec"]))
        out["audio"] = log_mel(samples, time_bins=spec.audio_time_bins)
    except ModalityError as e:
        out["audio"] = e
    path = boxes_file(row["video_path"], row["video_id"]) if row.get("video_path") else None
    if path is None:
        out["layout"] = ModalityError(
            "no_boxes", f"no synthetic_boxes/{row['video_id']}.parquet above {row.get('video_path')}"
        )
    else:
        if str(path) not in boxes_cache:
            boxes_cache.clear()  # one video at a time: a clips file holds one video
            boxes_cache[str(path)] = pq.read_table(path)
        fi = np.rint(times[order] * float(row["video_fps"])).astype(np.int64)
        out["layout"] = layout_features(boxes_cache[str(path)], fi.tolist(), spec.vocabulary,
                                        float(row["source_width"]), float(row["source_height"]))  # fmt: skip
    return out


def compute_file(task: dict[str, Any]) -> dict[str, Any]:
    """One Ray Data task: a clips file -> one sidecar file per modality + its quarantine (counts back)."""
    from egodistill.evaluation.segments import segment_of

    spec = SidecarSpec(**task["spec"])
    fp, root, source, clips = spec.fingerprint(), task["root"], task["source"], task["clips_file"]
    targets = {m: out_file(root, source, m, clips) for m in SIDECAR_MODALITIES}
    counts = {"clips_file": clips, "source": source}
    if all(_done(p, fp) for p in targets.values()) and _done(quarantine_path(root, source, clips), fp):
        counts.update(
            {f"{m}_written": pq.ParquetFile(targets[m]).metadata.num_rows for m in SIDECAR_MODALITIES}
        )
        q = (
            pq.read_table(quarantine_path(root, source, clips), columns=["modality"])
            .column("modality")
            .to_pylist()
        )
        counts.update({f"{m}_quarantined": q.count(m) for m in SIDECAR_MODALITIES})
        counts.update({"rows_in": int(pq.ParquetFile(clips).metadata.num_rows), "reused": 1})
        return counts
    table = pq.read_table(clips, columns=READ_COLUMNS)
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in SIDECAR_MODALITIES}
    bad: list[dict[str, Any]] = []
    boxes: dict[str, Any] = {}
    for row in table.to_pylist():
        key = {"clip_id": row["clip_id"], "video_id": row["video_id"], "split": row["split"],
               "label": int(row["label"]), "segment_id": segment_of(row["clip_id"])}  # fmt: skip
        for m, value in clip_modalities(row, spec, boxes).items():
            if isinstance(value, ModalityError):
                bad.append({"clip_id": row["clip_id"], "modality": m, "reason": value.reason, "detail": value.detail,
                            "source_file": clips})  # fmt: skip
            elif not np.isfinite(value).all():
                bad.append({"clip_id": row["clip_id"], "modality": m, "reason": "non_finite",
                            "detail": f"{m} has NaN/inf values", "source_file": clips})  # fmt: skip
            else:
                rows[m].append(
                    {**key, "value": value.astype(np.float16).reshape(-1), "shape": list(value.shape)}
                )
    for m in SIDECAR_MODALITIES:
        _write(pa.Table.from_pylist(rows[m], schema=SCHEMA), targets[m], fp)
    _write(pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA), quarantine_path(root, source, clips), fp)
    counts.update({f"{m}_written": len(rows[m]) for m in SIDECAR_MODALITIES})
    counts.update({f"{m}_quarantined": sum(b["modality"] == m for b in bad) for m in SIDECAR_MODALITIES})
    counts.update({"rows_in": table.num_rows, "reused": 0})
    return counts


def vocabulary(clips_files: list[str], limit: int = 16) -> list[str]:
    """The layout's object classes: the most frequent box labels of the dataset's videos (fixed order)."""
    from collections import Counter

    seen: set[str] = set()
    counter: Counter[str] = Counter()
    for f in clips_files:
        t = pq.read_table(f, columns=["video_id", "video_path"]).slice(0, 1).to_pylist()
        if not t or t[0]["video_id"] in seen:
            continue
        seen.add(t[0]["video_id"])
        path = boxes_file(t[0]["video_path"] or "", t[0]["video_id"])
        if path is not None:
            counter.update(pq.read_table(path, columns=["label"]).column("label").to_pylist())
    return sorted(name for name, _ in counter.most_common(limit))


@dataclass
class SidecarSummary:
    sources: dict[str, dict[str, int]]
    vocabulary: list[str]

    def lines(self) -> list[str]:
        out = [f"sidecars (layout classes: {', '.join(self.vocabulary) or 'none'}):"]
        for source, c in self.sources.items():
            parts = [
                f"{m} {c[f'{m}_written']} written + {c[f'{m}_quarantined']} quarantined"
                for m in SIDECAR_MODALITIES
            ]
            out.append(
                f"  {source}: {c['rows_in']} clips in ({c['reused']} files reused); " + "; ".join(parts)
            )
        return out


def run_sidecars(
    root: str, sources: dict[str, list[str]], flow_method: str, audio_time_bins: int
) -> SidecarSummary:
    """Compute the sidecars of every clips file of every source (module docstring); Ray must be up."""
    import ray

    from egodistill.leases import hold_lease

    spec = SidecarSpec(flow_method, audio_time_bins, vocabulary(sources.get("clips", [])))
    result: dict[str, dict[str, int]] = {}
    for source, files in sources.items():
        folder = Path(root) / source
        folder.mkdir(parents=True, exist_ok=True)
        with hold_lease(str(folder), "multimodal-sidecars"):
            tasks = [{"root": root, "source": source, "clips_file": f, "spec": spec.__dict__} for f in files]
            done = ray.data.from_items(tasks, override_num_blocks=max(1, len(tasks))).map(
                compute_file, num_cpus=1
            )
            totals: dict[str, int] = {}
            for r in done.iter_rows():
                for k, v in r.items():
                    if isinstance(v, int | np.integer):
                        totals[k] = totals.get(k, 0) + int(v)
        for m in SIDECAR_MODALITIES:
            if totals.get(f"{m}_written", 0) + totals.get(f"{m}_quarantined", 0) != totals.get("rows_in", 0):
                raise RuntimeError(f"{folder}: {m} rows do not reconcile: in {totals.get('rows_in')} != written "
                                   f"{totals.get(f'{m}_written')} + quarantined {totals.get(f'{m}_quarantined')}")  # fmt: skip
        result[source] = totals
    return SidecarSummary(result, spec.vocabulary)


def sidecar_files(root: str, source: str, modality: str) -> list[str]:
    return sorted(str(p) for p in (Path(root) / source / modality).glob("part-*.parquet"))


__all__ = ["SCHEMA", "SIDECAR_MODALITIES", "SidecarSpec", "SidecarSummary", "clip_modalities", "compute_file",
           "run_sidecars", "sidecar_files", "vocabulary"]  # fmt: skip
