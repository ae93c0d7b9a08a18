"""``run_sweep``: Ray Tune (ASHA + Optuna) over stage-2 distillation, one Ray Train run per trial.

Each trial is a Tune function trainable that builds a :class:`DistillJobConfig` from the sweep's job
values plus the trial's sampled values and calls :func:`run_distill` (which fits the ``TorchTrainer``
and evaluates per segment on the trial's driver). The Ray Train run gets a
``ray.tune.integration.ray_train.TuneReportCallback``, so every epoch's metrics (``val_segment_top1``
from the distill loop) reach Tune and ASHA can stop weak trials early (Ray's Train V2 + Tune guide).

MLflow: one parent run per sweep (``egodistill-sweep`` experiment) and, nested under it, the
``run_distill`` run of every trial. Output in ``<workspace>/sweeps/<name>/``: ``tune/`` (Tune's
experiment, restorable), ``sweep.json`` (parent run id, settings), ``best.yaml`` (a full
``DistillJobConfig``: ``egodistill distill --config best.yaml`` trains the best trial again) and
``trials.csv``. Running the same sweep again resumes it (``Tuner.restore``) when it was interrupted.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import tune

from egodistill import tracking
from egodistill.config import apply_dotted, deep_merge, dump_config
from egodistill.runtime import verbose
from egodistill.tuning import placement
from egodistill.tuning.config import SweepConfig
from egodistill.tuning.trial_progress import TrialProgress

log = logging.getLogger(__name__)

TUNE_DIR = "tune"
STATE_FILE = "sweep.json"
BEST_FILE = "best.yaml"


@dataclass
class SweepOutcome:
    name: str
    sweep_dir: str
    num_trials: int
    best_params: dict[str, Any]
    best_metric: float
    best_config: str
    parent_run_id: str | None
    resumed: bool
    elapsed_sec: float
    trials: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"sweep {self.name}: {self.num_trials} trials in {self.elapsed_sec:.0f} s"
            + (" (resumed)" if self.resumed else "")
        ]
        p = self.best_params
        out.append(
            "  best: alpha={} beta={} tau={} lr={}  ({} {:.4f})".format(
                _fmt(p.get("loss.alpha")),
                _fmt(p.get("loss.beta")),
                _fmt(p.get("loss.temperature")),
                _fmt(p.get("optim.lr")),
                "metric",
                self.best_metric,
            )
        )
        extra = {
            k: v for k, v in p.items() if k not in {"loss.alpha", "loss.beta", "loss.temperature", "optim.lr"}
        }
        if extra:
            out.append(f"  also: {extra}")
        out.append(f"  best config: {self.best_config}  (egodistill distill --config {self.best_config})")
        if self.parent_run_id:
            out.append(f"  mlflow parent run: {self.parent_run_id}")
        return out


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ----------------------------------------------------------------------------------------------
# job configs


def job_values(cfg: SweepConfig) -> dict[str, Any]:
    """The trials' common job values: the method's preset < ``cfg.job``; workspace and tracking."""
    from egodistill.methods import job_preset

    values = deep_merge(job_preset(cfg.method, cfg.stage, cfg.job_preset), cfg.job)
    values["workspace"] = str(cfg.ws())
    values["tracking"] = deep_merge(cfg.tracking.model_dump(mode="json"), values.get("tracking") or {})
    return values


def trial_job(base: dict[str, Any], params: dict[str, Any], name: str, method: str = "egodistill",
              stage: str = "distill"):  # fmt: skip
    """The method's validated job config: ``base`` with the dotted ``params`` applied and the student ``name``."""
    from egodistill.config import ConfigError
    from egodistill.methods import job_config_class

    values = deep_merge(base, {})
    for key, value in params.items():
        apply_dotted(values, key.split("."), value)
    values["name"] = name
    try:
        return job_config_class(method, stage).model_validate(values)
    except Exception as e:  # pydantic.ValidationError
        raise ConfigError(f"sweep job config is invalid: {e}") from None


def _sample(space: dict[str, Any]) -> dict[str, Any]:
    """A representative point (for validating the job config before the sweep starts)."""
    out = {}
    for key, s in space.items():
        out[key] = s.values[0] if s.type == "choice" else (s.low + s.high) / 2
    return out


# ----------------------------------------------------------------------------------------------
# the trial


def _trial(
    config: dict[str, Any],
    *,
    base: dict[str, Any],
    parent: Any,
    sweep_name: str,
    metric: str,
    registry: str,
    method: str = "egodistill",
    stage: str = "distill",
) -> None:
    """Tune function trainable: build the trial's job config and fit it with Ray Train.

    The Ray Train run reports every epoch to Tune (``TuneReportCallback``), so ASHA can stop the
    trial at a rung; its placement group is registered so the driver can free it then.
    """
    from ray import tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from egodistill.methods import stage_runner

    trial_id = tune.get_context().get_trial_id()
    cfg = trial_job(base, config, f"{sweep_name}-{trial_id}", method, stage)
    callbacks = [TuneReportCallback(), *placement.register_callback(registry, trial_id)]
    out = stage_runner(method, stage)(cfg, parent_run=parent, train_callbacks=callbacks)
    final = {k: v for k, v in out.metrics.items() if isinstance(v, (int, float))}
    final.update({"eval_segment_top1": out.segment_top1, "mlflow_run_id": out.run_id or "", "done": True})
    if out.segments is not None and metric == "val_segment_top1":
        final[metric] = out.segment_top1  # the driver's evaluation of the final model
    tune.report(final)


# ----------------------------------------------------------------------------------------------
# the sweep


class CloseStoppedTrialRuns(tune.Callback):
    """Tune callback (sweep driver): end the MLflow run of a trial that did not finish on its own.

    ASHA stops a weak trial by killing its actor mid-run, so the trial's nested distill run would stay
    RUNNING (or end FAILED from the interrupted block). A stopped trial's run is marked KILLED, an
    errored trial's FAILED; runs are found by the trial's job name under the sweep's parent run.
    """

    def __init__(self, parent: tracking.RunRef | None, sweep_name: str) -> None:
        self._parent = parent
        self._sweep = sweep_name

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._close(trial, "KILLED")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._close(trial, "FAILED")

    def _close(self, trial: Any, status: str) -> None:
        if self._parent is None:
            return
        try:
            client = self._parent.client()
            found = client.search_runs(
                [self._parent.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{self._parent.run_id}' "
                f"and params.name = '{self._sweep}-{trial.trial_id}'",
            )
            for run in found:
                if run.info.status != "FINISHED":
                    client.set_terminated(run.info.run_id, status=status)
                    client.set_tag(run.info.run_id, "egodistill.sweep.ended_by", f"tune ({status})")
        except Exception as e:  # tracking never fails the sweep
            log.warning("mlflow: could not close the run of trial %s: %s", trial.trial_id, e)


def best_trial(grid: Any, metric: str, mode: str) -> tuple[Any, float]:
    """The trial with the best ``metric`` over all its reports; ties go to the trial that started first.

    Unlike ``ResultGrid.get_best_result``, the choice is stable when the same sweep is restored, so a
    resumed sweep names the same best config (small validation sets tie often).
    """
    import math

    scored = []
    for result in grid:
        df = result.metrics_dataframe
        if df is None or metric not in df:
            continue
        values = [float(v) for v in df[metric] if v is not None and math.isfinite(float(v))]
        if not values:
            continue
        score = max(values) if mode == "max" else min(values)
        started = float(df["timestamp"].min()) if "timestamp" in df else 0.0
        scored.append(((-score if mode == "max" else score), started, str(result.path), result, score))
    if not scored:
        raise RuntimeError(f"no trial reported {metric}: {[str(e) for e in grid.errors]}")
    _, _, _, result, score = min(scored, key=lambda t: t[:3])
    return result, score


def _search_alg(cfg: SweepConfig):
    from ray.tune.search import ConcurrencyLimiter

    if cfg.search == "random":
        return None
    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(sampler=TPESampler(seed=cfg.seed))
    return ConcurrencyLimiter(searcher, max_concurrent=cfg.max_concurrent_trials)


def _state(cfg: SweepConfig, parent: tracking.RunRef | None) -> dict[str, Any]:
    ref = None if parent is None else {"tracking_uri": parent.tracking_uri, "experiment_id": parent.experiment_id,
                                       "run_id": parent.run_id}  # fmt: skip
    return {"name": cfg.name, "parent_run": ref, "config": cfg.model_dump(mode="json")}


def _parent_run(cfg: SweepConfig, sweep_dir: Path, resuming: bool, params: dict[str, Any]):
    """The sweep's MLflow parent run: the recorded one when resuming, else a new one."""
    if not cfg.tracking.enabled:
        return None
    state_file = sweep_dir / STATE_FILE
    if resuming and state_file.is_file():
        old = json.loads(state_file.read_text()).get("parent_run")
        if old:
            ref = tracking.RunRef(**old)
            ref.client().update_run(ref.run_id, status="RUNNING")
            return ref
    return tracking.start_run(cfg.tracking, workspace=cfg.ws(), job="sweep", params=params,
                              run_name=f"sweep/{cfg.name}", tags={"egodistill.sweep": cfg.name})  # fmt: skip


def preflight(cfg: SweepConfig) -> None:
    """Before Ray: the trials' job config validates and, for EgoDistill, its clips and teacher features exist.

    Without this a sweep over a workspace with no teacher features would start Ray and compute every
    clip's f_I cache before failing at the join.
    """
    from egodistill.models.config import VARIANTS
    from egodistill.student.products import StudentInputsConfig, require_sources

    probe = trial_job(job_values(cfg), _sample(cfg.space), f"{cfg.name}-probe", cfg.method, cfg.stage)
    if cfg.method != "egodistill":
        return
    distills = cfg.stage == "distill" and VARIANTS[probe.student.variant].distill
    require_sources(StudentInputsConfig.for_job(probe.workspace, probe.data, probe.student),
                    needs_teacher=distills, teacher=probe.data.teacher_model if distills else None)  # fmt: skip


def run_sweep(cfg: SweepConfig) -> SweepOutcome:
    """Run (or resume) the sweep and write ``best.yaml``; Ray must be initialised (or is started locally)."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from egodistill.runtime import ensure_ray
    from egodistill.student.products import StudentInputsConfig, run_student_inputs

    t0 = time.perf_counter()
    ensure_ray()
    base = job_values(cfg)
    probe = trial_job(
        base, _sample(cfg.space), f"{cfg.name}-probe", cfg.method, cfg.stage
    )  # fail before any trial
    epochs = int(probe.optim.epochs or 1)  # resolved by the job config (the method's paper default)
    # the data stage once, before trials run side by side (it reuses whatever is complete)
    for line in run_student_inputs(
        StudentInputsConfig.for_job(probe.workspace, probe.data, probe.student)
    ).lines():
        log.info(line)

    sweep_dir = cfg.sweep_dir()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    tune_path = str(sweep_dir / TUNE_DIR)
    resuming = cfg.resume and tune.Tuner.can_restore(tune_path)
    params = {**tracking.flatten(cfg.model_dump(mode="json", exclude={"job", "space"})),
              **{f"space.{k}": str(v.model_dump(exclude_none=True)) for k, v in cfg.space.items()}}  # fmt: skip
    parent = _parent_run(cfg, sweep_dir, resuming, params)
    (sweep_dir / STATE_FILE).write_text(json.dumps(_state(cfg, parent), indent=1))
    if parent is not None:
        tracking.log_text(parent, dump_config(cfg), "sweep.yaml")

    registry = placement.start_registry(cfg.name)
    trainable = tune.with_resources(
        tune.with_parameters(
            _trial,
            base=base,
            parent=parent,
            sweep_name=cfg.name,
            metric=cfg.metric,
            registry=registry,
            method=cfg.method,
            stage=cfg.stage,
        ),
        {"cpu": cfg.trial_cpus},
    )
    status = "FAILED"
    try:
        if resuming:
            log.info("resuming sweep %s from %s", cfg.name, tune_path)
            tuner = tune.Tuner.restore(
                tune_path, trainable=trainable, resume_unfinished=True, resume_errored=True
            )
        else:
            scheduler = ASHAScheduler(
                time_attr="training_iteration",
                max_t=cfg.asha.max_t or epochs,
                grace_period=cfg.asha.grace_period,
                reduction_factor=cfg.asha.reduction_factor,
                stop_last_trials=False,  # a trial that reaches max_t finishes its run (and frees its CPUs)
            )
            tuner = tune.Tuner(
                trainable,
                param_space={k: s.domain() for k, s in cfg.space.items()},
                tune_config=tune.TuneConfig(
                    metric=cfg.metric,
                    mode=cfg.mode,
                    num_samples=cfg.num_samples,
                    max_concurrent_trials=cfg.max_concurrent_trials,
                    scheduler=scheduler,
                    search_alg=_search_alg(cfg),
                ),
                run_config=tune.RunConfig(
                    name=TUNE_DIR,
                    storage_path=str(sweep_dir),
                    verbose=1 if verbose() else 0,
                    callbacks=[
                        placement.ReleaseTrainGroups(registry),
                        CloseStoppedTrialRuns(parent, cfg.name),
                        *(
                            []
                            if verbose()
                            else [TrialProgress(cfg.name, cfg.num_samples, cfg.metric, cfg.mode)]
                        ),
                    ],
                ),
            )
        grid = tuner.fit()
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if status != "FINISHED":
            tracking.end_run(parent, status)

    try:
        best, best_metric = best_trial(grid, cfg.metric, cfg.mode)
    except RuntimeError:
        tracking.end_run(parent, "FAILED")
        raise
    best_params = {k: best.config[k] for k in cfg.space}
    best_cfg = trial_job(base, best_params, f"{cfg.name}-best", cfg.method, cfg.stage)
    best_file = sweep_dir / BEST_FILE
    tmp = best_file.with_suffix(".yaml.tmp")
    tmp.write_text(dump_config(best_cfg))
    tmp.replace(best_file)

    df = grid.get_dataframe(filter_metric=cfg.metric, filter_mode=cfg.mode)
    df.to_csv(sweep_dir / "trials.csv", index=False)
    trials = [
        {"trial_id": r.metrics.get("trial_id"), "params": {k: r.config.get(k) for k in cfg.space},
         "iterations": r.metrics.get("training_iteration"), "metric": r.metrics.get(cfg.metric),
         "error": str(r.error) if r.error else None}
        for r in grid
    ]  # fmt: skip
    if parent is not None:
        tracking.log_metrics(parent, {f"best_{cfg.metric}": best_metric, "trials": len(grid)})
        tracking.log_params(parent, {f"best.{k}": v for k, v in best_params.items()})
        tracking.log_artifact(parent, best_file)
        tracking.log_artifact(parent, sweep_dir / "trials.csv")
        tracking.end_run(parent, "FINISHED")
    return SweepOutcome(cfg.name, str(sweep_dir), len(grid), best_params, best_metric, str(best_file),
                        parent.run_id if parent else None, resuming, time.perf_counter() - t0, trials)  # fmt: skip
