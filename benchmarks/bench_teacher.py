"""Per-clip cost of the teachers and of the features pass: decode + forward, next to GMACs and params.

For each teacher: GMACs (multiply-adds, FlopCounterMode FLOPs / 2, the seed paper's convention),
parameters, CPU forward latency per clip, and the features pass's per-clip work measured in-process
the way its Ray Data stages do it: decoding the dense clips of a video in one forward walk
(:func:`egodistill.teacher.dense.decode_clips`, clips 2.5 s apart like consecutive segments),
then centre crop + normalisation + forward in batches. Ray's scheduling overhead is not included
(see ``egodistill features`` logs for end-to-end clips/s).

    python benchmarks/bench_teacher.py                  # tiny3d (demo + default) and r2plus1d_18, mvit_v2_s
    python benchmarks/bench_teacher.py --skip-heavy     # only the tiny3d teachers
    python benchmarks/bench_teacher.py --video some.mp4 # decode from your own video

Without ``--video`` a synthetic Ego4D-layout video (the demo's 160x120 at 30 fps) is generated first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from egodistill.evaluation.efficiency import count_macs, count_params, cpu_latency
from egodistill.models.config import TeacherConfig
from egodistill.models.teachers import build_teacher
from egodistill.teacher.augment import model_input
from egodistill.teacher.dense import ClipRequest, ClipSpec, decode_clips

TEACHERS = [
    (
        "tiny3d (demo preset)",
        TeacherConfig(name="tiny3d", weights="none", crop_size=48, tiny_width=16, num_classes=11),
    ),
    ("tiny3d (default)", TeacherConfig(name="tiny3d", weights="none", num_classes=11)),
    ("r2plus1d_18", TeacherConfig(name="r2plus1d_18", weights="none", num_classes=94)),
    ("mvit_v2_s (MotionFormer stand-in)", TeacherConfig(name="mvit_v2_s", weights="none", num_classes=94)),
]


def synthetic_video(workdir: Path, seconds: float) -> tuple[str, float]:
    from egodistill.synthetic import SynthConfig, generate

    out = workdir / "synth"
    generate(SynthConfig(out=str(out), videos=1, seconds=seconds, audio=False, workers=1))
    video = next(out.rglob("*.mp4"))
    return str(video), 30.0


def measure(name: str, cfg: TeacherConfig, video: str, fps: float, clips: int, batch: int) -> dict:
    start = time.perf_counter()
    model = build_teacher(cfg).eval()
    spec = model.input_spec
    x = torch.rand(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
    heavy = spec.crop_size >= 112
    gmacs = count_macs(model, (x,))
    latency = cpu_latency(model, (x,), batch=1 if heavy else batch, warmup=1, repeats=2 if heavy else 5)

    clip = ClipSpec(spec.num_frames, spec.sample_rate, int(spec.resize_size[0]))
    n = 4 if heavy else clips
    requests = [ClipRequest(i, 2.0 + 2.5 * i, fps) for i in range(n)]
    t0 = time.perf_counter()
    decoded = decode_clips(video, requests, clip)
    decode = (time.perf_counter() - t0) / n
    frames = torch.from_numpy(np.stack([d.frames for d in decoded if d.ok]))
    bsz = 1 if heavy else batch
    t0 = time.perf_counter()
    with torch.inference_mode():
        for k in range(0, len(frames), bsz):
            model(model_input(frames[k : k + bsz], spec))
    forward = (time.perf_counter() - t0) / len(frames)
    print(f"  measured {name} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return {
        "teacher": name,
        "input": f"{spec.num_frames}x{spec.sample_rate} @{spec.crop_size} (decoded at {clip.size})",
        "gmacs": gmacs,
        "params_m": count_params(model) / 1e6,
        "latency_ms": 1e3 * latency,
        "decode_ms": 1e3 * decode,
        "pass_ms": 1e3 * (decode + forward),
        "failed": sum(not d.ok for d in decoded),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-heavy", action="store_true", help="only the tiny3d teachers")
    parser.add_argument("--video", help="video to decode from (default: a generated 160x120 synthetic video)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of --video")
    parser.add_argument("--clips", type=int, default=24, help="clips decoded per tiny teacher (2.5 s apart)")
    parser.add_argument("--batch", type=int, default=16, help="forward batch for the tiny teachers")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", RuntimeWarning)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.video:
            video, fps = args.video, args.fps
        else:
            print("  generating a 70 s synthetic video (160x120, 30 fps)...", file=sys.stderr, flush=True)
            video, fps = synthetic_video(Path(tmp), 2.0 + 2.5 * args.clips + 3.0)
        rows = [
            measure(name, cfg, video, fps, args.clips, args.batch)
            for name, cfg in TEACHERS
            if not (args.skip_heavy and cfg.name != "tiny3d")
        ]
    print(f"teacher cost per clip (CPU, {torch.get_num_threads()} torch threads; GMACs = multiply-adds)")
    head = ("teacher", "input", "GMACs", "params", "forward", "decode", "features pass")
    table = [head] + [
        (
            r["teacher"],
            r["input"],
            f"{r['gmacs']:.3f}",
            f"{r['params_m']:.2f} M",
            f"{r['latency_ms']:.1f} ms",
            f"{r['decode_ms']:.1f} ms",
            f"{r['pass_ms']:.1f} ms",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        "forward: median CPU latency per clip (batch 1 for r2plus1d_18/mvit_v2_s, else --batch); decode: dense "
        "clip decoding per clip in one walk over the video; features pass: decode + crop/normalise + forward."
    )
    if any(r["failed"] for r in rows):
        print(
            "warning: some clips failed to decode: "
            + ", ".join(f"{r['teacher']}={r['failed']}" for r in rows)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
