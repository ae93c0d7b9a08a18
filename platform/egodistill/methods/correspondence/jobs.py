"""The ``correspondence`` job: SSL on Ray Train (video CNN updated, then frozen), then every evaluation.

:func:`train` is one Ray Train run (checkpoint every epoch; the run name carries the config hash, so a re-run
resumes and a changed config starts afresh) over tiled pairs of the training videos, exported as
``checkpoints/correspondence/<dataset>/<name>[-frozen]/correspondence.{pt,yaml,json}``.
:func:`run_correspondence` is the whole job under one MLflow parent run (nested runs per training);
:func:`evaluate_exports` runs the evaluations alone on trained exports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egodistill import tracking
from egodistill.config import dump_config
from egodistill.methods.correspondence.config import CorrespondenceJobConfig
from egodistill.training import export as model_export
from egodistill.training import ray_wiring

log = logging.getLogger(__name__)
KIND = "correspondence"


@dataclass
class CorrespondenceOutcome:
    """What the job produced (``metrics``: the headline figures; ``results``: everything)."""

    dataset: str
    exports: dict[str, str]
    metrics: dict[str, Any]
    results: dict[str, Any]
    report_dir: str | None
    run_id: str | None
    elapsed_sec: float
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        from egodistill.methods.correspondence.report import markdown

        out = [f"correspondence on {self.dataset}: {self.elapsed_sec:.0f} s; exports {self.exports}"]
        out += markdown(self.results).splitlines() if self.results else []
        if self.report_dir:
            out.append(f"report: {self.report_dir}")
        return out


def export_dir(cfg: CorrespondenceJobConfig) -> Path:
    return cfg.ws() / "checkpoints" / "correspondence" / cfg.data.dataset / cfg.run_name()


def _manifest(cfg: CorrespondenceJobConfig):
    from egodistill.datasets.manifest import read_manifest

    rows = read_manifest(cfg.manifest_path())
    import pyarrow.compute as pc

    rows = rows.filter(pc.equal(rows.column("dataset"), cfg.data.dataset))
    if rows.num_rows == 0:
        raise ValueError(f"{cfg.manifest_path()}: no rows of dataset {cfg.data.dataset!r}")
    return rows


def train(
    cfg: CorrespondenceJobConfig,
    parent_run: tracking.RunRef | None = None,
    train_callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """One SSL training run on Ray Train; returns ``{"export", "metrics", "run_id", "pairs"}``."""
    from egodistill.methods.correspondence import pairs
    from egodistill.methods.correspondence.evaluate import clip_spec
    from egodistill.methods.correspondence.steps import model_state, train_loop
    from egodistill.runtime import configure_data_context
    from egodistill.teacher import classifiers

    rows = _manifest(cfg)
    spec = classifiers.input_spec(classifiers.teacher_spec(cfg.model.video))
    cspec = clip_spec(spec, cfg.data.decode_size)
    train_ids, held_ids = pairs.split_videos(
        rows, cfg.data.eval_split, cfg.data.heldout_video_fraction, cfg.seed
    )
    vids = pairs.videos(rows, train_ids)
    span = max(cfg.data.imu.window_sec, cspec.span_sec(float(vids[0]["fps"])) if vids else 0.0)
    items = pairs.tiled_items(vids, span, cfg.data.tile_stride_sec)
    ds = pairs.pair_dataset(items, cspec, cfg.data.imu, min_coverage=cfg.data.min_imu_coverage,
                            hard_offset=cfg.data.hard_negative_offset_sec, clips_per_task=cfg.data.clips_per_task,
                            num_cpus=cfg.data.num_cpus_per_task)  # fmt: skip
    ds = ds.drop_columns(["reason"])  # torch batches take numbers only; the evaluations count the reasons
    configure_data_context()
    params = {**tracking.flatten(cfg), "derived.train_videos": len(vids), "derived.heldout_videos": len(held_ids), "derived.train_pairs": len(items),
              "derived.clip": f"{cspec.num_frames}x{cspec.sample_rate} frames at {cspec.size}px"}  # fmt: skip
    name = cfg.run_name()
    with tracking.tracked_run(cfg.tracking, workspace=cfg.workspace, job=KIND, params=params, parent=parent_run,
                              run_name=f"{cfg.data.dataset}/{name}", tags={"egodistill.method": KIND}) as run:  # fmt: skip
        tracking.log_text(run, dump_config(cfg), "config.yaml")
        log.info(
            "correspondence %s: %d unlabelled pairs tiled over %d training videos",
            name,
            len(items),
            len(vids),
        )
        trainer = ray_wiring.build_trainer(
            train_loop, {"job": cfg.model_dump(mode="json"), "run_ref": run}, cfg.trainer, workspace=cfg.workspace,
            name=f"{KIND}-{cfg.data.dataset}-{name}-{cfg.config_hash()}", datasets={"train": ds}, callbacks=train_callbacks,
        )  # fmt: skip
        fitted = ray_wiring.fit(trainer, f"correspondence training ({name})")
        state = model_state(fitted.state["model"])
        info = {"dataset": cfg.data.dataset, "metrics": fitted.metrics, "train_pairs": len(items),
                "train_videos": len(vids), "ray_checkpoint": fitted.checkpoint_path,
                "mlflow_run_id": run.run_id if run else None}  # fmt: skip
        out = model_export.write_export(export_dir(cfg), KIND, state, cfg, info)
        tracking.log_artifact(run, str(out), "model")
        tracking.log_metrics(run, {f"final_{k}": v for k, v in fitted.metrics.items()})
    return {
        "export": str(out),
        "metrics": fitted.metrics,
        "run_id": run.run_id if run else None,
        "pairs": len(items),
    }


def load_export(directory: str | Path):
    """(CorrespondenceModel in eval mode, its job config) from an export; weights loaded with weights_only."""
    import torch

    from egodistill.methods.correspondence.steps import build_model

    data = model_export.read_config_data(directory, KIND, "run `egodistill correspondence`")
    cfg = CorrespondenceJobConfig.model_validate(data)
    video = cfg.model.video.model_copy(update={"weights": "none"})
    model = build_model(cfg.model_copy(update={"model": cfg.model.model_copy(update={"video": video})}))
    state = torch.load(Path(directory) / model_export.files(KIND)[0], map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval(), cfg


def evaluate_exports(cfg: CorrespondenceJobConfig, exports: dict[str, str], run: tracking.RunRef | None = None,
                     only: Sequence[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Every evaluation named in ``cfg.eval.run`` (or ``only``) on trained exports (``updated``[, ``frozen``])."""
    import torch

    from egodistill.methods.correspondence import evaluate, pairs
    from egodistill.methods.correspondence.report import write_report
    from egodistill.models.teachers import build_teacher
    from egodistill.teacher.export import load_teacher

    todo = list(only or cfg.eval.run)
    ssl = {name: load_export(d)[0] for name, d in exports.items()}
    torch.manual_seed(cfg.seed)
    rand_cfg = cfg.model.video.model_copy(update={"weights": "none"})
    video: dict[str, Any] = {"random": build_teacher(rand_cfg).eval()}
    notes = [f"SSL exports: {exports}"]
    sup = cfg.supervised_dir()
    if sup:
        video["supervised"] = load_teacher(sup)[0]
        notes.append(f"supervised backbone: the teacher export {sup}")
    else:
        notes.append("no supervised teacher export found (run `egodistill teacher`): its rows are missing")
    enc = evaluate.Encoders(ssl, video, evaluate.input_specs({**ssl, **video}))
    rows = _manifest(cfg)
    results: dict[str, Any] = {
        "dataset": cfg.data.dataset,
        "notes": notes,
        "config": cfg.model_dump(mode="json"),
    }
    if "correspondence" in todo:
        vids = pairs.videos(
            rows, pairs.split_videos(rows, cfg.data.eval_split, cfg.data.heldout_video_fraction, cfg.seed)[1]
        )
        span = max(cfg.data.imu.window_sec, 2.2)
        items = pairs.tiled_items(vids, span, cfg.data.tile_stride_sec, limit=cfg.data.max_eval_pairs)
        f = evaluate.extract(items, evaluate.Encoders(ssl, {}, {k: enc.specs[k] for k in ssl}), cfg)
        results["correspondence"] = {
            **evaluate.eval_correspondence(f, cfg.eval.bootstrap, cfg.seed),
            "videos": len(vids),
        }
    if "probe" in todo or "modalities" in todo:
        train_f, test_f, classes = evaluate.labelled_features(rows, enc, cfg)
        if "probe" in todo:
            results["probe"] = evaluate.eval_probe(train_f, test_f, classes, cfg.eval.probe_c)
        if "modalities" in todo:
            results["modalities"] = evaluate.eval_modalities(train_f, test_f, classes, cfg.eval.probe_c)
    if "transfer" in todo:
        if cfg.eval.transfer_manifest:
            from egodistill.datasets.manifest import read_manifest

            t_rows = read_manifest(cfg.eval.transfer_manifest)
            t_train, t_test, t_classes = evaluate.labelled_features(t_rows, enc, cfg)
            results["transfer"] = {**evaluate.eval_probe(t_train, t_test, t_classes, cfg.eval.probe_c),
                                   "manifest": cfg.eval.transfer_manifest}  # fmt: skip
        else:
            notes.append(
                "transfer skipped: no eval.transfer_manifest (index a `egodistill synth --profile dog` world)"
            )
    report_dir = cfg.ws() / "reports" / KIND / cfg.data.dataset
    write_report(results, report_dir, run)
    results["report_dir"] = str(report_dir)
    return results


def run_correspondence(cfg: CorrespondenceJobConfig, parent_run: tracking.RunRef | None = None,
                       train_callbacks: Sequence[Any] = ()) -> CorrespondenceOutcome:  # fmt: skip
    """The whole job: train (video CNN updated, then frozen), then every evaluation, under one MLflow run."""
    t0 = time.perf_counter()
    with tracking.tracked_run(cfg.tracking, workspace=cfg.workspace, job=KIND, params={"name": cfg.name, "dataset": cfg.data.dataset},
                              parent=parent_run, run_name=f"{cfg.data.dataset}/{cfg.name}/job") as run:  # fmt: skip
        updated = train(cfg.model_copy(update={"freeze_video": False}), run, train_callbacks)
        exports = {"updated": updated["export"]}
        if cfg.eval.frozen_comparison:
            exports["frozen"] = train(cfg.model_copy(update={"freeze_video": True}), run)["export"]
        results = evaluate_exports(cfg, exports, run)
    from egodistill.methods.correspondence.report import flat_metrics

    return CorrespondenceOutcome(cfg.data.dataset, exports, {**updated["metrics"], **flat_metrics(results)}, results,
                                 results.get("report_dir"), run.run_id if run else None, time.perf_counter() - t0)  # fmt: skip


__all__ = [
    "KIND",
    "CorrespondenceOutcome",
    "evaluate_exports",
    "export_dir",
    "load_export",
    "run_correspondence",
    "train",
]
