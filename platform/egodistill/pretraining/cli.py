"""``egodistill pretrain-image``: train the stand-in f_I on a separate synthetic pool (Ray Train).

    egodistill pretrain-image --workspace demo_out --preset demo          # ~2 min on 2 CPU cores
    egodistill pretrain-image --workspace ws --preset smoke --image-size 32

Prints the checkpoint path; pass it to the students as ``--image-weights PATH``. Re-running the same
config reuses its checkpoint. Config sources, later wins: ``--preset`` (demo | bench | smoke, default
demo) < ``--config FILE`` < the flags < ``--set KEY=VALUE`` (e.g. ``--set pool.worlds=24``).
"""

from __future__ import annotations

import argparse

from egodistill.config import add_config_arguments

HELP = "pretrain the students' frozen f_I (ResNet-18) on a separate synthetic pool: the ImageNet stand-in"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument(
        "--workspace", help="outputs: pretrained/image/, ray_results/, mlflow.db (default ./workspace)"
    )
    p.add_argument(
        "--preset", choices=("demo", "bench", "smoke"), default="demo", help="starting config (demo)"
    )
    p.add_argument("--out", help="checkpoint folder (default <workspace>/pretrained/image)")
    p.add_argument("--image-size", type=int, help="square frame size, = the students' (pool.image_size)")
    p.add_argument(
        "--pool-seed", type=int, help="the pool's world seed (pool.seed); keep it off benchmark seeds"
    )
    p.add_argument("--worlds", type=int, help="synthetic worlds in the pool (pool.worlds)")
    p.add_argument("--epochs", type=int, help="optim.epochs")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    add_config_arguments(p, "PretrainImageConfig", "pool.frames_per_world=300")


def run(args: argparse.Namespace) -> int:
    from egodistill.pretraining.config import load_pretrain_config
    from egodistill.pretraining.job import run_pretrain_image
    from egodistill.runtime import ensure_ray

    dotted = {"workspace": args.workspace, "out": args.out, "pool.image_size": args.image_size,
              "pool.seed": args.pool_seed, "pool.worlds": args.worlds, "optim.epochs": args.epochs,
              "tracking.enabled": False if args.no_mlflow else None}  # fmt: skip
    cfg = load_pretrain_config(args.preset, args.config, args.overrides, dotted)
    ensure_ray(args.num_cpus)
    outcome = run_pretrain_image(cfg)
    print(outcome.line())
    print(f"image_weights: {outcome.checkpoint}  (what it was trained on: {outcome.info_path})")
    return 0
