"""Long-video inference: the student's time to a full timeline vs the teacher's, with the decode floor.

The seed paper's headline: a 50-minute egocentric video recognised in 36 s by the student (GPU)
instead of 25 minutes by the teacher. This measures, side by side in one run on the same video:

* ``egodistill predict`` (the whole Ray Data job: decode tasks, actor pool, per-video Parquet,
  segments, timeline) for each frame policy (exact, keyframe);
* the raw PyAV decode of the same frames (no resize, no model, no Ray): the floor the student
  pipeline can approach;
* the teacher (dense 16 x 4 clips, decoded and run per window) on a measured slice of the windows,
  extrapolated to the whole video and labelled so.

The video is synthetic 1920x1080 at 30 fps (GOP ``--gop`` frames), ``--minutes`` long (50 by default):
a ``--base-seconds`` clip is encoded once and its packets remuxed back to back with shifted
timestamps (real bytes to demux and decode, no hours of encoding), with an Ego4D-format IMU CSV at
200 Hz beside it. The student is the paper's architecture (ResNet-18 f_I at 224 px, 1 frame, the
dilated IMU CNN, fusion to 768) with random weights unless ``--student DIR`` is given; timing does
not depend on the weights.

    python benchmarks/bench_long_video.py                   # 50 minutes (long on a laptop CPU)
    python benchmarks/bench_long_video.py --minutes 2       # quick
    python benchmarks/bench_long_video.py --teacher tiny3d  # a small teacher instead of mvit_v2_s
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import av
import numpy as np

WINDOW_SEC = 422 / 198.0


def _frames(width: int, height: int, count: int, seed: int = 0):
    """Cheap moving content: a textured panorama panned and a bright block sliding, per frame."""
    rng = np.random.default_rng(seed)
    block = 24  # texture scale: about 8 Mbit/s at crf 28, like a head-camera recording
    small = rng.integers(0, 255, (height // block + 1, (width * 2) // block + 1, 3), dtype=np.uint8)
    pano = np.repeat(np.repeat(small, block, 0), block, 1)[:height, : 2 * width]
    for i in range(count):
        x = (i * 7) % width
        img = np.ascontiguousarray(pano[:, x : x + width])
        y = (i * 5) % (height - 120)
        img[y : y + 120, 100:300] = 250
        yield img


def make_long_video(path: Path, minutes: float, base_seconds: float, fps: int, gop: int) -> float:
    """Encode ``base_seconds`` at 1080p and remux it back to back to ``minutes``; returns the duration."""
    base = path.with_name("base.mp4")
    n = int(round(base_seconds * fps))
    with av.open(str(base), "w") as out:
        s = out.add_stream("libx264", rate=fps, options={"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
                                                         "preset": "ultrafast", "crf": "28"})  # fmt: skip
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for img in _frames(1920, 1080, n):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    total = minutes * 60.0
    loops = max(1, math.ceil(total / base_seconds))
    with av.open(str(path), "w") as out:
        with av.open(str(base)) as src:
            template = src.streams.video[0]
            s_out = out.add_stream_from_template(template)
            tb = template.time_base
        step = int(round(base_seconds / tb))
        for k in range(loops):
            with av.open(str(base)) as src:
                s_in = src.streams.video[0]
                for p in src.demux(s_in):
                    if p.dts is None:
                        continue
                    if (p.pts * tb) + k * base_seconds >= total:
                        continue
                    p.pts += k * step
                    p.dts += k * step
                    p.stream = s_out
                    out.mux(p)
    base.unlink()
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return float(st.duration * st.time_base) if st.duration else c.duration / av.time_base


def write_imu(path: Path, seconds: float, rate_hz: float = 200.0) -> Path:
    from egodistill.datasets.imu import EGO4D_IMU_HEADER

    t = np.arange(0.0, seconds * 1000.0, 1000.0 / rate_hz)
    g = np.sin(t[:, None] / 300.0 + np.arange(3))
    a = np.array([0.0, 0.0, 9.81]) + 0.1 * np.cos(t[:, None] / 500.0 + np.arange(3))
    data = np.column_stack([np.zeros_like(t), t, t, g, a])
    np.savetxt(path, data, delimiter=",", header=",".join(EGO4D_IMU_HEADER), comments="", fmt="%.4f")
    return path


def save_paper_student(directory: Path) -> Path:

    from egodistill.models.config import StudentConfig
    from egodistill.models.student import build_student
    from egodistill.training.export import write_export

    cfg = StudentConfig(variant="egodistill", num_classes=94, num_frames=1, image_weights="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_student(cfg)
    info = {"classes": [f"verb{i}" for i in range(94)], "variant": "egodistill", "frame_size": 224}
    write_export(directory, "student", model.state_dict(), cfg, info)  # the layout training writes
    return directory


def raw_decode_exact(video: str, targets: list[float]) -> tuple[float, int]:
    """Plain PyAV: seek to the keyframe before each time (when ahead), decode forward to it."""
    t0 = time.perf_counter()
    decoded = 0
    with av.open(video) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        pos = -1.0
        it = None
        for t in sorted(targets):
            if it is None or t - pos > 1.5:
                c.seek(int(max(0.0, t - 0.05) / tb), stream=s, backward=True)
                it = c.decode(s)
            for f in it:
                decoded += 1
                pos = float(f.pts * tb)
                if pos >= t - 0.5 / 30:
                    break
    return time.perf_counter() - t0, decoded


def raw_decode_keyframes(video: str, targets: list[float]) -> tuple[float, int]:
    """Plain PyAV: demux every packet, decode only the keyframe nearest each time."""
    t0 = time.perf_counter()
    decoded = 0
    with av.open(video) as c:
        s = c.streams.video[0]
        tb = s.time_base
        keys = []
        for p in c.demux(s):
            if p.size and p.is_keyframe:
                keys.append((float(p.pts * tb), p))
        times = np.array([k[0] for k in keys])
        chosen = sorted({int(np.argmin(np.abs(times - t))) for t in targets})
        ctx = s.codec_context
        for i in chosen:
            ctx.flush_buffers()
            frames = ctx.decode(keys[i][1]) or ctx.decode(None)
            decoded += len(frames)
    return time.perf_counter() - t0, decoded


def teacher_slice(video: str, name: str, windows: list[float], fps: float) -> tuple[float, str]:
    """Seconds per window of the teacher (dense clip decode + forward), measured on ``windows`` centres."""
    import torch

    from egodistill.models.config import TeacherConfig
    from egodistill.models.teachers import build_teacher
    from egodistill.teacher.augment import model_input
    from egodistill.teacher.dense import ClipRequest, ClipSpec, decode_clips

    cfg = TeacherConfig(name=name, weights="none", num_classes=94)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_teacher(cfg).eval()
    spec = model.input_spec
    clip = ClipSpec(spec.num_frames, spec.sample_rate, int(spec.resize_size[0]))
    t0 = time.perf_counter()
    decoded = decode_clips(video, [ClipRequest(i, c, fps) for i, c in enumerate(windows)], clip)
    with torch.inference_mode():
        for d in decoded:
            if d.ok:
                model(model_input(torch.from_numpy(d.frames[None]), spec))
    per = (time.perf_counter() - t0) / len(windows)
    return per, f"{name} {spec.num_frames}x{spec.sample_rate} @{spec.crop_size}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=50.0, help="video length (default 50, the paper's)")
    parser.add_argument("--base-seconds", type=float, default=20.0, help="encoded clip that is repeated")
    parser.add_argument("--gop", type=int, default=30, help="keyframe interval in frames (30 = 1 s)")
    parser.add_argument(
        "--student", help="a trained student directory (default: the paper's, random weights)"
    )
    parser.add_argument("--teacher", default="mvit_v2_s", help="teacher from the zoo (default mvit_v2_s)")
    parser.add_argument("--teacher-windows", type=int, default=4, help="windows in the teacher's slice")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--workdir", help="keep the video and outputs here (default: a temp folder)")
    args = parser.parse_args(argv)

    import ray

    from egodistill.inference.config import PredictConfig
    from egodistill.inference.pipeline import run_predict
    from egodistill.inference.windows import plan_windows

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        video = work / "long.mp4"
        t0 = time.perf_counter()
        print(f"  writing a {args.minutes:g}-minute 1080p30 video + IMU...", file=sys.stderr, flush=True)
        duration = make_long_video(video, args.minutes, args.base_seconds, 30, args.gop)
        imu = write_imu(work / "long.csv", duration)
        print(f"  written in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        student = Path(args.student) if args.student else save_paper_student(work / "student")
        plan = plan_windows(duration, WINDOW_SEC)
        targets = [t for w in plan for t in w.frame_times]
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        rows = []
        for policy in ("exact", "keyframe"):
            cfg = PredictConfig(student=str(student), videos=[str(video)], imus=[str(imu)],
                                out=str(work / f"pred-{policy}"), frames={"policy": policy})  # fmt: skip
            t0 = time.perf_counter()
            summary = run_predict(cfg)
            wall = time.perf_counter() - t0
            if not summary.ok:
                print("\n".join(summary.lines()), file=sys.stderr)
                return 1
            rows.append((f"student, {policy} frames (egodistill predict)", wall,
                         f"max frame error {1000 * summary.max_frame_error_sec:.0f} ms"))  # fmt: skip
        ray.shutdown()
        floor_exact, n_exact = raw_decode_exact(str(video), targets)
        rows.append(("raw PyAV decode, exact frames (floor)", floor_exact, f"{n_exact} frames decoded"))
        floor_key, n_key = raw_decode_keyframes(str(video), targets)
        rows.append(("raw PyAV decode, nearest keyframes (floor)", floor_key, f"{n_key} frames decoded"))
        step = max(1, len(plan) // args.teacher_windows)
        sample = [plan[i].center_sec for i in range(0, len(plan), step)][: args.teacher_windows]
        per, what = teacher_slice(str(video), args.teacher, sample, 30.0)
        rows.append((f"teacher {what}: EXTRAPOLATED from {len(sample)} windows", per * len(plan),
                     f"{per:.2f} s/window measured"))  # fmt: skip

    import torch

    print(f"\nlong video: {duration / 60:.1f} min 1920x1080 @30 fps, GOP {args.gop} frames; "
          f"{len(plan)} windows of {WINDOW_SEC:.2f} s, 1 frame each; CPU, {torch.get_num_threads()} torch threads")  # fmt: skip
    print(f"{'':58s} {'wall s':>9s} {'x realtime':>11s}  note")
    for name, wall, note in rows:
        print(f"{name:58s} {wall:9.1f} {duration / wall:11.1f}  {note}")
    student_key, floor = rows[1][1], rows[3][1]
    print(f"student (keyframe) / decode floor (keyframes): {student_key / floor:.1f}x; "
          f"teacher (extrapolated) / student (keyframe): {rows[-1][1] / student_key:.1f}x; "
          f"exact / keyframe student: {rows[0][1] / student_key:.1f}x")  # fmt: skip
    print("paper (GPU, 50 min): student 36 s, teacher 25 min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
