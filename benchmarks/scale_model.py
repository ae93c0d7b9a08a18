"""Scale model: per-clip costs measured here, projected to the full Ego4D on a few cluster shapes.

Measures (about 1-2 minutes on 2 cores, most of it the paper teacher's CPU forward) with the
platform's own code on a fresh tiny synthetic world: ingest per clip (the Ray Data map function called
in-process, one core), the features pass's dense decode and the teacher forward, the f_I cache,
a stage-2 training step, and Parquet bytes per row. Then projects ingest, teacher features, f_I cache
and stage-2 training time, and storage, for the corpus on: this machine, --cpu-nodes CPU nodes, and
--gpu-nodes GPU nodes plus the CPU nodes. Formulae and caveats: docs/scale.md.

    python benchmarks/scale_model.py                                # measure here, default shapes
    python benchmarks/scale_model.py --save-costs costs.json        # keep the measured costs
    python benchmarks/scale_model.py --costs-json gpu_costs.json    # project costs measured elsewhere
    python benchmarks/scale_model.py --annotated-fraction 0.1 --gpu-speedup 300 --decode-scale 20

Every per-clip figure printed is measured in this run or read from --costs-json (both say where);
every other input is listed under "assumed" with each projection.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from egodistill.capacity.measure import measure_costs
from egodistill.capacity.model import (
    DEFAULT_GPU_SPEEDUP_STUDENT,
    DEFAULT_GPU_SPEEDUP_TEACHER,
    ClipCosts,
    ClusterSpec,
    CorpusSpec,
    Projection,
    project,
)


def human_sec(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def human_bytes(b: float) -> str:
    for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= k:
            return f"{b / k:.2f} {unit}"
    return f"{b:.0f} B"


def print_costs(c: ClipCosts, source: str) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{1e3 * v:10.2f} ms"

    print(f"\nper-clip costs ({source})")
    for k, v in c.context.items():
        print(f"  {k}: {v}")
    rows = [
        ("ingest, whole task / clip, 1 core", ms(c.ingest_sec), "-"),
        ("  of which video decode + resize/JPEG", ms(c.ingest_decode_sec), "-"),
        ("features: dense clip decode, 1 core", ms(c.teacher_decode_sec), "-"),
        ("features: teacher forward", ms(c.teacher_forward_sec), ms(c.teacher_forward_gpu_sec)),
        ("f_I cache: JPEG decode of pool, 1 core", ms(c.image_decode_sec), "-"),
        ("f_I cache: ResNet-18 over pool", ms(c.image_forward_sec), ms(c.image_forward_gpu_sec)),
        ("stage-2 train step / clip", ms(c.student_step_sec), ms(c.student_step_gpu_sec)),
    ]
    print(f"  {'cost':42} {'CPU core':>13} {'GPU':>13}")
    for name, cpu, gpu in rows:
        print(f"  {name:42} {cpu:>13} {gpu:>13}")
    print(f"  {'clips Parquet bytes / row':42} {c.clip_row_bytes:13,.0f}")
    print(f"  {'teacher features Parquet bytes / row':42} {c.feature_row_bytes:13,.0f}")
    print(f"  decode times measured on {c.source_pixels:,}-pixel video")


def print_projection(p: Projection) -> None:
    print(f"\n== {p.cluster.name}: {p.cluster.describe()}")
    print(f"  {'stage':44} {'wall':>11} {'core-hours':>11} {'GPU-hours':>10}  bound")
    for s in p.stages:
        print(
            f"  {s.stage:44} {human_sec(s.wall_sec):>11} {s.core_sec / 3600:11,.0f} {s.gpu_sec / 3600:10,.0f}  {s.bound}"
        )
    print(f"  {'total (stages run one after another)':44} {human_sec(p.total_wall_sec):>11}")
    print("  storage: " + ", ".join(f"{k} {human_bytes(v)}" for k, v in p.storage_bytes.items()))
    print("  assumed:")
    for a in p.assumptions:
        print(f"    - {a}")


def resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from e
    return w, h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    c = ap.add_argument_group("corpus")
    c.add_argument("--hours", type=float, default=3670.0, help="video hours (full Ego4D: 3670)")
    c.add_argument("--annotated-fraction", type=float, default=1.0,
                   help="share of the hours covered by clips (1: dense clips over everything; assumed)")  # fmt: skip
    c.add_argument("--clips", type=int, help="clip count (overrides hours x fraction / stride)")
    c.add_argument("--epochs", type=int, help="stage-2 epochs (default: the paper preset's)")
    c.add_argument(
        "--source-res", type=resolution, default=(1920, 1080), help="real video size (assumed 1920x1080)"
    )
    c.add_argument(
        "--decode-scale", type=float, help="decode cost at --source-res / measured (default: pixel ratio)"
    )
    c.add_argument(
        "--video-mbps", type=float, help="source bitrate for an I/O bound (assumed; default: no I/O model)"
    )
    k = ap.add_argument_group("clusters")
    k.add_argument("--cpu-nodes", type=int, default=8)
    k.add_argument("--cores-per-node", type=int, default=16)
    k.add_argument("--gpu-nodes", type=int, default=8)
    k.add_argument("--gpus-per-node", type=int, default=1)
    k.add_argument("--gpu-node-cores", type=int, default=16, help="CPU cores on each GPU node")
    k.add_argument("--gpu-speedup", type=float, default=None,
                   help=f"one GPU / one CPU core for the teacher and f_I forward when not measured "
                        f"(default {DEFAULT_GPU_SPEEDUP_TEACHER:g}, assumed)")  # fmt: skip
    k.add_argument(
        "--gpu-speedup-student",
        type=float,
        default=None,
        help=f"same for the stage-2 step (default {DEFAULT_GPU_SPEEDUP_STUDENT:g}, assumed)",
    )
    k.add_argument("--storage-gbps", type=float, help="aggregate video read bandwidth, GB/s (assumed)")
    m = ap.add_argument_group("measurement")
    m.add_argument(
        "--costs-json", help="use costs saved by --save-costs (e.g. on a GPU machine) instead of measuring"
    )
    m.add_argument("--save-costs", help="write the measured costs to this JSON file")
    m.add_argument("--teacher", default="paper", choices=("paper", "demo", "smoke"), help="teacher preset")
    m.add_argument("--videos", type=int, default=2)
    m.add_argument("--seconds", type=float, default=20.0)
    m.add_argument(
        "--synth-res", type=resolution, default=(160, 120), help="synthetic video size (demo: 160x120)"
    )
    m.add_argument("--workdir", help="keep the world and Parquet files here (default: temporary)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    if args.costs_json:
        costs = ClipCosts.from_json(Path(args.costs_json).read_text())
        source = f"loaded from {args.costs_json}, measured on {costs.context.get('machine', 'unknown')}"
    else:
        t0 = time.perf_counter()
        print(
            f"measuring per-clip costs (load average {os.getloadavg()[0]:.1f})...",
            file=sys.stderr,
            flush=True,
        )
        w, h = args.synth_res
        costs = measure_costs(
            Path(args.workdir) if args.workdir else None, videos=args.videos, seconds=args.seconds, width=w,
            height=h, teacher=args.teacher, log=lambda s: print(s, file=sys.stderr, flush=True),
        )  # fmt: skip
        source = f"measured in this run, {time.perf_counter() - t0:.0f} s"
    if args.save_costs:
        Path(args.save_costs).write_text(costs.to_json() + "\n")
        print(f"costs written to {args.save_costs}", file=sys.stderr)
    print_costs(costs, source)

    corpus = CorpusSpec(
        hours=args.hours, annotated_fraction=args.annotated_fraction, clips=args.clips, stage2_epochs=args.epochs,
        source_width=args.source_res[0], source_height=args.source_res[1], decode_scale=args.decode_scale,
        video_mbps=args.video_mbps,
    )  # fmt: skip
    print(
        f"\ncorpus: {corpus.hours:g} h, {corpus.num_clips:,} clips ({corpus.window_sec:.3f} s windows every "
        f"{corpus.stride_sec:.3f} s over {corpus.annotated_fraction:g} of the hours), {corpus.train_share:.0%} train, "
        f"{corpus.epochs} stage-2 epochs at global batch {corpus.global_batch}"
    )
    here = os.cpu_count() or 1
    speed = {"gpu_speedup_teacher": args.gpu_speedup, "gpu_speedup_student": args.gpu_speedup_student,
             "storage_gbps": args.storage_gbps}  # fmt: skip
    clusters = [ClusterSpec("this machine", cpu_nodes=1, cores_per_node=here, **speed)]
    if args.cpu_nodes:
        clusters.append(
            ClusterSpec("CPU cluster", cpu_nodes=args.cpu_nodes, cores_per_node=args.cores_per_node, **speed)
        )
    if args.gpu_nodes:
        clusters.append(
            ClusterSpec(
                "GPU + CPU cluster",
                cpu_nodes=args.cpu_nodes,
                cores_per_node=args.cores_per_node,
                gpu_nodes=args.gpu_nodes,
                gpus_per_node=args.gpus_per_node,
                gpu_node_cores=args.gpu_node_cores,
                **speed,
            )  # fmt: skip
        )
    for cluster in clusters:
        print_projection(project(costs, corpus, cluster))
    print(
        "\nnot modelled: Ray scheduling and start-up, stage-1 pretraining, teacher training, per-epoch "
        "evaluation, all-reduce; see docs/scale.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
