"""Shared Ray Train wiring that needs no cluster: settings -> Ray configs, checkpoint state round trip."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from egodistill.training import ray_wiring
from egodistill.training.optim import cosine_factor as lr_factor
from egodistill.training.ray_wiring import RunSettings, ScalingSettings, TrainerSettings


def test_run_config_puts_results_under_the_workspace(tmp_path):
    rc = ray_wiring.run_config(
        RunSettings(max_failures=2, num_to_keep=3), workspace=tmp_path, default_name="job"
    )
    assert rc.name == "job"
    assert Path(rc.storage_path) == tmp_path / "ray_results"
    assert rc.failure_config.max_failures == 2
    assert rc.checkpoint_config.num_to_keep == 3
    uri = ray_wiring.run_config(
        RunSettings(storage_path="s3://bucket/runs", name="x"), workspace=tmp_path, default_name="j"
    )
    assert (uri.storage_path, uri.name) == ("s3://bucket/runs", "x")


def test_scaling_config_reserves_what_the_settings_say():
    sc = ray_wiring.scaling_config(ScalingSettings(num_workers=2, use_gpu=False, cpus_per_worker=0.5))
    assert sc.num_workers == 2 and not sc.use_gpu
    assert sc.resources_per_worker == {"CPU": 0.5}
    gpu = ray_wiring.scaling_config(ScalingSettings(num_workers=1, use_gpu=True, gpus_per_worker=0.5))
    assert gpu.use_gpu and gpu.resources_per_worker["GPU"] == 0.5


def test_checkpoint_state_round_trip_resumes_at_the_next_epoch(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: lr_factor(e, 10, 2, 0.1))
    for _ in range(3):
        model(torch.randn(5, 4)).sum().backward()
        opt.step()
        sched.step()
    ray_wiring.write_state(
        tmp_path / "ckpt",
        epoch=2,
        model=model,
        optimizer=opt,
        scheduler=sched,
        extra={"a": [1, 2]},
        metrics={"x": 1.0},
    )
    state = ray_wiring.read_state(tmp_path / "ckpt")

    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    fresh_sched = torch.optim.lr_scheduler.LambdaLR(fresh_opt, lambda e: lr_factor(e, 10, 2, 0.1))
    start = ray_wiring.apply_state(state, model=fresh, optimizer=fresh_opt, scheduler=fresh_sched)
    assert start == 3
    assert state["extra"] == {"a": [1, 2]}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert fresh_sched.last_epoch == sched.last_epoch
    assert fresh_opt.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_state_of_a_wrapped_model_has_no_wrapper_prefix(tmp_path):
    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.module = m

    inner = torch.nn.Linear(3, 2)
    ray_wiring.write_state(tmp_path, epoch=0, model=Wrapper(inner))
    assert set(ray_wiring.read_state(tmp_path)["model"]) == {"weight", "bias"}
    with pytest.raises(FileNotFoundError, match="state.pt"):
        ray_wiring.read_state(tmp_path / "missing")


def test_autocast_is_a_no_op_on_cpu():
    assert ray_wiring.amp_dtype(torch.device("cpu"), True) is None
    assert ray_wiring.grad_scaler(torch.device("cpu"), True) is None
    with ray_wiring.autocast(torch.device("cpu"), True):
        assert torch.ones(2).dtype == torch.float32


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    f = [lr_factor(e, 10, 2, 0.1) for e in range(10)]
    assert f[0] < f[1] < f[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[2:], f[3:], strict=False))
    assert lr_factor(10, 10, 2, 0.1) == pytest.approx(0.1)
    assert not any(math.isnan(v) for v in f)


def test_trainer_settings_validate_strictly():
    with pytest.raises(ValueError):
        TrainerSettings.model_validate({"scaling": {"num_wokers": 2}})
