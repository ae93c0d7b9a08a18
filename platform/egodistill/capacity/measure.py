"""Measured per-clip costs of every stage, with the platform's own code on a tiny synthetic world.

See :mod:`egodistill.capacity.model` for what the figures feed and docs/scale.md for the method.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from egodistill.capacity.model import ClipCosts

_Log = Callable[[str], None]


def _noop(_: str) -> None:
    pass


@contextmanager
def _random_weights_quietly() -> Iterator[None]:
    """Random weights are intended here (cost does not depend on weights): mute the loud warning."""
    import logging
    import warnings

    logger = logging.getLogger("egodistill.models.weights")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*RANDOM weights", category=RuntimeWarning)
            yield
    finally:
        logger.setLevel(level)


def teacher_config(preset: str = "paper", num_classes: int = 94) -> Any:
    """The teacher a preset trains (``training.config.PRESETS``), with random weights."""
    from egodistill.models.config import TeacherConfig
    from egodistill.teacher.config import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown teacher preset {preset!r} (known: {sorted(PRESETS)})")
    values = {**PRESETS[preset].get("teacher", {}), "weights": "none", "num_classes": num_classes}
    return TeacherConfig(**values)


def make_world(root: Path, videos: int, seconds: float, width: int, height: int, seed: int = 6) -> Path:
    """A synthetic Ego4D-layout dataset (no IMU defects, no audio): the ingest's real inputs."""
    from egodistill.synthetic import SynthConfig, generate

    out = root / "ego4d"
    generate(
        SynthConfig(
            layout="ego4d",
            out=str(out),
            videos=videos,
            seconds=seconds,
            width=width,
            height=height,
            seed=seed,
            audio=False,
            workers=1,
            imu_defect_rate=0.0,
        )  # fmt: skip
    )
    return out


def dense_manifest_rows(manifest: Any) -> list[dict[str, Any]]:
    """Each video's span as dense windows (``dense_clips`` over [0, duration]), as manifest rows."""
    from egodistill.datasets.manifest import dense_clips

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in manifest.to_pylist():
        if r["video_id"] in seen:
            continue
        seen.add(r["video_id"])
        whole = {**r, "start_sec": 0.0, "end_sec": float(r["video_duration_sec"])}
        for w in dense_clips(whole).to_pylist():
            rows.append({**whole, "clip_id": f"{r['video_id']}#w{w['dense_index']}", "split": "train",
                         "window_start_sec": w["window_start_sec"], "window_end_sec": w["window_end_sec"],
                         "start_sec": w["window_start_sec"], "end_sec": w["window_end_sec"]})  # fmt: skip
    return rows


def _marginal_bytes(path: Path, rows: int, empty: Path) -> float:
    return (path.stat().st_size - empty.stat().st_size) / rows


def measure_ingest(rows: Sequence[Mapping[str, Any]], out: Path, log: _Log = _noop) -> dict[str, Any]:
    """Run the ingest map function per video in this process (one core); per-clip seconds and bytes."""
    import pyarrow.parquet as pq

    from egodistill.datasets.imu import ImuWindowConfig
    from egodistill.ingest import store
    from egodistill.ingest.config import FrameConfig, OutputConfig, fingerprint
    from egodistill.ingest.worker import process_video_task, rows_to_table, settings_json

    frames, imu, output = FrameConfig(decode_threads=1), ImuWindowConfig(), OutputConfig()
    fp = fingerprint(frames, imu, imu.min_coverage)
    by_video: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_video.setdefault(str(r["video_id"]), []).append(r)

    def task(vid: str, vrows: Sequence[Mapping[str, Any]], dest: Path) -> dict[str, Any]:
        t = {"dataset": "ego4d", "video_id": vid, "part": store.part_id(fp, (str(r["clip_id"]) for r in vrows)),
             "rows_json": json.dumps(list(vrows), default=str)}  # fmt: skip
        return process_video_task(t, settings_json(frames, imu, imu.min_coverage, output, fp, str(dest)))

    first = next(iter(by_video.items()))
    task(first[0], first[1][:2], out / "warmup")  # imports, codec and lru caches outside the timing
    clips = task_sec = decode_sec = 0.0
    for vid, vrows in by_video.items():
        res = task(vid, vrows, out / "clips")
        if res["quarantined"]:
            raise RuntimeError(f"ingest quarantined {res['quarantined']} synthetic clips: {res['reasons']}")
        clips += res["written"]
        task_sec += res["task_sec"]
        decode_sec += res["decode_sec"]
    files = sorted((out / "clips").rglob("*.parquet"))
    empty = out / "empty-clips.parquet"
    store.write_clips(rows_to_table([], imu), str(empty), fp, output.row_group_rows, output.compression)
    nrows = [pq.ParquetFile(f).metadata.num_rows for f in files]
    row_bytes = sum(_marginal_bytes(f, k, empty) * k for f, k in zip(files, nrows, strict=True)) / sum(nrows)
    log(f"  ingest: {int(clips)} clips in {task_sec:.2f} s of per-video tasks ({decode_sec:.2f} s decoding)")
    return {"clips": int(clips), "sec": task_sec / clips, "decode_sec": decode_sec / clips,
            "row_bytes": row_bytes, "files": [str(f) for f in files]}  # fmt: skip


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_calls(fn: Callable[[], Any], device: Any, warmup: int, repeats: int) -> float:
    """Median seconds of ``fn`` after ``warmup`` untimed calls."""
    import statistics

    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_teacher(rows: Sequence[Mapping[str, Any]], preset: str, out: Path, batch: int = 2, repeats: int = 2,
                    gpu_batch: int = 32, log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """Dense decode with the features pass's decoder, forward of the preset's teacher, features bytes."""
    import numpy as np
    import pyarrow as pa
    import torch

    from egodistill.features import store as fstore
    from egodistill.features.pipeline import TeacherSource, feature_table
    from egodistill.models.teachers import build_teacher
    from egodistill.teacher import data
    from egodistill.teacher.augment import model_input
    from egodistill.teacher.dense import ClipSpec
    from egodistill.training.ray_wiring import autocast

    cfg = teacher_config(preset)
    model = build_teacher(cfg).eval()
    spec = model.input_spec
    clip = ClipSpec(spec.num_frames, spec.sample_rate, int(spec.resize_size[0]))
    table = pa.Table.from_pylist([dict(r) for r in rows])
    tasks = data.make_tasks(data.row_items(table), 64)
    decoded: list[np.ndarray] = []
    t0 = time.perf_counter()
    for t in tasks:
        res = data.decode_task({k: np.asarray([t[k]]) for k in ("video_path", "items_json")},
                               spec={"num_frames": clip.num_frames, "sample_rate": clip.sample_rate, "size": clip.size},
                               with_reason=True)  # fmt: skip
        if not res["ok"].all():
            raise RuntimeError(f"teacher clips failed to decode: {set(res['reason'][~res['ok']])}")
        decoded.append(res["clip"])
    decode_sec = (time.perf_counter() - t0) / len(rows)
    clips = torch.from_numpy(np.concatenate(decoded))
    cpu = torch.device("cpu")
    x = model_input(clips[:batch], spec)
    with torch.inference_mode():
        outs = model(x)  # the warm-up call; its outputs fill the features file below
        fwd = _time_calls(lambda: model(x), cpu, 0, repeats) / batch
    gpu_fwd = None
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        gmodel = model.to(dev)
        reps = -(-gpu_batch // len(clips))
        xg = model_input(clips.repeat(reps, 1, 1, 1, 1)[:gpu_batch], spec).to(dev)
        with torch.inference_mode(), autocast(dev, True):
            gpu_fwd = _time_calls(lambda: gmodel(xg), dev, 2, 5) / gpu_batch
        model.to(cpu)
    # a features file for the clips that ran forward, exactly as the features pass writes it
    src = TeacherSource(cfg, cfg.name, clip, spec.crop_size, "random")
    feat_rows = [dict(r) for r in rows[:batch]]
    res_rows = [{"teacher_feature": outs.features[i].float().numpy(), "teacher_logits": outs.logits[i].float().numpy(),
                 "first_sec": 0.0, "last_sec": 1.0, "padded": 0} for i in range(batch)]  # fmt: skip
    full, empty = out / "features.parquet", out / "features-empty.parquet"
    ftable = feature_table(feat_rows, res_rows, src)
    fstore.write_features(ftable, str(full), "scale", cfg.name)
    fstore.write_features(ftable.slice(0, 0), str(empty), "scale", cfg.name)
    log(
        f"  teacher {cfg.name}: decoded {len(rows)} dense clips, forward on {batch} (feature dim {model.feature_dim})"
    )
    return {"name": f"{cfg.name} {clip.num_frames}x{clip.sample_rate}@{spec.crop_size} (decoded at {clip.size})",
            "decode_sec": decode_sec, "forward_sec": fwd, "forward_gpu_sec": gpu_fwd,
            "row_bytes": _marginal_bytes(full, batch, empty), "feature_dim": int(model.feature_dim),
            "num_classes": int(model.num_classes), "batch": batch}  # fmt: skip


def measure_image_features(clip_files: Sequence[str], clips: int = 8, gpu_batch: int = 64,
                           log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """The f_I cache's work on stored rows: JPEG decode of each frame pool, frozen ResNet-18 over it."""
    import numpy as np
    import pyarrow.parquet as pq
    import torch

    from egodistill.features.image_cache import decode_pool, to_input
    from egodistill.models.image import ImageEncoder

    cols = [
        "frames",
        "frame_time_sec",
        "first_frame",
        "last_frame",
        "first_frame_time_sec",
        "last_frame_time_sec",
    ]
    rows: list[dict[str, Any]] = []
    for f in clip_files:
        rows += pq.read_table(f, columns=cols).to_pylist()
        if len(rows) >= clips:
            break
    rows = rows[:clips]
    t0 = time.perf_counter()
    pools = [decode_pool(r, None)[0] for r in rows]
    decode_sec = (time.perf_counter() - t0) / len(rows)
    with _random_weights_quietly():
        encoder = ImageEncoder("none", frozen=True, allow_download=False).eval()
    x = to_input(np.concatenate(pools))
    cpu = torch.device("cpu")
    with torch.inference_mode():
        fwd = _time_calls(lambda: encoder(x), cpu, 1, 2) / len(rows)
    gpu_fwd = None
    if torch.cuda.is_available():
        from egodistill.training.ray_wiring import autocast

        dev = torch.device("cuda")
        genc = encoder.to(dev)
        per = len(pools[0])
        xg = x.repeat(-(-gpu_batch // len(rows)), 1, 1, 1)[: gpu_batch * per].to(dev)
        with torch.inference_mode(), autocast(dev, True):
            gpu_fwd = _time_calls(lambda: genc(xg), dev, 2, 5) / (len(xg) / per)
    log(f"  f_I: {len(rows)} frame pools of {len(pools[0])} frames at {pools[0].shape[1]} px")
    return {"decode_sec": decode_sec, "forward_sec": fwd, "forward_gpu_sec": gpu_fwd,
            "pool_frames": int(len(pools[0])), "clips": len(rows)}  # fmt: skip


def measure_student_step(feature_dim: int, num_classes: int, batch: int = 64, steps: int = 4,
                         log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """Stage-2 step of the paper's EgoDistill student on cached f_I features (what an epoch runs)."""
    import torch

    from egodistill.methods.egodistill.config import DistillJobConfig
    from egodistill.methods.egodistill.steps import EgoDistillTask
    from egodistill.models.config import StudentConfig
    from egodistill.models.student import build_student
    from egodistill.training.loop import StepContext

    with tempfile.TemporaryDirectory() as ws:
        cfg = DistillJobConfig(workspace=ws, efficiency=False)
    scfg = StudentConfig(**{**cfg.student.model_dump(), "image_weights": "none", "num_classes": num_classes,
                            "teacher_feature_dim": feature_dim})  # fmt: skip
    task = EgoDistillTask("distill", cfg, scfg)
    pool_frames = cfg.data.num_frames + 2

    def run(device: Any, b: int) -> float:
        torch.manual_seed(0)
        with _random_weights_quietly():
            model = build_student(scfg)
        model.image_encoder = None  # the cache replaces f_I in training
        model.to(device).train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        data = {
            "label": torch.randint(0, num_classes, (b,)),
            "imu": torch.randn(b, scfg.imu_length, scfg.imu_channels),
            "pool": torch.randn(b, pool_frames, 512),
            "select": torch.arange(scfg.num_frames).repeat(b, 1),
            "teacher_feature": torch.randn(b, feature_dim).half(),
            "teacher_logits": torch.randn(b, num_classes),
        }
        data = {k: v.to(device) for k, v in data.items()}

        ctx = StepContext(device, False, torch.Generator().manual_seed(0))

        def one() -> None:
            loss = task.step(model, data, ctx).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return _time_calls(one, device, 2, steps) / b

    cpu_sec = run(torch.device("cpu"), batch)
    gpu_sec = run(torch.device("cuda"), batch) if torch.cuda.is_available() else None
    log(f"  student: {scfg.variant} N={scfg.num_frames}, batch {batch}, {steps} timed steps")
    return {"sec": cpu_sec, "gpu_sec": gpu_sec, "batch": batch, "variant": scfg.variant,
            "num_frames": scfg.num_frames}  # fmt: skip


def measure_costs(
    workdir: Path | None = None,
    *,
    videos: int = 2,
    seconds: float = 20.0,
    width: int = 160,
    height: int = 120,
    teacher: str = "paper",
    teacher_batch: int = 2,
    image_clips: int = 8,
    student_batch: int = 64,
    log: _Log = _noop,
) -> ClipCosts:
    """Measure every per-clip cost with the platform's code on a fresh tiny synthetic world.

    CPU timings run with one torch thread and one decoder thread, so they are one core's; GPU timings
    are added when CUDA is available. ``workdir`` (default: a temporary folder, removed) holds the world
    and the Parquet files written.
    """
    import torch

    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="scale_model_") as tmp:
            return measure_costs(Path(tmp), videos=videos, seconds=seconds, width=width, height=height,
                                 teacher=teacher, teacher_batch=teacher_batch, image_clips=image_clips,
                                 student_batch=student_batch, log=log)  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        root = make_world(workdir, videos, seconds, width, height)
        manifest = build_manifest(IndexConfig(dataset="ego4d", root=str(root))).manifest
        rows = dense_manifest_rows(manifest)
        log(f"  world: {videos} videos x {seconds:g} s at {width}x{height}, {len(rows)} dense clips "
            f"({time.perf_counter() - t0:.1f} s to generate and index)")  # fmt: skip
        ing = measure_ingest(rows, workdir / "ingest", log)
        tea = measure_teacher(rows, teacher, workdir, batch=teacher_batch, log=log)
        img = measure_image_features(ing["files"], image_clips, log=log)
        stu = measure_student_step(tea["feature_dim"], tea["num_classes"], student_batch, log=log)
    finally:
        torch.set_num_threads(threads)
    context = {
        "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores visible)",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0],
        "world": f"{videos} videos x {seconds:g} s, {width}x{height} H.264 30 fps",
        "dense_clips": len(rows),
        "ingest_clips": ing["clips"],
        "teacher": tea["name"],
        "teacher_preset": teacher,
        "teacher_batch_cpu": tea["batch"],
        "image_pool_frames": img["pool_frames"],
        "student": f"{stu['variant']} N={stu['num_frames']}",
        "student_batch": stu["batch"],
        "measured_sec": round(time.perf_counter() - t0, 1),
    }
    return ClipCosts(
        ingest_sec=ing["sec"], ingest_decode_sec=ing["decode_sec"], teacher_decode_sec=tea["decode_sec"],
        teacher_forward_sec=tea["forward_sec"], image_decode_sec=img["decode_sec"],
        image_forward_sec=img["forward_sec"], student_step_sec=stu["sec"], clip_row_bytes=ing["row_bytes"],
        feature_row_bytes=tea["row_bytes"], source_pixels=width * height,
        teacher_forward_gpu_sec=tea["forward_gpu_sec"], image_forward_gpu_sec=img["forward_gpu_sec"],
        student_step_gpu_sec=stu["gpu_sec"], context=context,
    )  # fmt: skip


__all__ = ["dense_manifest_rows", "make_world", "measure_costs", "measure_image_features", "measure_ingest",
           "measure_student_step", "measure_teacher", "teacher_config"]
