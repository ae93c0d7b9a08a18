"""The real correspondence step on a 2-worker Ray Train run: every worker scores against the global batch."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ray


def test_two_workers_see_global_batch(ray_session, tmp_path):
    import ray.data

    from egodistill.methods.correspondence.config import CorrespondenceJobConfig, job_preset
    from egodistill.methods.correspondence.steps import train_loop
    from egodistill.training import ray_wiring

    cfg = CorrespondenceJobConfig.model_validate(
        {
            **job_preset("ssl", "smoke"),
            "workspace": str(tmp_path),
            "tracking": {"enabled": False},
            "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3},
            "data": {"shuffle_buffer": 0},
            "trainer": {"scaling": {"num_workers": 2, "cpus_per_worker": 0.5}},
        }  # fmt: skip
    )
    rng = np.random.default_rng(0)
    rows = [{"clip": rng.integers(0, 255, (8, 36, 36, 3), dtype=np.uint8), "imu": rng.normal(size=(396, 6)).astype(np.float32),
             "hard_imu": np.zeros((396, 6), np.float32), "hard_ok": False, "ok": True} for _ in range(16)]  # fmt: skip
    trainer = ray_wiring.build_trainer(train_loop, {"job": cfg.model_dump(mode="json"), "run_ref": None}, cfg.trainer,
                                       workspace=str(tmp_path), name="corr-gather", datasets={"train": ray.data.from_items(rows)})  # fmt: skip
    out = ray_wiring.fit(trainer, "correspondence gather test")
    # 16 pairs, global batch 8 over 2 workers: each worker's logits are 4 rows x 8 columns (the global batch)
    assert out.metrics["train_logits_cols"] == pytest.approx(8.0)
    assert out.metrics["train_clips"] == 16
    assert 0.0 < out.metrics["train_loss"] < 10.0
    assert any(k.startswith("model.imu_proj") for k in out.state["model"])
