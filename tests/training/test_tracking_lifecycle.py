"""MLflow run lifecycle: experiment kind, metric sections, killed jobs, concurrent fresh stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from egodistill import tracking
from egodistill.tracking import TrackingConfig

PLATFORM = str(Path(__file__).resolve().parents[2] / "platform")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = PLATFORM
    return env


def test_metric_names_fall_into_train_val_and_sys_sections():
    name = tracking.metric_name
    assert name("train_loss") == "train/loss" and name("lr") == "train/lr"
    assert name("val_segment_top1") == "val/segment_top1" and name("val_loss") == "val/loss"
    assert {name(k) for k in ("attempt", "epochs_done", "start_epoch", "train_sec", "eval_sec")} == {
        "sys/attempt", "sys/epochs_done", "sys/start_epoch", "sys/train_sec", "sys/eval_sec"
    }  # fmt: skip
    assert name("eval/segment_top1") == "eval/segment_top1"
    assert name("top1/EgoDistill N=4") == "top1/EgoDistill N_4"  # MLflow rejects '=' (reproduce crashed on it)


def test_a_metric_named_after_a_model_with_n_equals_k_is_logged(tmp_path):
    ref = tracking.start_run(TrackingConfig(), workspace=tmp_path, job="x")
    tracking.log_metrics(ref, {"top1/EgoDistill N=4": 0.5, "top1/EgoDistill": 0.4})
    assert set(ref.client().get_run(ref.run_id).data.metrics) == {"top1/EgoDistill N_4", "top1/EgoDistill"}


def test_experiments_are_tagged_as_model_training(tmp_path):
    ref = tracking.start_run(TrackingConfig(), workspace=tmp_path, job="x")
    client = ref.client()
    exp = client.get_experiment(ref.experiment_id)
    assert exp.tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    tracking.log_metrics(ref, {"train_loss": 1.0, "attempt": 0, "val_segment_top1": 0.5}, step=0)
    assert set(client.get_run(ref.run_id).data.metrics) == {"train/loss", "sys/attempt", "val/segment_top1"}
    tracking.end_run(ref)


START = textwrap.dedent(
    """
    import sys, time
    from egodistill import tracking
    ref = tracking.start_run(tracking.TrackingConfig(), workspace=sys.argv[1], job="teacher", run_name="ds/job")
    print(ref.run_id, flush=True)
    if sys.argv[2] == "hang":
        time.sleep(60)
    tracking.end_run(ref)
    """
)


def test_a_killed_job_leaves_no_running_run_after_the_next_start(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", START, str(tmp_path), "hang"], stdout=subprocess.PIPE,
                         text=True, env=_env())  # fmt: skip
    killed_id = p.stdout.readline().strip()
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    client = tracking.open_client(tracking.default_tracking_uri(tmp_path))
    assert client.get_run(killed_id).info.status == "RUNNING"  # nobody could end it
    done = subprocess.run([sys.executable, "-c", START, str(tmp_path), "finish"], capture_output=True,
                          text=True, env=_env(), check=True)  # fmt: skip
    new_id = done.stdout.strip()
    assert client.get_run(killed_id).info.status == "KILLED"
    assert client.get_run(new_id).info.status == "FINISHED"
    exp = client.get_run(new_id).info.experiment_id
    assert not client.search_runs([exp], filter_string="attributes.status = 'RUNNING'")


def test_two_jobs_creating_the_same_fresh_store_both_get_their_run(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START, str(tmp_path), "finish"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )  # fmt: skip
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    ids = {o.strip() for o, _ in outs}
    client = tracking.open_client(tracking.default_tracking_uri(tmp_path))
    assert len(ids) == 2 and all(client.get_run(i).info.status == "FINISHED" for i in ids)
