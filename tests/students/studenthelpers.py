"""Shared settings for the student tests (imported as ``from studenthelpers import job_values``)."""

from __future__ import annotations

from pathlib import Path


def job_values(ws: Path, **extra):
    """Smallest settings for a student job on the tiny workspace (1 worker, batch 8, random f_I)."""
    values = {
        "workspace": str(ws),
        "student": {
            "image_weights": "none",
            "fusion_hidden": 64,
            "predictor_hidden": 64,
            "imu_feature_dim": 32,
        },
        "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "milestones": []},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True},
    }
    for k, v in extra.items():
        values[k] = {**values[k], **v} if isinstance(v, dict) and k in values else v
    return values
