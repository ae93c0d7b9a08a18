"""``egodistill sweep``: a Ray Tune sweep (ASHA + Optuna) over stage-2 distillation.

    egodistill sweep --workspace ws --dataset ego4d --preset demo --name alpha-beta-tau
    egodistill distill --config ws/sweeps/alpha-beta-tau/best.yaml      # train the best trial again

Config sources, later wins: ``tuning/spaces.yaml`` (``space`` + the ``--preset``: paper | demo | test)
< ``--config FILE`` (SweepConfig values) < the flags < ``--set KEY=VALUE`` (e.g.
``--set job.student.variant=visimu``, ``--set asha.grace_period=2``; change the search space with
``--space FILE`` or a ``space:`` mapping in ``--config``). Running the same ``--name`` again resumes an
interrupted sweep (``--no-resume`` refuses to, so that a new sweep needs a new name).
"""

from __future__ import annotations

import argparse

HELP = "Ray Tune sweep (ASHA + Optuna) over stage-2 distillation; writes sweeps/<name>/best.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="workspace with clips/, features/, manifests/ (default ./workspace)")
    p.add_argument("--dataset", help="ego4d or epic (job.data.dataset)")
    p.add_argument(
        "--preset", choices=("paper", "demo", "test"), default="demo", help="sweep preset (default demo)"
    )
    p.add_argument("--space", help="search-space YAML (default: tuning/spaces.yaml)")
    p.add_argument("--config", help="YAML/JSON file with SweepConfig values")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--name", help="sweep name: <workspace>/sweeps/<name>/ (default: sweep)")
    p.add_argument("--variant", choices=("visonly", "visonly_distill", "visimu", "egodistill"),
                   help="job.student.variant")  # fmt: skip
    p.add_argument("--init-from", help="stage-1 student for every trial (job.init_from)")
    p.add_argument("--trials", type=int, help="num_samples")
    p.add_argument("--concurrent", type=int, help="max_concurrent_trials")
    p.add_argument("--epochs", type=int, help="epochs per trial (job.optim.epochs)")
    p.add_argument("--search", choices=("optuna", "random"), help="search algorithm (default optuna)")
    p.add_argument("--no-resume", action="store_true", help="refuse to resume: fail if the sweep exists")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")


def load(args: argparse.Namespace):
    from egodistill.tuning.config import load_sweep_config

    dotted = {
        "workspace": args.workspace,
        "name": args.name,
        "job.data.dataset": args.dataset,
        "job.student.variant": args.variant,
        "job.init_from": args.init_from,
        "job.optim.epochs": args.epochs,
        "num_samples": args.trials,
        "max_concurrent_trials": args.concurrent,
        "search": args.search,
        "resume": False if args.no_resume else None,
        "tracking.enabled": False if args.no_mlflow else None,
    }
    return load_sweep_config(args.preset, args.config, args.overrides, spaces_file=args.space, dotted=dotted)


def run(args: argparse.Namespace) -> int:
    from egodistill.config import ConfigError
    from egodistill.runtime import ensure_ray
    from egodistill.tuning.sweep import TUNE_DIR, preflight, run_sweep

    cfg = load(args)
    if not cfg.resume and (cfg.sweep_dir() / TUNE_DIR).exists():
        raise ConfigError(f"sweep {cfg.name} exists in {cfg.sweep_dir()} (--no-resume); pick another --name")
    preflight(cfg)
    ensure_ray(args.num_cpus)
    print("\n".join(run_sweep(cfg).lines()))
    return 0
