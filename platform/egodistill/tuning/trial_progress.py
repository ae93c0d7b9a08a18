"""A Ray Tune callback that prints one progress line per finished trial, instead of Tune's status table."""

from __future__ import annotations

from typing import Any

from ray import tune

from egodistill.progress import Progress


class TrialProgress(tune.Callback):
    """Tune callback (sweep driver): a progress line per finished trial (count, rate, ETA, best so far).

    Replaces Tune's status table (``verbose=1``, a table every few seconds) unless ``egodistill -v``.
    """

    def __init__(self, name: str, total: int, metric: str, mode: str) -> None:
        self._progress = Progress(f"sweep {name}", total, "trials", every_s=0.0, plain=True)
        self._metric, self._mode = metric, mode
        self._best: float | None = None

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        value = (trial.last_result or {}).get(self._metric)
        if isinstance(value, int | float):
            better = self._best is None or (value > self._best if self._mode == "max" else value < self._best)
            self._best = value if better else self._best
        self._report(trial, "finished")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._report(trial, "failed")

    def _report(self, trial: Any, how: str) -> None:
        best = f", best {self._metric} {self._best:.4f}" if self._best is not None else ""
        self._progress.update(extra=f"{trial.trial_id} {how}{best}")


__all__ = ["TrialProgress"]
