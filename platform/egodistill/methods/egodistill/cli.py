"""``egodistill pretrain | distill | experiment``: the student jobs from the command line.

    egodistill pretrain   --workspace ws --dataset ego4d --preset demo
    egodistill distill    --workspace ws --dataset ego4d --preset demo --variant egodistill \\
                          --init-from ws/checkpoints/students/ego4d/egodistill/pretrain
    egodistill experiment --workspace ws --dataset ego4d --preset demo [--ablation no_kd ...]

The workspace must hold the student inputs that ``egodistill student-inputs`` builds (dense evaluation
clips, the image-feature cache and the joined table); a job that finds them missing stops before Ray
starts, naming that command. Config sources, later wins: ``--preset`` (paper |
demo | smoke, default paper) < ``--config FILE`` < the flags < ``--set KEY=VALUE``.

The three subcommands are :class:`~egodistill.cli.Subcommand` objects (``pretrain``, ``distill``,
``experiment``) that ``cli.SUBCOMMANDS`` names as ``egodistill.methods.egodistill.cli:<name>``.
"""

from __future__ import annotations

import argparse
from typing import Any

from egodistill.clitools import Subcommand
from egodistill.config import add_config_arguments


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="workspace with clips/, features/, manifests/ (default ./workspace)")
    p.add_argument("--dataset", help="ego4d or epic (data.dataset, default ego4d)")
    p.add_argument(
        "--preset",
        choices=("paper", "demo", "bench", "smoke"),
        default="paper",
        help="starting config (default paper)",
    )
    add_config_arguments(p, "the job's config", "distill_loss.alpha=0.5")
    p.add_argument("--frames", type=int, help="N frames per clip (data.num_frames, 1..4)")
    p.add_argument(
        "--strategy", choices=("uniform", "random", "first", "last", "center"), help="frame selection"
    )
    p.add_argument("--teacher-model", help="teacher features folder name (data.teacher_model)")
    p.add_argument("--image-weights", help="f_I weights: torchvision | none | path (student.image_weights)")
    p.add_argument("--workers", type=int, help="Ray Train workers (trainer.scaling.num_workers)")
    p.add_argument("--cpus-per-worker", type=float, help="CPUs reserved per worker")
    p.add_argument("--gpu", dest="use_gpu", action="store_const", const=True, help="train on GPUs")
    p.add_argument("--cpu", dest="use_gpu", action="store_const", const=False, help="train on CPUs only")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--register", metavar="NAME", help="register the trained model in MLflow (tracking.register_model)"
    )
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")


def _preset(kind: str, preset: str) -> dict[str, Any]:
    from egodistill.methods.egodistill.config import job_preset

    return job_preset(kind, preset)


def _flags(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The command-line flags as dotted config keys (``None``: not given)."""
    flags: dict[str, Any] = {
        "workspace": args.workspace,
        "data.dataset": args.dataset,
        "data.num_frames": args.frames,
        "data.strategy": args.strategy,
        "data.teacher_model": args.teacher_model,
        "student.image_weights": args.image_weights,
        "student.variant": getattr(args, "variant", None),
        "trainer.scaling.num_workers": args.workers,
        "trainer.scaling.cpus_per_worker": args.cpus_per_worker,
        "trainer.scaling.use_gpu": args.use_gpu,
        "tracking.enabled": False if args.no_mlflow else None,
        "tracking.register_model": getattr(args, "register", None),
        ("distill_optim.epochs" if kind == "experiment" else "optim.epochs"): getattr(args, "epochs", None),
    }
    if kind == "distill":
        flags["init_from"] = args.init_from
    if kind == "experiment":
        flags["ablations"] = args.ablation or None
        flags["frames"] = args.extra_frames or None
        flags["strategies"] = args.extra_strategy or None
        flags["variants"] = args.variants
    return flags


def load_job_config(args: argparse.Namespace, kind: str):
    """Preset < --config < flags < --set, validated as the job's config class."""
    from egodistill.config import load_config
    from egodistill.methods.egodistill.config import DistillJobConfig, PretrainJobConfig
    from egodistill.methods.egodistill.experiment import ExperimentConfig

    cls = {"pretrain": PretrainJobConfig, "distill": DistillJobConfig, "experiment": ExperimentConfig}[kind]
    return load_config(
        cls, args.config, args.overrides, base=_preset(kind, args.preset), dotted=_flags(args, kind)
    )


def _start_ray(args: argparse.Namespace) -> None:
    from egodistill.runtime import ensure_ray

    ensure_ray(args.num_cpus)


# --- pretrain -------------------------------------------------------------------------------------


def _pretrain_args(p: argparse.ArgumentParser) -> None:
    _common_arguments(p)
    p.add_argument("--variant", choices=("egodistill", "visimu"), help="student.variant (default egodistill)")
    p.add_argument("--epochs", type=int, help="optim.epochs (paper 50)")


def _pretrain_run(args: argparse.Namespace) -> int:
    from egodistill.methods.egodistill.jobs import run_pretrain
    from egodistill.student.driver import require_inputs

    cfg = load_job_config(args, "pretrain")
    require_inputs(cfg, needs_teacher=True, evaluates=False)
    _start_ray(args)
    print("\n".join(run_pretrain(cfg).lines()))
    return 0


# --- distill --------------------------------------------------------------------------------------


def _distill_args(p: argparse.ArgumentParser) -> None:
    _common_arguments(p)
    p.add_argument(
        "--variant", choices=("visonly", "visonly_distill", "visimu", "egodistill"), help="student.variant"
    )
    p.add_argument(
        "--init-from", help="stage-1 student (directory with student.pt, from `egodistill pretrain`)"
    )
    p.add_argument("--epochs", type=int, help="optim.epochs (paper: 150 Ego4D, 50 EPIC)")


def _distill_run(args: argparse.Namespace) -> int:
    from egodistill.methods.egodistill.jobs import run_distill
    from egodistill.models.config import VARIANTS
    from egodistill.student.driver import require_inputs

    cfg = load_job_config(args, "distill")
    require_inputs(cfg, needs_teacher=VARIANTS[cfg.student.variant].distill, evaluates=True)
    _start_ray(args)
    print("\n".join(run_distill(cfg).lines()))
    return 0


# --- experiment -----------------------------------------------------------------------------------


def _experiment_args(p: argparse.ArgumentParser) -> None:
    _common_arguments(p)
    p.add_argument("--variants", nargs="+", choices=("visonly", "visonly_distill", "visimu", "egodistill"))
    p.add_argument("--ablation", action="append", default=[],
                   choices=("no_l1", "no_kd", "no_gt", "no_pretrain", "no_pretrain_l1", "no_pretrain_nce"),
                   help="extra EgoDistill run without a loss term (Table 1); repeatable")  # fmt: skip
    p.add_argument(
        "--extra-frames", type=int, action="append", default=[], help="extra N for the distilled models"
    )
    p.add_argument("--extra-strategy", action="append", default=[],
                   choices=("uniform", "random", "first", "last", "center"), help="extra EgoDistill frame strategy")  # fmt: skip
    p.add_argument("--epochs", type=int, help="stage-2 epochs (distill_optim.epochs)")


def _experiment_run(args: argparse.Namespace) -> int:
    from egodistill.methods.egodistill.experiment import run_experiment
    from egodistill.models.config import VARIANTS
    from egodistill.student.products import StudentInputsConfig, require_sources

    cfg = load_job_config(args, "experiment")
    # before Ray: the clips and the teacher features the distilled variants need (the experiment
    # builds the student inputs itself, which would otherwise compute every clip's f_I features first)
    require_sources(StudentInputsConfig.for_job(cfg.workspace, cfg.data, cfg.student),
                    needs_teacher=any(VARIANTS[v].distill for v in cfg.variants), teacher=cfg.data.teacher_model)  # fmt: skip
    _start_ray(args)
    print("\n".join(run_experiment(cfg).lines()))
    return 0


pretrain = Subcommand(
    "stage 1: self-supervised IMU pretraining of the student (L_NCE + L_1) on Ray Train",
    _pretrain_args,
    _pretrain_run,
)
distill = Subcommand(
    "stage 2: train a student variant (EgoDistill, VisOnly[-Distill], VisIMU) on Ray Train and evaluate it",
    _distill_args,
    _distill_run,
)
experiment = Subcommand(
    "train and evaluate the four student variants (+ ablations) and print the results table",
    _experiment_args,
    _experiment_run,
)

__all__ = ["distill", "experiment", "load_job_config", "pretrain"]
