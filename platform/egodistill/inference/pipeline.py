"""The predict job: long videos -> per-window predictions, action segments and timelines, on Ray Data.

Design
------
*The driver plans, tasks decode, actors predict.* The driver probes each video (container header
only), plans its windows (:mod:`.windows`) and, for a student that needs IMU, loads each video's IMU
once up front: a missing or broken IMU file stops the job before any work with one line naming the
file (:class:`~.imu_windows.ImuRequiredError`), never a silent zero-IMU prediction. A video that
cannot be opened or is shorter than one window is quarantined whole (one row). Then one Ray Data
task per video (a generator) decodes its windows in batches under the frame policy and cuts their
IMU windows with the training preprocessing, streaming batches into an actor pool that runs the
student (``map_batches`` with ``ActorPoolStrategy``; a GPU per actor when the cluster has GPUs).

*Bad windows are data.* A window whose frames cannot be decoded (a video corrupt or truncated
part-way: the decoder stops, the windows before are kept) or whose IMU coverage is below
``min_imu_coverage`` goes to the video's quarantine file with a reason; rows in (planned windows
plus unplannable videos) = predicted + quarantined, checked at the end.

*Resumable per video.* The driver buffers a video's windows until all have come back, then writes
its quarantine file and its predictions file (the done marker) atomically. A re-run skips videos
whose predictions file exists with the same fingerprint, and refuses an output written with other
settings. The segments table and timelines are rebuilt from the files at the end.

*Progress*: a log line every few seconds and per finished video (videos and windows done).

Why this module is long: the driver side of predict (plan, Ray Data wiring, per-video atomic writes,
reconciliation, segments and timelines) is one flow, kept together like ingest/ and features/.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from egodistill.inference import imu_windows, model_io, store
from egodistill.inference.config import PredictConfig
from egodistill.inference.decode_task import decode_windows
from egodistill.inference.segments import (
    merge_segments,
    plot_timeline,
    window_accuracy,
    window_ground_truth,
)
from egodistill.inference.sources import VideoSource, from_dataset_root, from_pairs
from egodistill.inference.windows import ShortVideoError, Window, plan_windows
from egodistill.ingest.decode import VideoDecodeError, probe
from egodistill.quarantine import Quarantine, QuarantineEntry
from egodistill.tables import conform

log = logging.getLogger(__name__)

STAGE = "predict"
PROGRESS_EVERY_SEC = 5.0


# ----------------------------------------------------------------------------------------------
# the driver


@dataclass
class VideoPlan:
    source: VideoSource
    windows: list[Window]
    duration_sec: float | None
    fps: float | None


@dataclass
class PredictSummary:
    """What the run did, reconciled from the files in the output."""

    out: str
    model: str
    policy: str
    rows_in: int = 0
    rows_in_now: int = 0
    """This run: planned windows, plus one row per video quarantined whole."""
    rows_in_before: int = 0
    """Videos done by an earlier run: the rows their files hold."""
    rows_predicted: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    videos: int = 0
    videos_skipped: int = 0
    videos_processed: int = 0
    windows_processed: int = 0
    elapsed_sec: float = 0.0
    decode_sec: float = 0.0
    forward_sec: float = 0.0
    max_frame_error_sec: float = 0.0
    stated_error_sec: float = 0.0
    accuracy: Any = None
    per_video: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rows_in == self.rows_predicted + self.rows_quarantined

    def lines(self) -> list[str]:
        rate = self.windows_processed / self.elapsed_sec if self.elapsed_sec > 0 else 0.0
        out = [
            f"predict {'OK' if self.ok else 'INCOMPLETE'}: windows in {self.rows_in} = predicted "
            f"{self.rows_predicted} + quarantined {self.rows_quarantined}",
            f"this run: {self.videos_processed} videos, {self.windows_processed} windows in "
            f"{self.elapsed_sec:.1f} s ({rate:.1f} windows/s); {self.videos_skipped} videos already done; "
            f"model {self.model}, frame policy {self.policy} (max time error seen "
            f"{1000 * self.max_frame_error_sec:.1f} ms, stated bound {1000 * self.stated_error_sec:.1f} ms)",
        ]
        if self.quarantine_reasons:
            out.append(
                "quarantine by reason: "
                + ", ".join(f"{k}={v}" for k, v in sorted(self.quarantine_reasons.items()))
            )
        out.extend(self.per_video)
        if self.accuracy is not None:
            out.append(f"all videos: {self.accuracy.line()}")
        out.append(f"outputs: {self.out}/predictions/, segments.parquet, timelines/, quarantine/")
        return out


def _sources(cfg: PredictConfig) -> list[VideoSource]:
    if cfg.root is not None:
        assert cfg.dataset is not None
        sources = from_dataset_root(cfg.dataset, cfg.root, cfg.annotations)
    else:
        sources = from_pairs(cfg.videos, cfg.imus)
    if cfg.only:
        wanted = set(cfg.only)
        sources = [s for s in sources if s.video_id in wanted]
    if not sources:
        raise FileNotFoundError(f"no videos to predict ({cfg.root or cfg.videos})")
    return sources


def _entry(src: VideoSource, reason: str, detail: str, item: str, record: dict[str, Any]) -> QuarantineEntry:
    return QuarantineEntry(
        stage=STAGE, dataset=src.dataset, source_file=src.video_path, reason=reason, detail=detail,
        item_id=item, record=record,
    )  # fmt: skip


def _plan(
    src: VideoSource, cfg: PredictConfig, num_frames: int, uses_imu: bool
) -> tuple[VideoPlan | None, QuarantineEntry | None]:
    """Probe and plan a video; (None, entry) when the whole video is quarantined.

    Raises ImuRequiredError when the student needs IMU and the video's IMU cannot be used.
    """
    try:
        info = probe(src.video_path)
    except VideoDecodeError as e:
        return None, _entry(src, e.reason, e.detail, src.video_id, {"video_path": src.video_path})
    duration = info.duration_sec
    if uses_imu:  # preflight: stop before any work, naming the file
        imu_windows.load_stream(src.video_id, src.imu_paths, duration, cfg.imu)
    try:
        windows = plan_windows(
            duration if duration is not None else float("nan"), cfg.imu.window_sec, cfg.windows.stride_sec,
            num_frames, cfg.windows.cover_tail, source=src.video_path,
        )  # fmt: skip
    except ShortVideoError as e:
        return None, _entry(
            src, "video_shorter_than_window", str(e), src.video_id, {"duration_sec": duration}
        )
    return VideoPlan(src, windows, duration, info.average_fps), None


def _settings(
    cfg: PredictConfig, files: model_io.StudentFiles, size: int, num_frames: int, uses_imu: bool
) -> str:
    import hashlib

    return json.dumps(
        {
            "model_sha1": hashlib.sha1(files.weights).hexdigest(),
            "policy": cfg.frames.policy,
            "size": size,
            "num_frames": num_frames,
            "stride_sec": cfg.windows.stride_sec,
            "cover_tail": cfg.windows.cover_tail,
            "imu": cfg.imu.model_dump(mode="json"),
            "min_imu_coverage": cfg.min_imu_coverage,
            "top_k": cfg.top_k,
            "uses_imu": uses_imu,
            "threads": cfg.frames.decode_threads,
            "windows_per_batch": cfg.frames.windows_per_batch,
            "contract": "predictions/v1",
        },
        sort_keys=True,
    )


def _actor_resources(cfg: PredictConfig) -> tuple[int, float]:
    import ray

    gpus = float(ray.cluster_resources().get("GPU", 0.0))
    per = cfg.compute.num_gpus_per_actor
    if per is None:
        per = 1.0 if gpus >= 1 else 0.0
    actors = cfg.compute.actors or (max(1, int(gpus // per)) if per else 1)
    return actors, per


def _predictions_table(
    plan: VideoPlan, rows: list[dict[str, Any]], classes: list[str], model: str, policy: str
) -> pa.Table:
    by_index = {w.index: w for w in plan.windows}
    src = plan.source
    out: dict[str, list[Any]] = {k: [] for k in (
        "dataset", "video_id", "clip_id", "window_index", "window_start_sec", "window_end_sec",
        "anchored_to_end", "frame_policy", "frame_target_sec", "frame_time_sec", "frame_error_sec",
        "pred_class", "pred_label", "confidence", "topk_classes", "topk_labels", "topk_probs", "probs",
        "feature", "imu_coverage", "imu_max_gap_ms", "imu_clipped", "imu_used", "gt_label", "model",
        "video_path")}  # fmt: skip
    for r in sorted(rows, key=lambda r: int(r["window_index"])):
        w = by_index[int(r["window_index"])]
        top = [int(c) for c in r["topk_classes"]]
        has_imu = bool(np.isfinite(r["imu_coverage"]))
        values = {
            "dataset": src.dataset, "video_id": src.video_id, "clip_id": f"{src.video_id}#w{w.index}",
            "window_index": w.index, "window_start_sec": w.start_sec, "window_end_sec": w.end_sec,
            "anchored_to_end": w.anchored_to_end, "frame_policy": policy,
            "frame_target_sec": list(w.frame_times), "frame_time_sec": [float(t) for t in r["frame_time_sec"]],
            "frame_error_sec": float(r["frame_error_sec"]), "pred_class": top[0], "pred_label": classes[top[0]],
            "confidence": float(r["topk_probs"][0]), "topk_classes": top, "topk_labels": [classes[c] for c in top],
            "topk_probs": [float(p) for p in r["topk_probs"]], "probs": np.asarray(r["probs"], np.float32),
            "feature": np.asarray(r["feature"], np.float32),
            "imu_coverage": float(r["imu_coverage"]) if has_imu else None,
            "imu_max_gap_ms": float(r["imu_max_gap_ms"]) if has_imu else None,
            "imu_clipped": int(r["imu_clipped"]) if has_imu else None, "imu_used": bool(r["imu_used"]),
            "gt_label": window_ground_truth(w.start_sec, w.end_sec, src.ground_truth),
            "model": model, "video_path": src.video_path,
        }  # fmt: skip
        for k, v in values.items():
            out[k].append(v)
    from egodistill.tables import load_contract

    schema = load_contract("predictions").schema
    arrays = []
    for f in schema:
        vals = out[f.name]
        if f.name in ("probs", "feature"):
            flat = np.concatenate(vals) if vals else np.zeros(0, np.float32)
            offsets = np.arange(len(vals) + 1, dtype=np.int32) * (len(vals[0]) if vals else 0)
            arrays.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.float32())))
        else:
            arrays.append(pa.array(vals, type=f.type))
    return conform(pa.Table.from_arrays(arrays, names=[f.name for f in schema]), "predictions")


def _write_video(
    plan: VideoPlan,
    rows: list[dict[str, Any]],
    out: str,
    fp: str,
    classes: list[str],
    model: str,
    policy: str,
) -> tuple[int, Counter[str]]:
    """Quarantine file first, then the predictions file (the done marker)."""
    q = Quarantine()
    good = []
    by_index = {w.index: w for w in plan.windows}
    for r in rows:
        if bool(r["ok"]):
            good.append(r)
            continue
        w = by_index[int(r["window_index"])]
        src = plan.source
        q.add(
            _entry(
                src,
                str(r["reason"]),
                str(r["detail"]),
                f"{src.video_id}#w{w.index}",
                {
                    "window_index": w.index,
                    "window_start_sec": w.start_sec,
                    "window_end_sec": w.end_sec,
                    "frame_target_sec": list(w.frame_times),
                },
            )  # fmt: skip
        )
    if len(q):
        store.write(q.to_table(), store.quarantine_file(out, plan.source.video_id), fp)
    store.write(
        _predictions_table(plan, good, classes, model, policy),
        store.predictions_file(out, plan.source.video_id),
        fp,
    )
    return len(good), q.counts()


def run_predict(cfg: PredictConfig) -> PredictSummary:
    """Run the job (Ray must be initialised, or it is started locally); returns the reconciled summary."""
    import ray

    from egodistill.inference.predictor import StudentPredictor

    cfg.check()
    t_start = time.perf_counter()
    assert cfg.student is not None
    files = model_io.student_files(cfg.student)
    model, scfg, info = model_io.load_student(cfg.student)
    classes = [str(c) for c in info["classes"]]
    uses_imu = bool(model.uses_imu)
    del model
    if uses_imu and scfg.imu_length != cfg.imu.num_samples:
        raise ValueError(
            f"{cfg.student}: the student takes {scfg.imu_length} IMU samples, imu.num_samples is {cfg.imu.num_samples}"
        )
    size = cfg.frames.size or info.get("frame_size") or model_io.DEFAULT_FRAME_SIZE
    if not cfg.frames.size and not info.get("frame_size"):
        log.warning("frame size of the student's training clips unknown; using %d px (set frames.size)", size)
    name = model_io.model_name(cfg.student)
    settings = _settings(cfg, files, int(size), scfg.num_frames, uses_imu)
    fp = store.fingerprint(json.loads(settings))
    out = str(Path(cfg.out).expanduser().absolute())
    done = store.done_videos(out, fp)
    sources = _sources(cfg)
    summary = PredictSummary(out=out, model=name, policy=cfg.frames.policy, videos=len(sources))

    plans: dict[str, VideoPlan] = {}
    for src in sources:
        if src.video_id in done:
            summary.videos_skipped += 1
            continue
        plan, bad = _plan(src, cfg, scfg.num_frames, uses_imu)
        if bad is not None:
            q = Quarantine([bad])
            store.write(q.to_table(), store.quarantine_file(out, src.video_id), fp)
            empty = VideoPlan(src, [], None, None)
            store.write(_predictions_table(empty, [], classes, name, cfg.frames.policy),
                        store.predictions_file(out, src.video_id), fp)  # fmt: skip
            summary.videos_processed += 1
            summary.rows_in_now += 1
            log.info("predict: %s quarantined whole: %s", src.video_id, bad.detail)
            continue
        assert plan is not None
        plans[src.video_id] = plan
    total_windows = sum(len(p.windows) for p in plans.values())
    summary.rows_in_now += total_windows
    log.info(
        "predict: %d videos (%d done before, %d to run, %d windows), model %s, policy %s, %d px",
        len(sources), summary.videos_skipped, len(plans), total_windows, name, cfg.frames.policy, size,
    )  # fmt: skip

    if plans:
        if not ray.is_initialized():
            from egodistill.runtime import ensure_ray

            ensure_ray(cfg.compute.local_num_cpus)
        _run_ray(
            cfg, plans, settings, files, classes, name, out, fp, summary, total_windows, StudentPredictor
        )

    _finish(cfg, sources, done, out, classes, summary)
    summary.elapsed_sec = time.perf_counter() - t_start
    return summary


def _run_ray(
    cfg, plans, settings, files, classes, name, out, fp, summary, total_windows, predictor_cls
) -> None:
    import ray

    tasks = []
    for vid, p in sorted(plans.items(), key=lambda kv: -len(kv[1].windows)):  # long videos first
        task = {
            "video_id": vid, "video_path": p.source.video_path, "imu_paths": p.source.imu_paths,
            "duration_sec": p.duration_sec,
            "windows": [[w.index, w.start_sec, w.end_sec, list(w.frame_times), w.anchored_to_end] for w in p.windows],
        }  # fmt: skip
        tasks.append({"video_id": vid, "task_json": json.dumps(task)})
    actors, gpus = _actor_resources(cfg)
    ds = ray.data.from_items(tasks, override_num_blocks=len(tasks))
    # this Dataset's own DataContext copy (inherited by the maps below), not the process-wide one
    ds.context.enable_progress_bars = cfg.compute.progress_bars
    ds.context.enable_operator_progress_bars = cfg.compute.progress_bars
    ds.context.execution_options.preserve_order = False  # windows are reassembled per video by index
    s = json.loads(settings)
    # A memory request sized to a decode batch keeps decoding in its own tasks: Ray Data fuses operators
    # with identical remote arguments, which would serialise decode and forward inside each actor.
    batch_bytes = cfg.frames.windows_per_batch * s["num_frames"] * s["size"] ** 2 * 3
    ds = ds.map_batches(
        decode_windows,
        batch_size=1,
        fn_kwargs={"settings": settings},
        num_cpus=cfg.compute.num_cpus_per_task,
        memory=float(max(256 * 2**20, 3 * batch_bytes)),
        compute=ray.data.TaskPoolStrategy(size=cfg.compute.concurrency) if cfg.compute.concurrency else None,
    )
    ds = ds.map_batches(
        predictor_cls,
        fn_constructor_kwargs={
            "files": files,
            "top_k": cfg.top_k,
            "threads": max(1, int(cfg.compute.num_cpus_per_actor)),
        },  # fmt: skip
        batch_size=cfg.compute.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cfg.compute.num_cpus_per_actor,
        num_gpus=gpus or None,
    )
    buffers: dict[str, list[dict[str, Any]]] = {vid: [] for vid in plans}
    windows_done = 0
    last_log = time.perf_counter()
    reasons: Counter[str] = Counter()
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for j in range(len(batch["video_id"])):
            row = {k: batch[k][j] for k in batch}
            row["imu_used"] = s["uses_imu"]
            vid = str(row["video_id"])
            buffers[vid].append(row)
            windows_done += 1
            summary.windows_processed += 1
            summary.decode_sec += float(row["decode_sec"])
            summary.forward_sec += float(row["forward_sec"]) if row["ok"] else 0.0
            if row["ok"]:
                summary.max_frame_error_sec = max(summary.max_frame_error_sec, float(row["frame_error_sec"]))
            summary.stated_error_sec = max(summary.stated_error_sec, float(row["error_bound_sec"]))
            plan = plans[vid]
            if len(buffers[vid]) == len(plan.windows):
                got, counts = _write_video(plan, buffers.pop(vid), out, fp, classes, name, cfg.frames.policy)
                reasons.update(counts)
                summary.videos_processed += 1
                log.info(
                    "predict progress: video %s done (%d predicted, %d quarantined); videos %d/%d, windows %d/%d",
                    vid, got, sum(counts.values()), summary.videos_processed + summary.videos_skipped,
                    summary.videos, windows_done, total_windows,
                )  # fmt: skip
        now = time.perf_counter()
        if now - last_log >= PROGRESS_EVERY_SEC:
            last_log = now
            log.info(
                "predict progress: videos %d/%d done, windows %d/%d",
                summary.videos_processed + summary.videos_skipped, summary.videos, windows_done, total_windows,
            )  # fmt: skip
    if buffers:
        missing = {v: len(plans[v].windows) - len(b) for v, b in buffers.items()}
        raise RuntimeError(f"predict ended with windows missing from the pipeline: {missing}")


def _finish(
    cfg: PredictConfig,
    sources: list[VideoSource],
    skipped: set[str],
    out: str,
    classes: list[str],
    s: PredictSummary,
) -> None:
    """Reconcile from the files, rebuild the segments table, draw the timelines, per-video accuracy."""
    from egodistill.storage import atomic_write_table, read_table
    from egodistill.tables import validate

    tables = []
    ids = {src.video_id for src in sources}
    for src in sources:
        path = store.predictions_file(out, src.video_id)
        if not path.is_file():
            continue
        t = read_table(str(path))
        validate(t, "predictions")
        tables.append(t)
        q_rows = 0
        qpath = store.quarantine_file(out, src.video_id)
        if qpath.is_file():
            q_rows = read_table(str(qpath), columns=["reason"]).num_rows
        if src.video_id in skipped:  # done by an earlier run: its files are its rows in
            s.rows_in_before += t.num_rows + q_rows
        if t.num_rows:
            acc = window_accuracy(t, classes)
            s.per_video.append(
                f"  {src.video_id}: {t.num_rows} windows predicted, {q_rows} quarantined; {acc.line()}"
            )
            if cfg.plots:
                plot_timeline(
                    t, src.ground_truth, classes, store.timeline_file(out, src.video_id),
                    f"{src.video_id} ({t.column('model')[0].as_py()}, {cfg.frames.policy} frames)",
                )  # fmt: skip
        else:
            s.per_video.append(f"  {src.video_id}: nothing predicted, {q_rows} quarantined")
    s.rows_predicted = sum(t.num_rows for t in tables)
    s.rows_quarantined, s.quarantine_reasons = store.read_quarantine_counts(out, ids)
    if tables:
        all_rows = pa.concat_tables(tables)
        atomic_write_table(merge_segments(all_rows), str(store.segments_file(out)))
        s.accuracy = window_accuracy(all_rows, classes)
        errs = all_rows.column("frame_error_sec").to_numpy()
        if len(errs):
            s.max_frame_error_sec = max(s.max_frame_error_sec, float(errs.max()))
    s.rows_in = s.rows_in_now + s.rows_in_before
