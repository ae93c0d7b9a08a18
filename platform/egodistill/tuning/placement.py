"""Give back the CPUs of a sweep trial's Ray Train run when Tune stops the trial early.

With Ray Train V2 under Tune, each trial's ``TorchTrainer`` creates its worker placement group with
the lifetime of the *job driver*, not of the trial. When ASHA stops a trial, Tune kills the trial
actor mid-run; the group would then stay reserved until the sweep ends (ray-project/ray#54305). Ray's
own ``PlacementGroupCleaner`` removes it only when the State API (the dashboard) is up, so on a local
``ray.init(include_dashboard=False)`` the reserved CPUs pile up and, after two or three trials on a
2-core machine, the next trial's Ray Data tasks wait forever.

The fix is bookkeeping that needs no dashboard: every Ray Train run of a trial registers its placement
group with a small registry actor (a ``WorkerGroupCallback``; Ray Train appends non-user callbacks
from ``RunConfig.callbacks`` to the controller's list for exactly such workarounds), and a Tune
callback on the sweep driver removes the trial's groups that are still there when the trial ends.
"""

from __future__ import annotations

import logging
from typing import Any

import ray
from ray import tune

log = logging.getLogger(__name__)

try:  # Ray Train V2's controller-side hook; internal, so a missing one degrades to Ray's own cleaner
    from ray.train.v2._internal.execution.callback import WorkerGroupCallback
except ImportError:  # pragma: no cover - depends on the installed Ray
    WorkerGroupCallback = None  # type: ignore[assignment,misc]


class TrainGroupRegistry:
    """Ray actor (0 CPUs): trial id -> the placement groups its Ray Train runs created."""

    def __init__(self) -> None:
        self._groups: dict[str, list[Any]] = {}

    def add(self, trial_id: str, group: Any) -> None:
        self._groups.setdefault(trial_id, []).append(group)

    def pop(self, trial_id: str) -> list[Any]:
        return self._groups.pop(trial_id, [])


NAMESPACE = "egodistill"


def registry_name(sweep: str) -> str:
    return f"egodistill-sweep-{sweep}-train-groups"


def start_registry(sweep: str) -> str:
    """Start (or find) the sweep's registry actor; returns its name.

    Named, not passed by handle: a resumed sweep restores its Tune callbacks from disk, and they find
    the new driver's registry by name. It dies with the driver, as the groups do.
    """
    name = registry_name(sweep)
    ray.remote(num_cpus=0)(TrainGroupRegistry).options(
        name=name, namespace=NAMESPACE, get_if_exists=True
    ).remote()
    return name


def _registry(name: str):
    return ray.get_actor(name, namespace=NAMESPACE)


def register_callback(registry: str, trial_id: str) -> list[Any]:
    """Ray Train callbacks for a trial's ``TorchTrainer``: ``[]`` where the hook is unavailable."""
    if WorkerGroupCallback is None:
        log.warning("Ray Train's WorkerGroupCallback is unavailable: early-stopped trials keep their CPUs")
        return []
    return [_RegisterTrainGroup(registry, trial_id)]


if WorkerGroupCallback is not None:

    class _RegisterTrainGroup(WorkerGroupCallback):
        """Tell the registry which placement group this trial's worker group runs in."""

        def __init__(self, registry: str, trial_id: str) -> None:
            self._registry = registry
            self._trial_id = trial_id

        def after_worker_group_start(self, worker_group: Any) -> None:
            try:
                group = worker_group.get_worker_group_state().placement_group_handle.placement_group
                ray.get(_registry(self._registry).add.remote(self._trial_id, group))
            except Exception as e:  # never fail a trial over bookkeeping
                log.warning(
                    "trial %s: could not register its Ray Train placement group: %s", self._trial_id, e
                )


class ReleaseTrainGroups(tune.Callback):
    """Tune callback (sweep driver): remove a finished or stopped trial's leftover placement groups."""

    def __init__(self, registry: str) -> None:
        self._registry = registry

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._release(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._release(trial)

    def _release(self, trial: Any) -> None:
        from ray.util import placement_group_table, remove_placement_group

        try:
            groups = ray.get(_registry(self._registry).pop.remote(trial.trial_id))
        except ValueError as e:  # the registry is gone: nothing this driver can free
            log.warning("trial %s: no placement-group registry (%s)", trial.trial_id, e)
            return
        for group in groups:
            state = placement_group_table(group).get("state")
            if state in (None, "REMOVED"):
                continue  # the Ray Train run shut down cleanly and removed it
            log.info("trial %s ended mid-run: removing its Ray Train placement group %s", trial.trial_id,
                     group.id.hex())  # fmt: skip
            remove_placement_group(group)
