"""``egodistill teacher``: train or fine-tune a teacher video model with Ray Train (and compare it).

    egodistill teacher --manifest workspace/manifests/ego4d.parquet --workspace workspace --preset demo
    egodistill teacher --clips workspace/clips --workspace workspace --preset demo --compare-single-frame

Config sources, later wins: ``--preset`` (paper | demo | smoke, default paper) < ``--config FILE`` <
the shortcut flags < ``--set KEY=VALUE`` (e.g. ``--set optim.epochs=20``).
"""

from __future__ import annotations

import argparse

from egodistill.config import add_config_arguments

HELP = "train or fine-tune a teacher video model on dense clips with Ray Train (+ single-frame comparison)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument("--manifest", help="clip manifest (Parquet from `egodistill index`)")
    p.add_argument("--clips", help="or: the clips dataset root from `egodistill ingest`")
    p.add_argument("--dataset", help="ego4d or epic, when the input holds both")
    p.add_argument("--workspace", help="outputs: checkpoints/, ray_results/, mlflow.db (default ./workspace)")
    p.add_argument(
        "--preset",
        choices=("paper", "demo", "bench", "smoke"),
        default="paper",
        help="starting config (default paper)",
    )
    add_config_arguments(p, "TeacherJobConfig", "optim.epochs=20")
    p.add_argument(
        "--teacher", help="teacher architecture (teacher.name): tiny3d, r2plus1d_18, mvit_v2_s, ..."
    )
    p.add_argument("--weights", help="teacher.weights: none | torchvision | path to a checkpoint")
    p.add_argument("--model-name", help="name of the trained teacher in the workspace")
    p.add_argument("--epochs", type=int, help="optim.epochs")
    p.add_argument("--workers", type=int, help="Ray Train workers (trainer.scaling.num_workers)")
    p.add_argument("--cpus-per-worker", type=float, help="CPUs reserved per worker")
    p.add_argument("--gpu", dest="use_gpu", action="store_const", const=True, help="train on GPUs")
    p.add_argument("--cpu", dest="use_gpu", action="store_const", const=False, help="train on CPUs only")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--register", metavar="NAME", help="register the trained model in MLflow (tracking.register_model)"
    )
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    p.add_argument(
        "--compare-single-frame",
        action="store_true",
        help="also train the single-frame baseline (same data and epochs) and print both per-segment top-1",
    )


def load_teacher_config(args: argparse.Namespace):  # -> TeacherJobConfig (imports kept lazy)
    """Preset < --config file < flags < --set, validated as a TeacherJobConfig."""
    from egodistill.config import load_config
    from egodistill.teacher.config import PRESETS, TeacherJobConfig

    flags = {
        "data.manifest": args.manifest,
        "data.clips": args.clips,
        "data.dataset": args.dataset,
        "workspace": args.workspace,
        "teacher.name": args.teacher,
        "teacher.weights": args.weights,
        "model_name": args.model_name,
        "optim.epochs": args.epochs,
        "trainer.scaling.num_workers": args.workers,
        "trainer.scaling.cpus_per_worker": args.cpus_per_worker,
        "trainer.scaling.use_gpu": args.use_gpu,
        "tracking.enabled": False if args.no_mlflow else None,
        "tracking.register_model": getattr(args, "register", None),
    }
    cfg = load_config(TeacherJobConfig, args.config, args.overrides, base=PRESETS[args.preset], dotted=flags)
    cfg.require_data()
    return cfg


def require_input(kind: str, path: str) -> None:
    """Before Ray: the manifest or clips folder exists (one line naming the command that builds it)."""
    from pathlib import Path

    from egodistill.config import ConfigError

    if "://" not in path and not Path(path).expanduser().exists():
        fix = "egodistill index --dataset ego4d|epic --root <dataset folder> --out" if kind == "manifest" else (
            "egodistill ingest --manifest <manifest> --out")  # fmt: skip
        raise ConfigError(f"--{kind} {path} does not exist: build it with `{fix} {path}` first")


def run(args: argparse.Namespace) -> int:
    from egodistill.runtime import ensure_ray
    from egodistill.teacher.job import compare_single_frame, run_teacher

    cfg = load_teacher_config(args)
    require_input(*cfg.require_data())  # before Ray: a missing input fails in a second
    ensure_ray(args.num_cpus)
    if args.compare_single_frame:
        comparison = compare_single_frame(cfg)
        for outcome in (comparison.teacher, comparison.baseline):
            for line in outcome.lines():
                print(line)
        print()
        for line in comparison.lines():
            print(line)
        return 0
    for line in run_teacher(cfg).lines():
        print(line)
    return 0
