"""The cluster configs parse and say what docs/cluster.md promises (no Ray started, no cloud calls).

- ``ray_cluster.yaml`` passes Ray's own launcher checks (``prepare_config`` fills in the AWS
  defaults as ``ray up`` does, ``validate_config`` checks the JSON schema and the node-type rules);
- ``docs/kuberay-rayjob.yaml`` is a KubeRay ``ray.io/v1`` RayJob with autoscaling and a GPU group.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "ray_cluster.yaml"
KUBERAY = ROOT / "docs" / "kuberay-rayjob.yaml"


@pytest.fixture(scope="module")
def launcher() -> dict:
    return yaml.safe_load(LAUNCHER.read_text())


@pytest.fixture(scope="module")
def prepared(launcher: dict) -> dict:
    from ray.autoscaler._private.util import prepare_config

    return prepare_config(copy.deepcopy(launcher))


@pytest.fixture(scope="module")
def rayjob() -> dict:
    docs = [d for d in yaml.safe_load_all(KUBERAY.read_text()) if d]
    jobs = [d for d in docs if d.get("kind") in ("RayJob", "RayCluster")]
    assert len(jobs) == 1, f"expected one RayJob/RayCluster in {KUBERAY}, found {len(jobs)}"
    return jobs[0]


def _all_commands(cfg: dict) -> str:
    keys = ("setup_commands", "head_setup_commands", "worker_setup_commands")
    keys += ("head_start_ray_commands", "worker_start_ray_commands")
    return "\n".join(c for k in keys for c in cfg.get(k) or [])


# ------------------------------------------------------------------------------------------------
# ray_cluster.yaml


def test_launcher_passes_ray_validation(launcher: dict, prepared: dict) -> None:
    from ray.autoscaler._private.util import validate_config

    validate_config(copy.deepcopy(launcher))  # as written
    validate_config(prepared)  # after Ray merged its AWS defaults (what `ray up` validates)
    assert prepared["provider"]["type"] == "aws"


def test_launcher_head_has_no_gpu(prepared: dict) -> None:
    head = prepared["available_node_types"][prepared["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    assert head["resources"].get("CPU", 0) > 0
    assert head["max_workers"] == 0


def test_launcher_autoscaling_worker_types(prepared: dict) -> None:
    workers = {k: v for k, v in prepared["available_node_types"].items() if k != prepared["head_node_type"]}
    gpu = [v for v in workers.values() if v["resources"].get("GPU", 0) >= 1]
    cpu = [v for v in workers.values() if v["resources"].get("GPU", 0) == 0]
    assert gpu and cpu, "needs a CPU worker type and a GPU worker type"
    for node in gpu + cpu:
        assert node["min_workers"] == 0 < node["max_workers"] <= prepared["max_workers"]
    assert prepared["idle_timeout_minutes"] > 0


def test_launcher_installs_repo_with_constraints(launcher: dict, prepared: dict) -> None:
    mounts = launcher["file_mounts"]
    repo = next(remote for remote, local in mounts.items() if local == ".")
    install = [c for c in prepared["setup_commands"] if "pip install" in c and "-e ." in c]
    assert install, "no `pip install ... -e .` in setup_commands"
    assert "-c constraints.txt" in install[0]
    assert f"cd {repo}" in install[0]
    # Ray's default head_setup_commands (boto3 for the autoscaler) must survive the override.
    assert any("boto3" in c for c in prepared["head_setup_commands"])


def test_launcher_start_commands(prepared: dict) -> None:
    head = " ".join(prepared["head_start_ray_commands"])
    assert "ray start --head" in head
    assert "--dashboard-host=$(hostname -I" in head and "0.0.0.0" not in head  # the VPC address only
    assert "--disable-usage-stats" in head
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head
    worker = " ".join(prepared["worker_start_ray_commands"])
    assert "--address=$RAY_HEAD_IP:6379" in worker
    assert "--disable-usage-stats" in worker


def test_launcher_exports_tracking_and_storage_env(prepared: dict) -> None:
    text = _all_commands(prepared)
    assert "export MLFLOW_TRACKING_URI=" in text
    assert "<mlflow-host>" in text
    assert "export EGODISTILL_WORKSPACE=" in text
    assert "export EGODISTILL_STORAGE_PATH=" in text
    assert "s3://<your-bucket>/egodistill" in text
    assert "export RAY_AUTH_MODE=token" in text and "umask 077" in text  # token auth on, token 0600
    # The env file is sourced before `ray start`, so the raylet (and every job driver) inherits it.
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = next(c for c in prepared[key] if "ray start" in c)
        assert "source ~/egodistill.env" in start


# ------------------------------------------------------------------------------------------------
# docs/kuberay-rayjob.yaml


def _cluster_spec(doc: dict) -> dict:
    return doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]


def test_kuberay_manifest_kind_and_autoscaling(rayjob: dict) -> None:
    assert rayjob["apiVersion"] == "ray.io/v1"
    spec = _cluster_spec(rayjob)
    assert spec["enableInTreeAutoscaling"] is True
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "$(MY_POD_IP)"  # the pod network, not 0.0.0.0
    for c in head["template"]["spec"]["containers"]:
        assert "nvidia.com/gpu" not in (c.get("resources", {}).get("limits") or {})
    if rayjob["kind"] == "RayJob":
        assert "jobs/" in rayjob["spec"]["entrypoint"]


def test_kuberay_pods_keep_token_auth(rayjob: dict) -> None:
    spec = _cluster_spec(rayjob)
    groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
    for group in groups:
        for c in group["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in c.get("env", [])}
            assert env["RAY_AUTH_MODE"]["value"] == "token"
            assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "egodistill-ray-auth"


def test_kuberay_gpu_worker_group(rayjob: dict) -> None:
    groups = _cluster_spec(rayjob)["workerGroupSpecs"]
    gpu = [
        g
        for g in groups
        if any(
            "nvidia.com/gpu" in (c.get("resources", {}).get("limits") or {})
            for c in g["template"]["spec"]["containers"]
        )
    ]
    assert gpu, "no worker group with an nvidia.com/gpu limit"
    for g in gpu:
        assert g["minReplicas"] == 0 < g["maxReplicas"]
        envs = {e["name"] for c in g["template"]["spec"]["containers"] for e in c.get("env", [])}
        assert "MLFLOW_TRACKING_URI" in envs
