"""MLflow wiring shared by every job: where runs go, what they record, and who may write.

Design
------
*The driver owns the run.* A job opens its MLflow run on the driver (:func:`start_run` or the
:func:`tracked_run` context manager), logs the flattened config as params, and hands a small
picklable :class:`RunRef` (tracking URI + run id) to its Ray Train workers in the loop config.
Rank 0 logs per-epoch metrics into *that* run with :func:`log_metrics` (other ranks are no-ops), and
after ``trainer.fit()`` the driver logs the final metrics and artifacts (checkpoint, tables, plots)
and closes the run.

Why not ``ray.air.integrations.mlflow.setup_mlflow`` inside the workers: it starts a *new* run each
time it is called, so when Ray Train restarts the worker group after a failure (``FailureConfig``)
the resumed epochs would land in a second run; and it has no notion of the driver-side artifacts a
job logs after training. Logging by run id through :class:`mlflow.tracking.MlflowClient` keeps one
run per job across restarts, never touches MLflow's process-global "active run" (so concurrent runs
in one process, e.g. Tune trials, cannot cross), and works the same on the driver and in a worker.
For Ray Tune sweeps, :func:`start_run` with ``parent=`` creates nested runs (one per trial) under a
parent run (the ``mlflow.parentRunId`` tag MLflow's UI uses); ``MLflowLoggerCallback`` from
``ray.air.integrations.mlflow`` remains an option for metric-only trials.

Store: by default ``sqlite:///<absolute workspace>/mlflow.db`` with artifacts under
``<workspace>/mlartifacts`` (MLflow's plain ``./mlruns`` file store raises in MLflow 3, and a
relative artifact root would follow the current directory). SQLite serialises writers: fine for one
job and its rank-0 worker on one machine; on a multi-node cluster or with many concurrent Tune
trials, point ``tracking_uri`` at an ``mlflow server``.

Credentials in a tracking URI (``http://user:password@host/``) are needed to connect but are never
logged, printed or stored: params, tags, text/dict artifacts and log lines go through
:mod:`egodistill.redact`.

The UI reads well: experiments carry ``mlflow.experimentKind = custom_model_development`` (MLflow 3
otherwise opens an experiment on its GenAI traces page), and :func:`metric_name` groups metric keys
into ``train/``, ``val/`` and ``sys/`` (bookkeeping) sections of the run's charts.

A run whose job was killed (SIGKILL, OOM, a lost node) cannot end itself: each run records the host
and pid of its driver, and the next start of a run with the same name and parent ends such a run
KILLED when that process is gone (:func:`end_orphaned_runs`). Two jobs creating the same fresh SQLite
store at once would both run MLflow's schema migrations (``table ... already exists``): the first
open of a SQLite store holds a file lock beside the database (:func:`open_client`).

Every function accepts ``ref=None`` (tracking disabled) and then does nothing, so callers need no
``if tracking:`` branches.

Why this module is long: one place owns every MLflow call (driver-owned runs, rank-0 logging, nested runs, stage runs), so no job imports mlflow itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from egodistill.config import StrictConfig
from egodistill.redact import redact, redact_value

log = logging.getLogger(__name__)

#: MLflow limits a param value to 6000 characters (``MAX_PARAM_VAL_LENGTH``); longer ones are cut.
MAX_PARAM_LENGTH = 6000
#: Params and metrics are sent in batches of at most this many (MLflow's log_batch limits).
_BATCH = 100
PARENT_TAG = "mlflow.parentRunId"
#: MLflow 3's experiment-type tag (its UI opens a "custom_model_development" experiment on runs/models).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
HOST_TAG, PID_TAG = "egodistill.host", "egodistill.pid"
#: Per-epoch keys that are bookkeeping, not learning curves: grouped under ``sys/``.
SYS_KEYS = frozenset({"attempt", "epochs_done", "start_epoch", "epoch", "train_sec", "eval_sec",
                      "train_batches", "train_clips", "train_clips_per_sec", "val_clips_failed",
                      "val_segments_missing", "val_clip_rows", "val_segments"})  # fmt: skip


class TrackingConfig(StrictConfig):
    """Where a job's MLflow run goes. Defaults: a SQLite store in the workspace, one experiment per job."""

    enabled: bool = True
    tracking_uri: str | None = Field(
        None,
        description="None: $MLFLOW_TRACKING_URI if set, else sqlite:///<absolute workspace>/mlflow.db; "
        "or an MLflow server URI",
    )
    experiment: str | None = Field(None, description='None: "egodistill-<job>" (e.g. egodistill-teacher)')
    artifact_location: str | None = Field(
        None,
        description="artifact root for a new experiment; None: <workspace>/mlartifacts (ignored for "
        "an existing experiment, and for a server URI that manages its own artifacts)",
    )
    run_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    register_model: str | None = Field(
        None, description="register the job's trained model under this name in the MLflow model registry"
    )


@dataclass(frozen=True)
class RunRef:
    """A handle on one MLflow run that can be pickled into Ray workers."""

    tracking_uri: str
    experiment_id: str
    run_id: str

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)


# ----------------------------------------------------------------------------------------------
# where


def default_tracking_uri(workspace: str | os.PathLike[str]) -> str:
    """``sqlite:///<absolute path>/mlflow.db`` (four slashes before an absolute path on POSIX)."""
    path = Path(workspace).expanduser().absolute() / "mlflow.db"
    return f"sqlite:///{path}"


def resolve_tracking_uri(cfg: TrackingConfig, workspace: str | os.PathLike[str]) -> str:
    """The config's URI, else ``$MLFLOW_TRACKING_URI`` (a cluster's server), else the workspace's SQLite."""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    Path(workspace).expanduser().absolute().mkdir(parents=True, exist_ok=True)
    return default_tracking_uri(workspace)


def _artifact_location(cfg: TrackingConfig, workspace: str | os.PathLike[str], uri: str) -> str | None:
    if cfg.artifact_location:
        return cfg.artifact_location
    if uri.startswith(("http://", "https://", "databricks")):
        return None  # the server decides (its --default-artifact-root / proxied artifacts)
    return (Path(workspace).expanduser().absolute() / "mlartifacts").as_uri()


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def open_client(uri: str, attempts: int = 5):
    """An ``MlflowClient`` whose store is open; a fresh SQLite store is created under a file lock.

    MLflow creates the SQLite schema the first time a process opens the store; two processes doing
    it at once lose one (``table ... already exists``). The lock (``<db>.lock``, ``fcntl.flock``)
    serialises that first open; the retry covers a store created by a process that took no lock.
    """
    from mlflow.tracking import MlflowClient

    db = _sqlite_path(uri)
    for attempt in range(attempts):
        try:
            with _store_lock(db):
                client = MlflowClient(tracking_uri=uri)
                client.search_experiments(max_results=1)  # opens (and, when fresh, creates) the store
            return client
        except Exception as e:  # noqa: BLE001 - only the creation race is retried
            if db is None or "already exists" not in str(e) or attempt == attempts - 1:
                raise
            log.info("mlflow: store %s was being created by another process; retrying", db)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _store_lock(db: Path | None) -> Iterator[None]:
    if db is None:
        yield
        return
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def experiment_id(client, name: str, artifact_location: str | None) -> str:
    """Id of experiment ``name``, created (with ``artifact_location``) when missing, tagged as model training."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(
                name, artifact_location=artifact_location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
            )
        except Exception:  # created concurrently by another process (e.g. a parallel Tune trial)
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    if EXPERIMENT_KIND_TAG not in (exp.tags or {}):  # an experiment created before this tag existed
        client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    return exp.experiment_id


#: what MLflow does not allow in a metric or param name (it allows alphanumerics, _ - . space : /)
_MLFLOW_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(key: str) -> str:
    """The UI name of a metric key: ``train_loss`` -> ``train/loss``, ``val_segment_top1`` ->
    ``val/segment_top1``, ``lr`` -> ``train/lr``, bookkeeping (:data:`SYS_KEYS`) -> ``sys/...``;
    a key that already has a section (``eval/top1``) is kept. Characters MLflow rejects in a name
    (``=`` of ``EgoDistill N=4``, ``[``, ...) become ``_``: one such key failed a whole batch."""
    key = _MLFLOW_UNSAFE.sub("_", key)
    if "/" in key:
        return key
    if key in SYS_KEYS:
        return f"sys/{key}"
    if key == "lr":
        return "train/lr"
    for section in ("train", "val"):
        if key.startswith(section + "_"):
            return f"{section}/{key[len(section) + 1 :]}"
    return key


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def end_orphaned_runs(client, exp_id: str, run_name: str, parent_id: str | None) -> list[str]:
    """End KILLED the RUNNING runs named ``run_name`` (same parent) whose driver on this host is gone.

    Such a run belongs to a job killed before it could end its run (SIGKILL, OOM); a run of another
    host, or of a live process, is left alone. Returns the ids ended.
    """
    name = run_name.replace("'", "\\'")
    runs = client.search_runs(
        [exp_id],
        filter_string=f"attributes.run_name = '{name}' and attributes.status = 'RUNNING'",
        max_results=100,
    )
    host, ended = socket.gethostname(), []
    for r in runs:
        tags = r.data.tags
        if tags.get(PARENT_TAG) != parent_id or tags.get(HOST_TAG) != host:
            continue
        try:
            pid = int(tags.get(PID_TAG, ""))
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            client.set_tag(r.info.run_id, "egodistill.ended_by", f"next start of the job (pid {pid} gone)")
            client.set_terminated(r.info.run_id, status="KILLED")
            log.warning(
                "mlflow: run %s (%s) of a killed job (pid %d) ended KILLED", r.info.run_id, run_name, pid
            )
            ended.append(r.info.run_id)
    return ended


# ----------------------------------------------------------------------------------------------
# params


def flatten(obj: Any, prefix: str = "", sep: str = ".") -> dict[str, str]:
    """Flatten a config (pydantic model, dataclass, mapping, list) into ``{"a.b.c": "value"}``.

    Lists of scalars stay one value (``[1, 2]``); lists of mappings are indexed (``a.0.b``).
    Values are strings, credentials in URIs masked (:func:`egodistill.redact.redact`), cut to
    MLflow's 6000-character limit.
    """
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    elif hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        obj = asdict(obj)
    out: dict[str, str] = {}
    if isinstance(obj, Mapping):
        if not obj and prefix:
            out[prefix] = "{}"
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{sep}{k}" if prefix else str(k), sep))
        return out
    if isinstance(obj, list | tuple) and any(isinstance(v, Mapping) for v in obj):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{sep}{i}" if prefix else str(i), sep))
        return out
    text = json.dumps(obj, default=str) if isinstance(obj, list | tuple) else str(obj)
    out[prefix or "value"] = redact(text)[:MAX_PARAM_LENGTH]
    return out


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keep finite numbers (bools as 0/1); MLflow metrics are floats."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, int | float) and math.isfinite(float(v)):  # bools too (0/1)
            out[k] = float(v)
        elif hasattr(v, "item") and getattr(v, "size", 1) == 1:  # numpy / torch scalars
            f = float(v.item())
            if math.isfinite(f):
                out[k] = f
    return out


# ----------------------------------------------------------------------------------------------
# runs


def start_run(
    cfg: TrackingConfig,
    *,
    workspace: str | os.PathLike[str],
    job: str,
    params: Any = None,
    parent: RunRef | None = None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> RunRef | None:
    """Create a run in experiment ``cfg.experiment`` (default ``egodistill-<job>``) and log ``params``.

    With ``parent`` the run is nested under it (same experiment as the parent). Returns None when
    tracking is disabled. The run stays RUNNING until :func:`end_run`.
    """
    if not cfg.enabled:
        return None
    if parent is not None:
        uri, exp_id = parent.tracking_uri, parent.experiment_id
        client = open_client(uri)
    else:
        uri = resolve_tracking_uri(cfg, workspace)
        client = open_client(uri)
        exp_id = experiment_id(
            client, cfg.experiment or f"egodistill-{job}", _artifact_location(cfg, workspace, uri)
        )
    all_tags = {k: redact(str(v)) for k, v in {"egodistill.job": job, **cfg.tags, **(tags or {})}.items()}
    all_tags.update({HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())})
    if parent is not None:
        all_tags[PARENT_TAG] = parent.run_id
    name = redact(run_name or cfg.run_name or job)
    end_orphaned_runs(client, exp_id, name, parent.run_id if parent else None)
    run = client.create_run(exp_id, run_name=name, tags=all_tags)
    ref = RunRef(tracking_uri=uri, experiment_id=exp_id, run_id=run.info.run_id)
    if params is not None:
        log_params(ref, params)
    log.info("mlflow: run %s in experiment %s (%s)", ref.run_id, exp_id, redact(uri))
    return ref


def end_run(ref: RunRef | None, status: str = "FINISHED") -> None:
    """Mark the run FINISHED (or FAILED / KILLED)."""
    if ref is not None:
        ref.client().set_terminated(ref.run_id, status=status)


@contextlib.contextmanager
def tracked_run(
    cfg: TrackingConfig,
    *,
    workspace: str | os.PathLike[str],
    job: str,
    params: Any = None,
    parent: RunRef | None = None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[RunRef | None]:
    """:func:`start_run` ... :func:`end_run`; the run ends FAILED (or KILLED on Ctrl-C) if the block raises."""
    ref = start_run(
        cfg, workspace=workspace, job=job, params=params, parent=parent, run_name=run_name, tags=tags
    )
    try:
        yield ref
    except KeyboardInterrupt:
        end_run(ref, "KILLED")
        raise
    except BaseException:
        end_run(ref, "FAILED")
        raise
    end_run(ref, "FINISHED")


# ----------------------------------------------------------------------------------------------
# logging


def is_rank_zero() -> bool:
    """True on the driver, in a Tune trial, and on rank 0 of a Ray Train worker group."""
    try:
        import ray.train

        return ray.train.get_context().get_world_rank() == 0
    except (RuntimeError, DeprecationWarning, ImportError, AttributeError):
        return True


def log_params(ref: RunRef | None, params: Any) -> None:
    """Log a config (flattened, see :func:`flatten`) as run params."""
    if ref is None or not is_rank_zero():
        return
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in flatten(params).items()]
    client = ref.client()
    for i in range(0, len(items), _BATCH):
        client.log_batch(ref.run_id, params=items[i : i + _BATCH])


def log_metrics(ref: RunRef | None, metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log the finite numeric entries of ``metrics`` (others are skipped) at ``step`` (e.g. the epoch),
    named by :func:`metric_name` (``train/``, ``val/``, ``sys/``).

    Rank 0 only inside a Ray Train worker group, so every worker may call it.
    """
    if ref is None or not is_rank_zero():
        return
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(metric_name(k), v, now, step or 0) for k, v in _numeric(metrics).items()]
    client = ref.client()
    for i in range(0, len(items), _BATCH):
        client.log_batch(ref.run_id, metrics=items[i : i + _BATCH])


def set_tags(ref: RunRef | None, tags: Mapping[str, Any]) -> None:
    if ref is None or not is_rank_zero():
        return
    client = ref.client()
    for k, v in tags.items():
        client.set_tag(ref.run_id, k, redact(str(v)))


def log_artifact(ref: RunRef | None, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy a file or a whole directory into the run's artifacts (under ``artifact_path``)."""
    if ref is None or not is_rank_zero():
        return
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"artifact {p} does not exist")
    client = ref.client()
    if p.is_dir():
        client.log_artifacts(ref.run_id, str(p), artifact_path)
    else:
        client.log_artifact(ref.run_id, str(p), artifact_path)


def log_text(ref: RunRef | None, text: str, artifact_file: str) -> None:
    """Write ``text`` as artifact ``artifact_file`` (e.g. ``config.yaml``, ``report/summary.txt``)."""
    if ref is None or not is_rank_zero():
        return
    ref.client().log_text(ref.run_id, redact(text), artifact_file)


def log_dict(ref: RunRef | None, data: Mapping[str, Any], artifact_file: str) -> None:
    """A mapping as a JSON (``.json``) or YAML (``.yaml``/``.yml``) artifact."""
    if ref is None or not is_rank_zero():
        return
    ref.client().log_dict(ref.run_id, redact_value(json.loads(json.dumps(data, default=str))), artifact_file)


def log_table(ref: RunRef | None, table: Any, artifact_file: str) -> None:
    """An Arrow table as a Parquet artifact (``artifact_file`` like ``tables/per_class.parquet``)."""
    if ref is None or not is_rank_zero():
        return
    import pyarrow.parquet as pq

    directory, _, name = artifact_file.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / name
        pq.write_table(table, local)
        ref.client().log_artifact(ref.run_id, str(local), directory or None)


# ----------------------------------------------------------------------------------------------
# models

#: What the packaged models import (pinned to the installed versions); this project travels as code.
MODEL_REQUIREMENTS = (
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "pydantic",
    "pyyaml",
    "pyarrow",
    "av",
    "pillow",
)


def pip_requirements(names: tuple[str, ...] = MODEL_REQUIREMENTS) -> list[str]:
    """``name==installed version`` for each of ``names`` (the bare name when it is not installed)."""
    from importlib import metadata

    out = []
    for n in names:
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            out.append(n)
    return out


def code_paths() -> list[str]:
    """This package's folder: MLflow copies it into the model, so loading needs no egodistill install."""
    import egodistill

    return [str(Path(egodistill.__file__).parent)]


def pyfunc_model_kwargs(
    python_model: Any, artifacts: Mapping[str, str], input_example: Any, output: Any
) -> dict[str, Any]:
    """The ``mlflow.pyfunc`` save/log arguments every egodistill model shares: signature inferred from
    the input example and its output, pinned requirements, this package as code."""
    from mlflow.models import infer_signature

    return {"python_model": python_model, "artifacts": dict(artifacts), "code_paths": code_paths(),
            "signature": infer_signature(input_example, output), "input_example": input_example,
            "pip_requirements": pip_requirements()}  # fmt: skip


@contextlib.contextmanager
def _process_uris(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking and registry URIs at ``uri``, then put everything back.

    ``mlflow.set_tracking_uri`` also writes ``$MLFLOW_TRACKING_URI`` (which :func:`resolve_tracking_uri`
    reads), so the environment and MLflow's module state are both restored, as they were.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    state = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = state
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def log_pyfunc(
    ref: RunRef | None,
    name: str,
    *,
    python_model: Any,
    artifacts: Mapping[str, str],
    input_example: Any,
    output: Any,
    register: str | None = None,
):
    """Log a pyfunc model (an MLflow 3 logged model) into run ``ref``; register it as ``register``.

    Logs by run id (``Model.log(run_id=...)``), never through the fluent active run; MLflow's model
    logging reads the process-wide tracking URI, so it is pointed at the run's store for the call and
    put back after (:func:`_process_uris`; this touches MLflow's module state, hence one place). Returns the ``ModelInfo`` (``model_uri``, ``registered_model_version``), or None.
    """
    if ref is None or not is_rank_zero():
        return None
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import Model

    kwargs = pyfunc_model_kwargs(python_model, artifacts, input_example, output)
    with _process_uris(ref.tracking_uri):
        # created here so it lands in the run's experiment (Model.log alone puts it in the active one)
        model = ref.client().create_logged_model(ref.experiment_id, name=name, source_run_id=ref.run_id)
        info = Model.log(artifact_path=None, name=name, flavor=mlflow.pyfunc, run_id=ref.run_id,
                         model_id=model.model_id, registered_model_name=register, **kwargs)  # fmt: skip
    if register:
        log.info("mlflow: registered %s version %s", register, getattr(info, "registered_model_version", "?"))
    return info


# ----------------------------------------------------------------------------------------------
# data stages (index, ingest, features)


def stage_workspace(cfg: TrackingConfig, workspace: str | None, local_default: str | None) -> str | None:
    """Workspace of a data stage's MLflow store: ``workspace``, else ``local_default`` (the folder the
    stage derives from its local output), else ``workspace`` beside the current directory when a
    tracking URI is configured (the store is elsewhere; only a file store's artifacts land there).

    None (with a warning) when tracking is on but neither a workspace nor a tracking URI can be had:
    an output URI (``s3://...``) has no local folder to hold ``mlflow.db``, and inventing one would
    scatter runs across the current directories of the jobs.
    """
    if not cfg.enabled:
        return None
    if workspace:
        return workspace
    if local_default:
        return local_default
    if cfg.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"):
        return "workspace"
    log.warning(
        "mlflow: not tracking this run: its output is a URI and there is no --workspace, "
        "tracking.tracking_uri or MLFLOW_TRACKING_URI to say where the MLflow store is"
    )
    return None


def local_folder(uri: str) -> Path | None:
    """The absolute local path of ``uri`` (a plain path or ``file://``), None for a remote URI."""
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif "://" in uri:
        return None
    return Path(uri).expanduser().absolute()


@dataclass
class StageRun:
    """The MLflow run of a data stage. Its methods log a warning instead of raising: a stage's outputs
    and exit status must not depend on whether the MLflow store is reachable."""

    ref: RunRef | None
    failed: bool = False

    def log(
        self,
        metrics: Mapping[str, Any],
        summary: str,
        tables: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Final metrics, the printed summary as ``summary.txt`` and ``tables`` as JSON artifacts."""
        if self.ref is None:
            return
        try:
            log_metrics(self.ref, metrics)
            log_text(self.ref, summary if summary.endswith("\n") else summary + "\n", "summary.txt")
            for name, data in (tables or {}).items():
                log_dict(self.ref, data, name)
        except Exception as e:  # noqa: BLE001 - tracking never fails the stage
            log.warning(
                "mlflow: could not log to run %s: %s: %s", self.ref.run_id, type(e).__name__, redact(str(e))
            )

    def fail(self, error: str) -> None:
        """The stage failed without raising (exit status 1): the run ends FAILED, ``error.txt`` says why."""
        self.failed = True
        if self.ref is None:
            return
        try:
            log_text(self.ref, error + "\n", "error.txt")
        except Exception as e:  # noqa: BLE001
            log.warning(
                "mlflow: could not log to run %s: %s: %s", self.ref.run_id, type(e).__name__, redact(str(e))
            )

    def end(self, status: str) -> None:
        try:
            end_run(self.ref, status)
        except Exception as e:  # noqa: BLE001
            log.warning(
                "mlflow: could not end run %s: %s: %s",
                self.ref and self.ref.run_id,
                type(e).__name__,
                redact(str(e)),
            )


@contextlib.contextmanager
def stage_run(
    cfg: TrackingConfig, *, workspace: str | None, job: str, params: Any = None, run_name: str | None = None
) -> Iterator[StageRun]:
    """:func:`tracked_run` for a data stage: no run when ``workspace`` is None (see
    :func:`stage_workspace`) or the store cannot be opened (a warning), and no MLflow error escapes.
    The run ends FAILED if the block raises or calls :meth:`StageRun.fail`, KILLED on Ctrl-C.
    """
    ref = None
    if cfg.enabled and workspace is not None:
        try:
            ref = start_run(cfg, workspace=workspace, job=job, params=params, run_name=run_name)
        except Exception as e:  # noqa: BLE001 - tracking never fails the stage
            log.warning("mlflow: %s goes on without a run: %s: %s", job, type(e).__name__, redact(str(e)))
    run = StageRun(ref)
    try:
        yield run
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FAILED" if run.failed else "FINISHED")


__all__ = [
    "RunRef",
    "StageRun",
    "TrackingConfig",
    "default_tracking_uri",
    "end_orphaned_runs",
    "end_run",
    "experiment_id",
    "flatten",
    "is_rank_zero",
    "local_folder",
    "log_artifact",
    "log_dict",
    "log_metrics",
    "log_params",
    "log_pyfunc",
    "log_table",
    "log_text",
    "metric_name",
    "open_client",
    "pip_requirements",
    "pyfunc_model_kwargs",
    "resolve_tracking_uri",
    "code_paths",
    "set_tags",
    "stage_run",
    "stage_workspace",
    "start_run",
    "tracked_run",
]
