"""One failure-injection mechanism for every training job (tests and recovery drills).

``FailOnce`` raises once in one rank and epoch, either before batch ``after_batches`` (mid-epoch,
before the checkpoint: the epoch is redone) or, with ``after_batches: None``, right after that
epoch's checkpoint was reported (the run resumes at the next epoch). The ``marker`` file is created
just before raising, so the restarted attempt does not fail again.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from egodistill.config import StrictConfig


class InjectedFailure(RuntimeError):
    """Raised by :class:`FailOnce` to exercise Ray Train's recovery."""


class FailOnce(StrictConfig):
    """Raise once in rank ``rank`` during epoch ``epoch`` (see the module docstring)."""

    epoch: int = Field(..., ge=0)
    rank: int = Field(1, ge=0)
    after_batches: int | None = Field(
        1, ge=0, description="raise before batch N (or at the epoch's end if shorter); None: after the checkpoint"
    )
    marker: str

    def check(self, epoch: int, rank: int, batch: int | None) -> None:
        """Raise if this (epoch, rank, batch) is the configured point and the marker is absent.

        ``batch`` is the batch about to run, ``-1`` at the epoch's end before the checkpoint, or
        ``None`` after the checkpoint.
        """
        if self.epoch != epoch or self.rank != rank:
            return
        if self.after_batches is None:
            if batch is not None:
                return
        elif batch is None or (batch != -1 and batch != self.after_batches):
            return
        marker = Path(self.marker)
        if marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"failed once in epoch {epoch}, rank {rank}, at batch {batch}\n")
        raise InjectedFailure(f"injected failure (fail_once) in rank {rank}, epoch {epoch}, batch {batch}")


__all__ = ["FailOnce", "InjectedFailure"]
