"""``egodistill student-inputs``: build the dense evaluation clips, the f_I cache and the joined inputs.

    egodistill student-inputs --workspace ws --dataset ego4d [--image-weights none] [--teacher X ...]

Run it after ``features`` and before ``pretrain`` / ``distill`` / ``experiment`` / ``sweep``; re-run it
after new teacher features (only the join is redone). Config sources, later wins: ``--config FILE`` <
the flags < ``--set KEY=VALUE``.
"""

from __future__ import annotations

import argparse

from egodistill.config import add_config_arguments

HELP = "build the student inputs: dense evaluation clips, image-feature cache, clips+features join (Ray Data)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="workspace with clips/, features/, manifests/ (default ./workspace)")
    p.add_argument("--dataset", help="ego4d or epic (default ego4d)")
    p.add_argument(
        "--teacher",
        action="append",
        dest="teachers",
        help="teacher features folder to join (repeatable; default: all)",
    )
    p.add_argument("--image-weights", help="f_I weights: torchvision | none | path")
    p.add_argument("--image-size", type=int, help="f_I input size (default: the stored frame size)")
    p.add_argument(
        "--frames", action="store_const", const=True, help="keep the JPEG pool (students that train f_I)"
    )
    p.add_argument("--no-dense", action="store_true", help="do not build dense evaluation clips")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    add_config_arguments(p, "the stage's config", "dense.clips_per_segment=5")


def load(args: argparse.Namespace):
    from egodistill.config import load_config
    from egodistill.student.products import StudentInputsConfig, require_config

    dotted = {"workspace": args.workspace, "dataset": args.dataset, "teachers": args.teachers,
              "image_weights": args.image_weights, "image_size": args.image_size, "frames": args.frames,
              "build_dense": False if args.no_dense else None, "tracking.enabled": False if args.no_mlflow else None,
              "local_num_cpus": args.num_cpus}  # fmt: skip
    cfg = load_config(StudentInputsConfig, args.config, args.overrides, dotted=dotted)
    require_config(cfg)
    return cfg


def run(args: argparse.Namespace) -> int:
    from egodistill.clitools import run_data_stage
    from egodistill.runtime import ensure_ray
    from egodistill.student.products import run_student_inputs

    cfg = load(args)
    ensure_ray(cfg.local_num_cpus)

    def metrics(summary) -> dict[str, float]:
        out: dict[str, float] = {}
        for source, s in summary.sources.items():
            out.update({f"{source}.rows_in": s["rows_in"], f"{source}.rows_written": s["rows_written"],
                        f"{source}.rows_quarantined": s["rows_quarantined"]})  # fmt: skip
            out.update({f"{source}.missing.{k}": v["count"] for k, v in s["missing"].items()})
        return out

    return run_data_stage("student-inputs", cfg.tracking, str(cfg.ws()), cfg, lambda: run_student_inputs(cfg),
                          (FileNotFoundError, ValueError), metrics, lambda s: {})  # fmt: skip
