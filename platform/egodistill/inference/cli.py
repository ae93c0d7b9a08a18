"""``egodistill predict | retrieve | package``: use a trained student.

egodistill predict  --student DIR (--dataset ego4d --root ROOT | --video X.mp4 --imu X.csv ...) --out DIR
egodistill retrieve (--predictions DIR ... | --clips ROOT --student DIR ...) (--query ID | --eval) [--k 5]
egodistill package  --student DIR [--workspace WS] [--register NAME] [--export FILE.pt2]
"""

from __future__ import annotations

import argparse
import sys

from egodistill.clitools import Subcommand
from egodistill.config import add_config_arguments

# ----------------------------------------------------------------------------------------------
# predict


def _predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--student", help="trained student directory (<ws>/checkpoints/students/<dataset>/<name>)")
    p.add_argument("--dataset", choices=("ego4d", "epic"), help="layout of --root")
    p.add_argument("--root", help="dataset root: every annotated video (ground truth drawn on the timelines)")
    p.add_argument("--annotations", help="EPIC annotations folder (default: the root)")
    p.add_argument("--video", action="append", default=[], help="a video file (repeatable)")
    p.add_argument(
        "--imu", action="append", default=[], help="its IMU: an Ego4D-format CSV, or EPIC 'accl.csv,gyro.csv'"
    )
    p.add_argument("--only", action="append", default=[], help="only this video id (repeatable)")
    p.add_argument("--out", help="output folder (default: predictions)")
    p.add_argument("--stride", type=float, help="seconds between window starts (default: the 2.13 s window)")
    p.add_argument("--policy", choices=("exact", "keyframe"), help="frame decode policy (default exact)")
    p.add_argument("--size", type=int, help="frame size (default: the student's training frames)")
    p.add_argument("--top-k", type=int, help="labels kept per window (default 3)")
    p.add_argument("--actors", type=int, help="model replicas (default: one per GPU, or 1)")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    p.add_argument("--no-plots", action="store_true", help="skip the timeline PNGs")
    add_config_arguments(p, "PredictConfig", "frames.windows_per_batch=16")


def _predict_run(args: argparse.Namespace) -> int:
    from egodistill.config import load_config
    from egodistill.inference.config import PredictConfig
    from egodistill.inference.imu_windows import ImuRequiredError
    from egodistill.inference.model_io import ModelLoadError
    from egodistill.inference.pipeline import run_predict
    from egodistill.inference.store import PredictOutputError
    from egodistill.inference.windows import ShortVideoError

    dotted = {
        "windows.stride_sec": args.stride,
        "frames.policy": args.policy,
        "frames.size": args.size,
        "top_k": args.top_k,
        "compute.actors": args.actors,
        "compute.local_num_cpus": args.num_cpus,
        "plots": False if args.no_plots else None,
    }
    cfg = load_config(
        PredictConfig,
        args.config,
        list(args.overrides),
        dotted=dotted,
        student=args.student,
        dataset=args.dataset,
        root=args.root,
        annotations=args.annotations,
        videos=args.video or None,
        imus=args.imu or None,
        only=args.only or None,
        out=args.out,
    )
    cfg.check()
    try:
        summary = run_predict(cfg)
    except (
        ImuRequiredError,
        ModelLoadError,
        PredictOutputError,
        ShortVideoError,
        FileNotFoundError,
        ValueError,
    ) as e:
        print(f"egodistill predict: error: {e}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 0 if summary.ok else 1


predict = Subcommand(
    HELP="run a trained student over long videos: per-window predictions, action segments, timeline PNGs",
    add_arguments=_predict_arguments,
    run=_predict_run,
)


# ----------------------------------------------------------------------------------------------
# retrieve


def _retrieve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictions", action="append", default=[], help="a `predict --out` folder (repeatable)")
    p.add_argument("--clips", help="clips dataset root (features computed with each --student)")
    p.add_argument(
        "--student", action="append", default=[], help="student directory (with --clips; repeatable)"
    )
    p.add_argument("--dataset", help="clips: the dataset (default: the only one)")
    p.add_argument("--split", help="clips: only this split (e.g. val)")
    p.add_argument("--query", help="a clip id, or VIDEO@SECONDS")
    p.add_argument("--k", type=int, help="neighbours (default 5)")
    p.add_argument("--eval", dest="evaluate", action="store_true", help="precision@k of sharing the verb")
    p.add_argument("--same-video", action="store_true", help="allow neighbours from the query's video")
    p.add_argument("--out", help="folder for the PNG strip")
    add_config_arguments(p, "RetrieveConfig", "k=10")


def _retrieve_run(args: argparse.Namespace) -> int:
    from egodistill.config import ConfigError, load_config
    from egodistill.inference.config import RetrieveConfig
    from egodistill.inference.model_io import ModelLoadError
    from egodistill.inference.retrieval import RetrievalError, run_retrieve

    cfg = load_config(
        RetrieveConfig,
        args.config,
        list(args.overrides),
        predictions=args.predictions or None,
        clips=args.clips,
        students=args.student or None,
        dataset=args.dataset,
        split=args.split,
        query=args.query,
        k=args.k,
        evaluate=args.evaluate or None,
        same_video=args.same_video or None,
        out=args.out,
    )
    if not cfg.predictions and not cfg.clips:
        raise ConfigError("retrieve needs --predictions DIR or --clips ROOT with --student DIR")
    if cfg.query is None and not cfg.evaluate:
        raise ConfigError("retrieve needs --query ID (or VIDEO@SECONDS) or --eval")
    try:
        for line in run_retrieve(cfg):
            print(line)
    except (RetrievalError, ModelLoadError, FileNotFoundError) as e:
        print(f"egodistill retrieve: error: {e}", file=sys.stderr)
        return 1
    return 0


retrieve = Subcommand(
    HELP="nearest clips by the student's feature (cosine): a query's neighbours with a PNG strip, or precision@k",
    add_arguments=_retrieve_arguments,
    run=_retrieve_run,
)


# ----------------------------------------------------------------------------------------------
# package


def _package_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--student", required=True, help="trained student directory")
    p.add_argument(
        "--workspace", help="MLflow store <workspace>/mlflow.db (default: the student's workspace)"
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI (overrides --workspace)")
    p.add_argument("--experiment", default="egodistill-models", help="MLflow experiment")
    p.add_argument("--register", metavar="NAME", help="also register the model under NAME")
    p.add_argument(
        "--export", metavar="FILE", help="torch.export program path (default: <student>/student.pt2)"
    )
    p.add_argument("--size", type=int, help="frame size of the signature (default: the training frames)")
    p.add_argument("--sample", metavar="FILE", help="also write a JSON request for `mlflow models predict`")


def _package_run(args: argparse.Namespace) -> int:
    from egodistill.inference.model_io import ModelLoadError
    from egodistill.inference.packaging import package_student

    try:
        result = package_student(
            args.student,
            workspace=args.workspace,
            tracking_uri=args.tracking_uri,
            experiment=args.experiment,
            register=args.register,
            export_path=args.export,
            size=args.size,
            sample_path=args.sample,
        )
    except (ModelLoadError, FileNotFoundError, ValueError) as e:
        print(f"egodistill package: error: {e}", file=sys.stderr)
        return 1
    print("\n".join(result.lines()))
    return 0


package = Subcommand(
    HELP="package a trained student: an MLflow pyfunc model (signature, example, --register) and a torch.export program",
    add_arguments=_package_arguments,
    run=_package_run,
)
