"""Join clips, image features and any number of teacher tables by ``clip_id`` on the cluster, once.

A student step needs per clip: the label, the IMU window, the cached f_I features of the frame pool
(or the JPEG pool when f_I trains), and each teacher's feature and logits. Those live in separate
Parquet tables keyed by ``clip_id``. :func:`join_inputs` joins them with Ray Data's hash join
(``left_outer`` from the clips, so no clip disappears), materialises the result in the object store
(never on the driver), and writes it once under ``<student_inputs>/<dataset>/<pool>/<source>/``:

* ``part-*.parquet``: one row per clip with every input (teacher columns null where a teacher has
  no row for the clip: a label-only student can still use it);
* ``_quarantine/``: clips without their image features (no student can use them), with the reason;
* ``_summary.json``: fingerprint, row counts (rows in = written + quarantined), missing counts per
  input with example ids, classes, frame pool geometry, teacher dimensions, evaluation segment ids.

Only per-block statistics (a few numbers and at most 20 example ids per block) and the distinct
segment ids of the evaluation split reach the driver.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from egodistill.evaluation.segments import segment_of
from egodistill.leases import hold_lease

SUMMARY_FILE = "_summary.json"
QUARANTINE_DIR = "_quarantine"
TEACHER_FEATURE = "teacher_feature__"
TEACHER_LOGITS = "teacher_logits__"
EXAMPLES = 20

CLIP_COLUMNS = ["dataset", "clip_id", "video_id", "split", "label", "verb", "imu", "imu_num_samples",
                "imu_num_channels", "sample_start_sec", "sample_end_sec", "video_fps"]  # fmt: skip
FRAME_COLUMNS = ["frames", "frame_time_sec", "first_frame", "first_frame_time_sec", "last_frame",
                 "last_frame_time_sec"]  # fmt: skip
IMAGE_COLUMNS = ["clip_id", "num_pool", "has_first_last", "frame_features", "frame_time_sec"]


@dataclass
class JoinSpec:
    """What to join: the clips files, the image-feature files (or frames), the teacher tables."""

    dataset: str
    source: str  # "clips" or "clips_dense"
    clip_files: list[str]
    image_files: list[str] | None  # None: keep the JPEG pool (f_I trains)
    teachers: dict[str, list[str]] = field(default_factory=dict)  # name -> feature files
    image_weights: str | None = None
    out: str = ""

    def fingerprint(self) -> str:
        """What the joined table depends on: every input file (path, size, mtime) and the options."""

        def stamp(paths: list[str]) -> list[tuple[str, int, int]]:
            return [(p, os.stat(p).st_size, int(os.stat(p).st_mtime)) for p in sorted(paths)]

        content = {"clips": stamp(self.clip_files), "image": stamp(self.image_files or []),
                   "frames": self.image_files is None, "image_weights": self.image_weights,
                   "teachers": {k: stamp(v) for k, v in sorted(self.teachers.items())}, "version": 1}  # fmt: skip
        return hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def read_summary(directory: str | Path) -> dict[str, Any] | None:
    path = Path(directory) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _with_segment(batch: pa.Table) -> pa.Table:
    ids = batch.column("clip_id").to_pylist()
    return batch.append_column("segment_id", pa.array([segment_of(c) for c in ids], pa.string()))


def _block_stats(teachers: list[str], has_image: bool, eval_split: str):
    def stats(batch: pa.Table) -> pa.Table:
        ids = np.asarray(batch.column("clip_id").to_pylist(), dtype=object)
        out: dict[str, Any] = {"rows": len(ids)}
        missing: dict[str, list[str]] = {}
        if has_image:
            miss = batch.column("num_pool").is_null().to_numpy(zero_copy_only=False)
            missing["image_features"] = [str(x) for x in ids[miss]]
            good = ~miss
            pools = pc.unique(batch.filter(pa.array(good)).column("num_pool")).to_pylist()
            fl = pc.unique(batch.filter(pa.array(good)).column("has_first_last")).to_pylist()
            out.update({"num_pool": pools, "has_first_last": fl})
        for t in teachers:
            col = batch.column(TEACHER_FEATURE + t)
            miss = col.is_null().to_numpy(zero_copy_only=False)
            missing[f"teacher_features:{t}"] = [str(x) for x in ids[miss]]
            ok = col.filter(pc.invert(col.is_null()))
            out.setdefault("teacher_dims", {})[t] = [len(ok[0]) if len(ok) else None,
                                                     len(batch.column(TEACHER_LOGITS + t).drop_null()[0]) if len(ok) else None]  # fmt: skip
        out["missing"] = {k: {"count": len(v), "examples": v[:EXAMPLES]} for k, v in missing.items()}
        pairs = {
            (int(a), str(b))
            for a, b in zip(batch.column("label").to_pylist(), batch.column("verb").to_pylist(), strict=True)
        }
        out["classes"] = sorted(pairs)
        splits = batch.column("split").to_pylist()
        out["splits"] = {s: splits.count(s) for s in set(splits)}
        segs = batch.filter(pc.equal(batch.column("split"), eval_split)).column("segment_id")
        out["segments"] = sorted(set(segs.to_pylist()))
        return pa.table({"stats": [json.dumps(out)]})

    return stats


def _merge(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"rows": 0, "missing": {}, "classes": {}, "splits": {}, "segments": set(),
                             "num_pool": set(), "has_first_last": set(), "teacher_dims": {}}  # fmt: skip
    for b in blocks:
        total["rows"] += b["rows"]
        for k, v in b["missing"].items():
            m = total["missing"].setdefault(k, {"count": 0, "examples": []})
            m["count"] += v["count"]
            m["examples"] = (m["examples"] + v["examples"])[:EXAMPLES]
        for label, verb in b["classes"]:
            total["classes"][int(label)] = verb
        for s, n in b["splits"].items():
            total["splits"][s] = total["splits"].get(s, 0) + n
        total["segments"].update(b["segments"])
        total["num_pool"].update(b.get("num_pool", []))
        total["has_first_last"].update(b.get("has_first_last", []))
        for t, dims in b.get("teacher_dims", {}).items():
            if dims[0] is not None:
                total["teacher_dims"][t] = dims
    return total


def _rename_teacher(name: str):
    def rename(batch: pa.Table) -> pa.Table:
        return pa.table({"clip_id": batch.column("clip_id"),
                         TEACHER_FEATURE + name: batch.column("teacher_feature"),
                         TEACHER_LOGITS + name: batch.column("teacher_logits")})  # fmt: skip

    return rename


def join_inputs(spec: JoinSpec, eval_split: str = "val", num_partitions: int | None = None) -> dict[str, Any]:
    """Join and write (see the module docstring); returns the summary. Reuses a complete output."""
    fp = spec.fingerprint()
    existing = read_summary(spec.out)
    if existing is not None and existing.get("fingerprint") == fp:
        return existing
    Path(spec.out).parent.mkdir(parents=True, exist_ok=True)
    with hold_lease(str(Path(spec.out).parent), "student-inputs"):  # one writer per output
        return _join_and_write(spec, fp, eval_split, num_partitions)


def _join_and_write(spec: JoinSpec, fp: str, eval_split: str, num_partitions: int | None) -> dict[str, Any]:
    import ray
    from ray.data.expressions import col

    parts = num_partitions or max(2, min(64, len(spec.clip_files)))
    columns = CLIP_COLUMNS + (FRAME_COLUMNS if spec.image_files is None else [])
    ds = ray.data.read_parquet(spec.clip_files, partitioning=None).select_columns(columns)
    if spec.image_files is not None:
        img = ray.data.read_parquet(spec.image_files, partitioning=None).select_columns(IMAGE_COLUMNS)
        ds = ds.join(img, join_type="left_outer", on=("clip_id",), num_partitions=parts)
    for name, files in sorted(spec.teachers.items()):
        t = ray.data.read_parquet(files, partitioning=None).select_columns(
            ["clip_id", "teacher_feature", "teacher_logits"]
        )
        t = t.map_batches(_rename_teacher(name), batch_format="pyarrow")
        ds = ds.join(t, join_type="left_outer", on=("clip_id",), num_partitions=parts)
    ds = ds.map_batches(_with_segment, batch_format="pyarrow").materialize()  # object store, not driver
    blocks = [json.loads(r["stats"]) for r in ds.map_batches(
        _block_stats(sorted(spec.teachers), spec.image_files is not None, eval_split), batch_format="pyarrow"
    ).iter_rows()]  # fmt: skip
    stats = _merge(blocks)
    if len(stats["num_pool"]) > 1:
        raise ValueError(
            f"{spec.dataset} {spec.source}: image features mix frame pools of sizes {sorted(stats['num_pool'])}"
        )
    out = Path(spec.out)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    usable = ds
    quarantined = 0
    if spec.image_files is not None:
        usable = ds.filter(expr=col("num_pool").is_not_null())
        quarantined = stats["missing"].get("image_features", {}).get("count", 0)
        if quarantined:
            q = ds.filter(expr=col("num_pool").is_null()).map_batches(
                lambda b: pa.table({"clip_id": b.column("clip_id"), "video_id": b.column("video_id"),
                                    "split": b.column("split"),
                                    "reason": pa.array(["missing_image_features"] * b.num_rows, pa.string())}),
                batch_format="pyarrow",
            )  # fmt: skip
            q.write_parquet(str(tmp / QUARANTINE_DIR))
    usable.write_parquet(str(tmp))
    written = usable_rows = stats["rows"] - quarantined
    summary = {
        "fingerprint": fp, "dataset": spec.dataset, "source": spec.source, "rows_in": stats["rows"],
        "rows_written": written, "rows_quarantined": quarantined, "missing": stats["missing"],
        "classes": [stats["classes"].get(i, "?") for i in range(max(stats["classes"], default=-1) + 1)],
        "splits": stats["splits"], "segments": sorted(stats["segments"]),
        "num_pool": next(iter(stats["num_pool"]), None), "has_first_last": all(stats["has_first_last"]) if stats["has_first_last"] else False,
        "frames": spec.image_files is None, "image_weights": spec.image_weights,
        "teachers": {t: {"feature_dim": d[0], "num_logits": d[1]} for t, d in sorted(stats["teacher_dims"].items())},
    }  # fmt: skip
    if usable_rows + quarantined != stats["rows"]:
        raise RuntimeError(
            f"{spec.out}: rows in {stats['rows']} != written {usable_rows} + quarantined {quarantined}"
        )
    (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return summary


__all__ = [
    "JoinSpec",
    "QUARANTINE_DIR",
    "SUMMARY_FILE",
    "TEACHER_FEATURE",
    "TEACHER_LOGITS",
    "join_inputs",
    "read_summary",
]
