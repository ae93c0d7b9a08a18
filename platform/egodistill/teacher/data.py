"""Ray Data datasets of dense clips, decoded on the fly from the videos (nothing dense is stored).

Input rows come from a clip manifest (``egodistill index``) or an ingested clips dataset
(``egodistill ingest``; only its id/time/path columns are read, never the JPEG columns), normalised
by :func:`load_rows`. They become *items* (one clip to decode: video, centre time, fps, label, ids),
items become *tasks* (:func:`make_tasks`: up to ``clips_per_task`` items of one video, in time
order, so one task decodes one stretch of one video in a single forward walk), and
:func:`clip_dataset` maps tasks to clip rows with ``map_batches`` (CPU tasks, one task per call):

=========  =====================  ===============================================================
column     type                   meaning
=========  =====================  ===============================================================
clip       uint8 (T, S, S, 3)     the decoded dense clip (zeros when ``ok`` is False)
item       int64                  the item's index in the caller's item list
label      int64                  class label (-1 when unknown)
segment    int64                  evaluation: index of the labelled segment the clip belongs to
ok         bool                   decoded; False rows carry ``reason`` and must be skipped
padded     int32                  frames replaced by their nearest decoded neighbour
first_sec  float64                time of the first / last decoded frame
last_sec   float64
reason     string                 only with ``with_reason``: quarantine code when not ok
detail     string                 only with ``with_reason``: what went wrong, with the values
=========  =====================  ===============================================================

Training items carry their segment bounds and draw a new clip centre every time the dataset is
executed (every epoch) when ``jitter > 0`` (temporal jitter, :func:`~.dense.sample_centre`).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from egodistill.teacher.dense import ClipRequest, ClipSpec, decode_clips, sample_centre

log = logging.getLogger(__name__)

#: Columns every input row is normalised to (``fps``: manifest ``fps`` or clips ``video_fps``).
ROW_COLUMNS = (
    "dataset", "clip_id", "video_id", "split", "label", "verb", "video_path", "fps",
    "start_sec", "end_sec", "window_start_sec", "window_end_sec", "video_duration_sec",
)  # fmt: skip
_CLIPS_COLUMNS = [
    "dataset", "clip_id", "video_id", "split", "label", "verb", "video_path", "video_fps",
    "start_sec", "end_sec", "window_start_sec", "window_end_sec",
]  # fmt: skip


def load_rows(
    kind: str, path: str, *, dataset: str | None = None, splits: Sequence[str] | None = None
) -> pa.Table:
    """Rows of a manifest (``kind="manifest"``) or clips dataset (``"clips"``) in :data:`ROW_COLUMNS`.

    ``dataset`` picks one dataset when the input holds several (an error names them otherwise).
    """
    if kind == "manifest":
        from egodistill.datasets.manifest import read_manifest

        table = read_manifest(path)
    elif kind == "clips":
        from egodistill.ingest.store import read_clips

        table = read_clips(path, dataset=dataset, columns=_CLIPS_COLUMNS)
        table = table.rename_columns(["fps" if c == "video_fps" else c for c in table.column_names])
        table = table.append_column("video_duration_sec", pa.nulls(table.num_rows, pa.float64()))
    else:
        raise ValueError(f"unknown input kind {kind!r} (manifest or clips)")
    table = table.select(list(ROW_COLUMNS))
    names = sorted(set(table.column("dataset").to_pylist()))
    if dataset is not None:
        table = table.filter(pc.equal(table.column("dataset"), dataset))
        if table.num_rows == 0:
            raise ValueError(f"{path}: no rows of dataset {dataset!r} (found {names})")
    elif len(names) > 1:
        raise ValueError(f"{path} holds several datasets {names}: choose one with data.dataset")
    if splits is not None:
        table = table.filter(pc.is_in(table.column("split"), pa.array(list(splits))))
    return table


def class_names(table: pa.Table) -> list[str]:
    """Verb of each label 0..C-1 (labels are contiguous in a manifest; a gap is named ``?``)."""
    labels = table.column("label").to_pylist()
    verbs = table.column("verb").to_pylist()
    n = max(labels) + 1 if labels else 0
    names = ["?"] * n
    for label, verb in zip(labels, verbs, strict=True):
        names[label] = verb
    return names


def train_items(rows: pa.Table, repeats: int = 1) -> list[dict[str, Any]]:
    """One item per training segment and repeat; centres are drawn at decode time (jitter)."""
    items = []
    for r in rows.to_pylist():
        for _ in range(repeats):
            items.append(
                {
                    "item": len(items),
                    "video_path": r["video_path"],
                    "fps": float(r["fps"]),
                    "centre": 0.5 * (r["window_start_sec"] + r["window_end_sec"]),
                    "start": float(r["start_sec"]),
                    "end": float(r["end_sec"]),
                    "label": int(r["label"]),
                    "segment": -1,
                }
            )
    return items


def eval_items(rows: pa.Table, dense: Any = None) -> tuple[list[dict[str, Any]], pa.Table]:
    """Dense evaluation clips of each segment (``datasets.manifest.dense_clips``) as items.

    Returns the items (``segment`` = row index in ``rows``) and the dense-clip table.
    """
    from egodistill.datasets.manifest import dense_clips

    windows = dense_clips(rows, dense)
    index = {cid: i for i, cid in enumerate(rows.column("clip_id").to_pylist())}
    by_row = rows.to_pylist()
    items = []
    for w in windows.to_pylist():
        seg = index[w["clip_id"]]
        r = by_row[seg]
        items.append(
            {
                "item": len(items),
                "video_path": r["video_path"],
                "fps": float(r["fps"]),
                "centre": 0.5 * (w["window_start_sec"] + w["window_end_sec"]),
                "start": float(r["start_sec"]),
                "end": float(r["end_sec"]),
                "label": int(r["label"]),
                "segment": seg,
            }
        )
    return items, windows


def row_items(rows: pa.Table) -> list[dict[str, Any]]:
    """One item per row, centred on its model window (the features pass)."""
    items = []
    for i, r in enumerate(rows.to_pylist()):
        items.append(
            {
                "item": i,
                "video_path": r["video_path"],
                "fps": float(r["fps"]) if r["fps"] is not None else float("nan"),
                "centre": 0.5 * (r["window_start_sec"] + r["window_end_sec"]),
                "start": float(r["start_sec"]),
                "end": float(r["end_sec"]),
                "label": int(r["label"]) if r.get("label") is not None else -1,
                "segment": i,
            }
        )
    return items


def make_tasks(items: Sequence[Mapping[str, Any]], clips_per_task: int) -> list[dict[str, Any]]:
    """Group items by video, sort by time, cut into chunks of at most ``clips_per_task``.

    Each task is ``{"video_path", "items_json", "num_items"}`` (JSON keeps the Arrow block simple).
    Bigger tasks first, so that the long ones do not finish last.
    """
    by_video: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for it in items:
        by_video[str(it["video_path"])].append(it)
    tasks = []
    for video, vitems in by_video.items():
        vitems = sorted(vitems, key=lambda it: (it["centre"], it["item"]))
        for k in range(0, len(vitems), clips_per_task):
            chunk = vitems[k : k + clips_per_task]
            tasks.append(
                {"video_path": video, "items_json": json.dumps(list(chunk)), "num_items": len(chunk)}
            )
    tasks.sort(key=lambda t: -t["num_items"])
    return tasks


def decode_task(
    batch: Mapping[str, np.ndarray],
    *,
    spec: Mapping[str, int],
    jitter: float = 0.0,
    with_reason: bool = False,
    max_pad_fraction: float = 0.25,
) -> dict[str, np.ndarray]:
    """``map_batches`` function (batch size 1): decode one task's clips into rows (see module doc)."""
    clip_spec = ClipSpec(**spec)
    out: dict[str, list[Any]] = defaultdict(list)
    rng = np.random.default_rng()  # fresh entropy: a new temporal jitter every execution (epoch)
    for video, items_json in zip(batch["video_path"], batch["items_json"], strict=True):
        items = json.loads(items_json)
        requests = []
        for it in items:
            centre = it["centre"]
            if jitter > 0 and it["fps"] > 0:
                centre = sample_centre(rng, it["start"], it["end"], clip_spec.span_sec(it["fps"]), jitter)
            requests.append(ClipRequest(item=int(it["item"]), centre_sec=float(centre), fps=float(it["fps"])))
        decoded = decode_clips(str(video), requests, clip_spec, max_pad_fraction=max_pad_fraction)
        for it, d in zip(items, decoded, strict=True):
            out["clip"].append(d.frames if d.ok else None)
            out["item"].append(int(it["item"]))
            out["label"].append(int(it["label"]))
            out["segment"].append(int(it["segment"]))
            out["ok"].append(d.ok)
            out["padded"].append(d.padded)
            out["first_sec"].append(d.first_sec)
            out["last_sec"].append(d.last_sec)
            if with_reason:
                out["reason"].append(d.reason or "")
                out["detail"].append(d.detail)
            if not d.ok:
                log.warning("clip %s of %s not decoded: %s: %s", it["item"], video, d.reason, d.detail)
    shape = (clip_spec.num_frames, clip_spec.size, clip_spec.size, 3)
    clips = np.zeros((len(out["item"]), *shape), dtype=np.uint8)
    for i, c in enumerate(out.pop("clip")):
        if c is not None:
            clips[i] = c
    result = {
        "clip": clips,
        "item": np.asarray(out["item"], dtype=np.int64),
        "label": np.asarray(out["label"], dtype=np.int64),
        "segment": np.asarray(out["segment"], dtype=np.int64),
        "ok": np.asarray(out["ok"], dtype=bool),
        "padded": np.asarray(out["padded"], dtype=np.int32),
        "first_sec": np.asarray(out["first_sec"], dtype=np.float64),
        "last_sec": np.asarray(out["last_sec"], dtype=np.float64),
    }
    if with_reason:
        result["reason"] = np.asarray(out["reason"], dtype=object)
        result["detail"] = np.asarray(out["detail"], dtype=object)
    return result


def clip_dataset(
    tasks: Sequence[Mapping[str, Any]],
    spec: ClipSpec,
    *,
    jitter: float = 0.0,
    with_reason: bool = False,
    max_pad_fraction: float = 0.25,
    num_cpus: float = 1.0,
    concurrency: int | None = None,
    separate_stage: bool = False,
):
    """A Ray Data dataset of decoded clip rows (lazy: decoding happens when it is iterated).

    ``separate_stage`` keeps decoding in its own CPU tasks when a later ``map_batches`` (e.g. an
    inference actor pool with the same CPU request) would otherwise be fused with it by Ray Data's
    optimiser, which would serialise decoding and inference inside each actor: the decode tasks then
    reserve ``memory`` sized to their output (3x the decoded clips of a task, at least 256 MiB), and
    Ray Data only fuses operators whose remote arguments are identical.
    """
    import ray.data

    if not tasks:
        raise ValueError("no clips to decode (empty task list)")
    ds = ray.data.from_items(list(tasks), override_num_blocks=len(tasks))
    kwargs: dict[str, Any] = {}
    if concurrency is not None:
        kwargs["concurrency"] = concurrency
    if separate_stage:
        per_clip = spec.num_frames * spec.size * spec.size * 3
        largest = max(int(t["num_items"]) for t in tasks)
        kwargs["memory"] = float(max(256 * 2**20, 3 * largest * per_clip))
    return ds.map_batches(
        decode_task,
        batch_size=1,
        batch_format="numpy",
        fn_kwargs={
            "spec": {"num_frames": spec.num_frames, "sample_rate": spec.sample_rate, "size": spec.size},
            "jitter": jitter,
            "with_reason": with_reason,
            "max_pad_fraction": max_pad_fraction,
        },
        num_cpus=num_cpus,
        **kwargs,
    )


__all__ = [
    "ROW_COLUMNS",
    "class_names",
    "clip_dataset",
    "decode_task",
    "eval_items",
    "load_rows",
    "make_tasks",
    "row_items",
    "train_items",
]
