"""Throughput of ``egodistill synth``: video-seconds produced per wall-second.

Generates the default demo dataset (4 videos x 90 s at 160x120, all cores) for each layout into a
temporary folder and prints wall time, throughput, and the render/encode time summed over
the workers, plus a single-process render rate in frames per CPU-second.

    .venv/bin/python benchmarks/bench_synth.py                 # both layouts, demo defaults
    .venv/bin/python benchmarks/bench_synth.py --layouts ego4d --videos 2 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from egodistill.synthetic import SynthConfig, generate
from egodistill.synthetic.world import build_world


def render_rate(width: int, height: int, frames: int = 600) -> float:
    """Frames per CPU-second of one process rendering a 90 s video's first frames (no encoding)."""
    world = build_world(SynthConfig(width=width, height=height, seconds=90.0), 0)
    t0 = time.process_time()
    for _ in world.frames(np.arange(frames) / 30.0):
        pass
    return frames / (time.process_time() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layouts", nargs="+", default=["ego4d", "epic"], choices=["ego4d", "epic"])
    p.add_argument("--videos", type=int, default=SynthConfig.model_fields["videos"].default)
    p.add_argument("--seconds", type=float, default=SynthConfig.model_fields["seconds"].default)
    p.add_argument("--width", type=int, default=SynthConfig.model_fields["width"].default)
    p.add_argument("--height", type=int, default=SynthConfig.model_fields["height"].default)
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args()

    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    rate = render_rate(args.width, args.height)
    print(f"render only, one process: {rate:.0f} frames per CPU-second at {args.width}x{args.height}")
    for layout in args.layouts:
        with tempfile.TemporaryDirectory(prefix=f"bench_synth_{layout}_") as out:
            cfg = SynthConfig(
                layout=layout,
                out=out,
                videos=args.videos,
                seconds=args.seconds,
                width=args.width,
                height=args.height,
                workers=args.workers,
            )
            s = generate(cfg)
            frames = round(s.total_seconds * cfg.frame_rate)
            print(
                f"{layout}: {s.videos} videos x {args.seconds:.0f} s at {cfg.width}x{cfg.height} {cfg.frame_rate:.0f} fps "
                f"({frames} frames, {s.bytes_written / 1e6:.1f} MB): wall {s.wall_sec:.1f} s, "
                f"throughput {s.throughput:.2f} video-s/wall-s, {frames / s.wall_sec:.0f} frames/wall-s; "
                f"summed over workers: render {s.render_sec:.1f} s, encode {s.encode_sec:.1f} s"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
