"""The features pass: a teacher over the dense clip of every clips-dataset row, as sidecar Parquet.

Design
------
*Plan on the driver.* Read the id/time/path columns of the clips dataset (never the JPEG columns),
scan the model folder for clips already written or quarantined (:func:`.store.scan`), group the rest
by video and cut them into tasks of at most ``clips_per_task`` clips in time order
(:func:`egodistill.teacher.data.make_tasks`): each video stretch is decoded once.

*Two Ray Data stages.* CPU tasks decode the dense clips (:func:`egodistill.teacher.data.decode_task`,
the same decoder the teacher trained on, centred on each row's model window, no jitter); an actor
pool runs the teacher (:class:`.predictor.TeacherPredictor`, one model per actor, ``num_gpus`` when
the cluster has GPUs) and drops the pixels. Decoding and inference overlap, and the GPU never waits
for a single-threaded decoder when there are enough decoding tasks.

*Atomic per-task files, written by the driver.* Outputs (a few KB per clip) stream back to the
driver, which collects each task's rows and, once all of them arrived, writes that task's data file
and quarantine file atomically (:mod:`.store`). A crash leaves complete files only; the next run
computes just the missing clips. Features and logits of a row are written only if the teacher ran
on its clip; every other row is quarantined with the decoder's or the model's reason.

*Accounting.* After the run the folder is scanned again: rows in (clips-dataset rows of the
dataset) = rows written + rows quarantined, plus any missing (then ``ok`` is False).

Why this module is long: like ingest, the features pass keeps its plan, Ray Data stages, per-task atomic writer and reconciliation in one place, so the one-writer/heal/quarantine rules are read together.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from egodistill.features import store
from egodistill.features.config import FeaturesConfig
from egodistill.leases import hold_lease
from egodistill.models.config import TeacherConfig
from egodistill.progress import Progress
from egodistill.quarantine import Quarantine, QuarantineEntry
from egodistill.runtime import configure_data_context
from egodistill.teacher import data
from egodistill.teacher.dense import ClipSpec

log = logging.getLogger(__name__)

PROGRESS_EVERY_SEC = 10.0


@dataclass
class TeacherSource:
    """The teacher to run, resolved from an export directory or a config."""

    config: TeacherConfig
    model_name: str
    clip: ClipSpec
    crop_size: int
    digest: str

    @property
    def description(self) -> str:
        c = self.clip
        return f"{self.config.name} {c.num_frames}x{c.sample_rate}@{self.crop_size} ({self.model_name})"


def resolve_teacher(cfg: FeaturesConfig) -> TeacherSource:
    from egodistill.models.teachers import teacher_input_spec
    from egodistill.teacher import export

    info: dict[str, Any] = {}
    if cfg.teacher_dir is not None:
        tcfg = export.read_config(cfg.teacher_dir)
        info = export.read_info(cfg.teacher_dir)
    else:
        assert cfg.teacher is not None
        tcfg = cfg.teacher
    spec = teacher_input_spec(tcfg)
    size = cfg.decode_size or int((info.get("clip") or {}).get("decode_size") or spec.resize_size[0])
    if size < spec.crop_size:
        raise ValueError(f"decode size {size} is smaller than the teacher's crop {spec.crop_size}")
    name = cfg.model_name or info.get("model_name") or tcfg.name
    return TeacherSource(
        config=tcfg,
        model_name=str(name),
        clip=ClipSpec(num_frames=spec.num_frames, sample_rate=spec.sample_rate, size=size),
        crop_size=spec.crop_size,
        digest=export.weights_digest(tcfg),
    )


def run_fingerprint(src: TeacherSource, max_pad_fraction: float) -> str:
    teacher = src.config.model_dump(mode="json", exclude={"weights", "allow_download", "download_timeout_s"})
    return store.fingerprint(
        {
            "teacher": teacher,
            "weights": src.digest,
            "clip": [src.clip.num_frames, src.clip.sample_rate, src.clip.size, src.crop_size],
            "max_pad_fraction": max_pad_fraction,
        }
    )


@dataclass
class DatasetSummary:
    dataset: str
    directory: str
    rows_in: int
    rows_written: int
    rows_quarantined: int
    rows_missing: int
    reasons: dict[str, int]
    clips_processed: int
    files_written: int
    tasks: int
    videos: int
    forward_sec: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rows_missing == 0 and self.rows_in == self.rows_written + self.rows_quarantined


@dataclass
class FeaturesSummary:
    teacher: str
    fingerprint: str
    datasets: list[DatasetSummary] = field(default_factory=list)
    elapsed_sec: float = 0.0
    forward_sec: float = 0.0

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.datasets)

    def lines(self) -> list[str]:
        out = []
        for d in self.datasets:
            out.append(
                f"features {'OK' if d.ok else 'INCOMPLETE'} [{d.dataset}, {self.teacher}]: rows in {d.rows_in} = "
                f"written {d.rows_written} + quarantined {d.rows_quarantined}"
                + (f" (+ {d.rows_missing} MISSING)" if d.rows_missing else "")
            )
            out.append(
                f"  this run: {d.clips_processed} clips in {d.tasks} tasks over {d.videos} videos, "
                f"{d.files_written} files -> {d.directory}"
            )
            if d.reasons:
                out.append(
                    "  quarantine by reason: " + ", ".join(f"{k}={v}" for k, v in sorted(d.reasons.items()))
                )
        clips = sum(d.clips_processed for d in self.datasets)
        rate = clips / self.elapsed_sec if self.elapsed_sec > 0 else 0.0
        out.append(
            f"{clips} clips in {self.elapsed_sec:.1f} s ({rate:.2f} clips/s end to end; "
            f"teacher forward {1000 * self.forward_sec / max(1, clips):.1f} ms/clip)"
        )
        return out


_ROW_COLUMNS = ["dataset", "clip_id", "video_id", "split", "video_path", "fps", "start_sec", "end_sec",
                "window_start_sec", "window_end_sec", "label"]  # fmt: skip


def _dataset_names(clips: str, only: str | None) -> list[str]:
    from egodistill.ingest.store import read_clips

    names = sorted(set(read_clips(clips, columns=["dataset"]).column("dataset").to_pylist()))
    if only is not None:
        if only not in names:
            raise ValueError(f"{clips}: no rows of dataset {only!r} (found {names})")
        return [only]
    return names


def feature_table(rows: list[dict[str, Any]], outs: list[dict[str, Any]], src: TeacherSource) -> pa.Table:
    feats = np.stack([o["teacher_feature"] for o in outs]).astype(np.float16)
    logits = np.stack([o["teacher_logits"] for o in outs]).astype(np.float32)
    n, d = feats.shape
    c = logits.shape[1]
    offsets_d = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32))
    offsets_c = pa.array(np.arange(0, (n + 1) * c, c, dtype=np.int32))
    return pa.table(
        {
            "dataset": [r["dataset"] for r in rows],
            "clip_id": [r["clip_id"] for r in rows],
            "video_id": [r["video_id"] for r in rows],
            "split": [r["split"] for r in rows],
            "model_name": [src.model_name] * n,
            "teacher": [src.config.name] * n,
            "teacher_feature": pa.ListArray.from_arrays(offsets_d, pa.array(feats.reshape(-1))),
            "teacher_logits": pa.ListArray.from_arrays(offsets_c, pa.array(logits.reshape(-1))),
            "feature_dim": pa.array([d] * n, pa.int32()),
            "num_classes": pa.array([c] * n, pa.int32()),
            "num_frames": pa.array([src.clip.num_frames] * n, pa.int32()),
            "sample_rate": pa.array([src.clip.sample_rate] * n, pa.int32()),
            "clip_start_sec": pa.array([float(o["first_sec"]) for o in outs], pa.float64()),
            "clip_end_sec": pa.array([float(o["last_sec"]) for o in outs], pa.float64()),
            "frames_padded": pa.array([int(o["padded"]) for o in outs], pa.int32()),
        }
    )


def _quarantine_table(rows: list[dict[str, Any]], outs: list[dict[str, Any]]) -> pa.Table:
    q = Quarantine()
    for r, o in zip(rows, outs, strict=True):
        q.add(
            QuarantineEntry(
                stage=store.STAGE,
                dataset=str(r["dataset"]),
                source_file=str(r["video_path"]),
                reason=str(o["reason"] or "no_teacher_output"),
                detail=str(o["detail"]),
                item_id=str(r["clip_id"]),
                record=r,
            )
        )
    return q.to_table()


def _weights_bytes(cfg: TeacherConfig) -> bytes | None:
    """The checkpoint file's bytes when the teacher loads from a local path (shipped to the actors)."""
    from egodistill.models.weights import weights_kind

    if weights_kind(cfg.weights) != "path":
        return None
    from pathlib import Path

    path = Path(cfg.weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"teacher checkpoint {path} does not exist")
    return path.read_bytes()


def _actor_resources(cfg: FeaturesConfig) -> tuple[int, float]:
    import ray

    from egodistill.runtime import cluster_has_gpus

    gpus = float(ray.cluster_resources().get("GPU", 0.0)) if cluster_has_gpus() else 0.0
    per = cfg.num_gpus_per_actor if cfg.num_gpus_per_actor is not None else (1.0 if gpus else 0.0)
    actors = cfg.actors or (max(1, int(gpus // per)) if per else 1)
    return actors, per


def run_features(cfg: FeaturesConfig) -> FeaturesSummary:
    """Run the pass for every dataset of the clips root (Ray must be initialised) and reconcile."""
    clips_root = cfg.require()
    t_start = time.perf_counter()
    src = resolve_teacher(cfg)
    fp = run_fingerprint(src, cfg.max_pad_fraction)
    summary = FeaturesSummary(teacher=src.description, fingerprint=fp)
    actors, gpus_per_actor = _actor_resources(cfg)
    weights_bytes = _weights_bytes(src.config)
    forward_total = 0.0
    for dataset in _dataset_names(clips_root, cfg.dataset):
        directory = store.model_dir(cfg.out_root(), dataset, src.model_name)
        with hold_lease(directory, "features") as lease:
            summary.datasets.append(
                _run_dataset(
                    cfg, clips_root, dataset, directory, src, fp, actors, gpus_per_actor, weights_bytes
                )
            )
            if lease.lost:
                raise store.FeaturesOutputError(
                    f"{directory}: another writer took over the lease during this run"
                )
        forward_total += summary.datasets[-1].forward_sec
    summary.elapsed_sec = time.perf_counter() - t_start
    summary.forward_sec = forward_total
    for line in summary.lines():
        log.info(line)
    return summary


def _run_dataset(
    cfg: FeaturesConfig,
    clips_root: str,
    dataset: str,
    directory: str,
    src: TeacherSource,
    fp: str,
    actors: int,
    gpus_per_actor: float,
    weights_bytes: bytes | None,
) -> DatasetSummary:
    """One dataset's pass, under the model folder's lease: scan (healing damage), compute, reconcile."""
    import ray

    from egodistill.features.predictor import TeacherPredictor

    forward_total = 0.0
    rows_tbl = data.load_rows("clips", clips_root, dataset=dataset).select(_ROW_COLUMNS)
    state = store.scan(directory, fp, heal=True)
    pending_mask = [not state.done(c) for c in rows_tbl.column("clip_id").to_pylist()]
    pending = rows_tbl.filter(pa.array(pending_mask, pa.bool_()))
    rows = pending.to_pylist()
    items = data.row_items(pending)
    tasks = data.make_tasks(items, cfg.clips_per_task) if items else []
    task_of: dict[int, int] = {}
    for t, task in enumerate(tasks):
        ids = [int(it["item"]) for it in json.loads(task["items_json"])]
        task_of.update(dict.fromkeys(ids, t))
        task["clip_ids"] = [rows[i]["clip_id"] for i in ids]
        task["video_id"] = rows[ids[0]]["video_id"]
    log.info(
        "features %s [%s]: %d rows, %d done, %d to compute in %d tasks; teacher %s on %d actor(s)%s",
        dataset, src.model_name, rows_tbl.num_rows, rows_tbl.num_rows - pending.num_rows, pending.num_rows,
        len(tasks), src.description, actors, f" with {gpus_per_actor} GPU each" if gpus_per_actor else "",
    )  # fmt: skip
    files = processed = 0
    if tasks:
        configure_data_context(cfg.progress_bars)
        ds = data.clip_dataset(
            [{k: t[k] for k in ("video_path", "items_json", "num_items")} for t in tasks],
            src.clip,
            with_reason=True,
            max_pad_fraction=cfg.max_pad_fraction,
            num_cpus=cfg.num_cpus_per_task,
            concurrency=cfg.decode_concurrency,
            separate_stage=True,
        )
        ds = ds.map_batches(
            TeacherPredictor,
            fn_constructor_kwargs={
                "teacher": src.config.model_dump(mode="json"),
                "weights_bytes": weights_bytes,
                "amp": cfg.amp,
                "threads": max(1, int(cfg.num_cpus_per_actor)),
            },
            batch_size=cfg.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cfg.num_cpus_per_actor,
            num_gpus=gpus_per_actor or None,
        )
        buffers: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        progress = Progress(f"features {dataset}", len(items), "clips", every_s=PROGRESS_EVERY_SEC)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for j in range(len(batch["item"])):
                out = {k: batch[k][j] for k in batch}
                item = int(out["item"])
                t = task_of[item]
                buffers[t].append((item, out))
                forward_total += float(out["forward_sec"]) if out["ok"] else 0.0
                if len(buffers[t]) == tasks[t]["num_items"]:
                    files += _write_task(tasks[t], buffers.pop(t), rows, src, fp, directory, cfg)
                    processed += tasks[t]["num_items"]
                    progress.update(tasks[t]["num_items"])
        progress.close()
        if buffers:
            raise RuntimeError(
                f"features pass ended with {len(buffers)} incomplete tasks (rows lost in the pipeline)"
            )
    final = store.scan(directory, fp)
    ids = set(rows_tbl.column("clip_id").to_pylist())
    written = len(ids & final.written)
    reasons = Counter(r for c, r in final.quarantined.items() if c in ids and c not in final.written)
    if rows_tbl.num_rows != len(ids):
        raise ValueError(f"{clips_root}: dataset {dataset} has repeated clip ids ({rows_tbl.num_rows} rows)")
    return DatasetSummary(
        dataset=dataset,
        directory=directory,
        rows_in=len(ids),
        rows_written=written,
        rows_quarantined=sum(reasons.values()),
        rows_missing=len(ids) - written - sum(reasons.values()),
        reasons=dict(reasons),
        clips_processed=processed,
        files_written=files,
        tasks=len(tasks),
        videos=len({t["video_path"] for t in tasks}),
        forward_sec=forward_total,
    )


def _write_task(
    task: dict[str, Any],
    results: list[tuple[int, dict[str, Any]]],
    rows: list[dict[str, Any]],
    src: TeacherSource,
    fp: str,
    directory: str,
    cfg: FeaturesConfig,
) -> int:
    """Write one task's data and quarantine files (atomically); returns the number of files."""
    results.sort(key=lambda r: r[0])
    good = [(rows[i], o) for i, o in results if bool(o["ok"])]
    bad = [(rows[i], o) for i, o in results if not bool(o["ok"])]
    part = store.part_id(fp, task["clip_ids"])
    files = 0
    if bad:
        store.write_quarantine(
            _quarantine_table([r for r, _ in bad], [o for _, o in bad]),
            store.quarantine_file(directory, task["video_id"], part),
            fp,
            src.description,
        )
        files += 1
    if good:
        store.write_features(
            feature_table([r for r, _ in good], [o for _, o in good], src),
            store.data_file(directory, task["video_id"], part),
            fp,
            src.description,
            cfg.row_group_rows,
        )
        files += 1
    return files


__all__ = ["FeaturesSummary", "TeacherSource", "resolve_teacher", "run_features", "run_fingerprint"]
