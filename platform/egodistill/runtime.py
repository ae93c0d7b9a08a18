"""Ray plumbing every job shares: join or start Ray, quiet Ray Data, ask the cluster for GPUs.

It sits at the bottom of the package so any job (ingest, teacher, features, students, sweeps) can
reach it without importing another job's package.
"""

from __future__ import annotations

import os


def ensure_ray(local_num_cpus: int | None = None) -> None:
    """Join the cluster named by RAY_ADDRESS, or start a local Ray (optionally with ``local_num_cpus``)."""
    import ray

    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:
        ray.init(num_cpus=local_num_cpus)


def configure_data_context(progress_bars: bool = False) -> None:
    """Quiet, order-free Ray Data execution on the driver (rows carry their own ids)."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = progress_bars
    ctx.enable_operator_progress_bars = progress_bars
    ctx.execution_options.preserve_order = False
    ctx.print_on_execution_start = False


def cluster_has_gpus() -> bool:
    """Whether the connected Ray cluster offers any GPU (Ray must be initialised)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0)) > 0.0


__all__ = ["cluster_has_gpus", "configure_data_context", "ensure_ray"]
