"""Efficiency of the teachers and the EgoDistill student: GMACs, parameters, CPU latency per clip.

GMACs are multiply-adds (FlopCounterMode FLOPs / 2), the seed paper's convention (its "GFLOPs").
Latency is the median CPU wall time of a batched forward divided by the batch size.

    python benchmarks/bench_models.py                 # everything (mvit_v2_s alone needs ~40 s on 2 cores)
    python benchmarks/bench_models.py --skip-heavy    # without r2plus1d_18 and mvit_v2_s
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch

from egodistill.evaluation.efficiency import count_macs, count_params, cpu_latency
from egodistill.models.config import StudentConfig, TeacherConfig
from egodistill.models.student import build_student
from egodistill.models.teachers import build_teacher

PAPER = {"gmacs": 1.91, "params_m": 20.56, "runtime_ms": 0.25}  # seed paper Table 3, EgoDistill


def _row(name, inputs_desc, model, example, batch, warmup, repeats, params=None) -> dict:
    start = time.perf_counter()
    gmacs = count_macs(model, example)
    seconds = cpu_latency(model, example, batch=batch, warmup=warmup, repeats=repeats)
    row = {
        "model": name,
        "input": inputs_desc,
        "gmacs": gmacs,
        "params_m": (count_params(model) if params is None else params) / 1e6,
        "batch": batch,
        "ms_per_clip": seconds * 1e3,
    }
    print(
        f"  measured {name} [{inputs_desc}] in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-heavy", action="store_true", help="skip r2plus1d_18 and mvit_v2_s")
    parser.add_argument("--batch", type=int, default=32, help="batch for the student's latency (default 32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", RuntimeWarning)  # random weights are fine for counting and timing
    torch.manual_seed(0)
    rows = []

    tiny = build_teacher(TeacherConfig(name="tiny3d", weights="none"))
    spec = tiny.input_spec
    clip = torch.randn(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
    shape = f"{spec.num_frames}x{spec.crop_size}x{spec.crop_size}"
    rows.append(_row("teacher tiny3d", shape, tiny, (clip,), args.batch, args.warmup, args.repeats))
    if not args.skip_heavy:
        for name in ("r2plus1d_18", "mvit_v2_s"):
            teacher = build_teacher(TeacherConfig(name=name, weights="none"))
            spec = teacher.input_spec
            clip = torch.randn(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
            shape = f"{spec.num_frames}x{spec.crop_size}x{spec.crop_size}"
            rows.append(_row(f"teacher {name}", shape, teacher, (clip,), 1, 1, 2))
            del teacher

    imu = torch.randn(1, 422, 6)
    for variant, frames in [("egodistill", n) for n in (1, 2, 3, 4)] + [("visonly", 1)]:
        student = build_student(StudentConfig(variant=variant, num_frames=frames, image_weights="none"))
        example = {"frames": torch.randn(1, frames, 3, 224, 224)}
        if student.uses_imu:
            example["imu"] = imu
        # inference parameters: the stage-1 predictor h is not part of the deployed model
        params = count_params(student) - (count_params(student.predictor) if student.predictor else 0)
        desc = f"N={frames} x 224" + (" + IMU 422x6" if student.uses_imu else "")
        rows.append(
            _row(f"student {variant}", desc, student, example, args.batch, args.warmup, args.repeats, params)
        )

    print(
        f"\ntorch {torch.__version__}, {torch.get_num_threads()} CPU threads; GMACs = multiply-adds (FLOPs/2)\n"
    )
    header = f"| {'model':<24} | {'input':<26} | {'GMACs':>7} | {'params (M)':>10} | {'batch':>5} | {'CPU ms/clip':>11} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(
            f"| {r['model']:<24} | {r['input']:<26} | {r['gmacs']:>7.3f} | {r['params_m']:>10.2f} "
            f"| {r['batch']:>5} | {r['ms_per_clip']:>11.1f} |"
        )
    print(
        f"\nseed paper (Table 3) EgoDistill: {PAPER['gmacs']} GMACs, {PAPER['params_m']} M params, "
        f"{PAPER['runtime_ms']} ms (GPU)"
    )
    _breakdown(imu)
    return 0


def _breakdown(imu: torch.Tensor) -> None:
    """Where the N = 1 student's MACs and parameters go, to compare with the paper's totals."""
    student = build_student(StudentConfig(num_frames=1, image_weights="none"))
    z_i, z_m = torch.zeros(1, 512), torch.zeros(1, student.cfg.imu_feature_dim)
    parts = [
        ("f_I ResNet-18 trunk, 224 px", student.image_encoder, (torch.zeros(1, 3, 224, 224),)),
        ("f_M dilated CNN, IMU 422x6", student.imu_encoder, (imu,)),
        ("Π fusion MLP (640-1024-768)", student.fusion, (z_i, z_m)),
        ("classifier (768 -> 94)", student.classifier, (torch.zeros(1, 768),)),
        ("h predictor (stage 1 only)", student.predictor, (z_i, z_i)),
    ]
    print("\nN = 1 student, by component:")
    for name, module, example in parts:
        print(
            f"  {name:<32} {count_macs(module, example):7.4f} GMACs {count_params(module) / 1e6:7.3f} M params"
        )


if __name__ == "__main__":
    sys.exit(main())
