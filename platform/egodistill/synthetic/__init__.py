"""The synthetic egocentric world: a kitchen, a head that moves, actions, video and IMU.

``egodistill synth`` (or :func:`generate`) writes complete Ego4D- or EPIC-KITCHENS-100-layout
datasets whose IMU is derived from the same head trajectory the frames are rendered from, so the
platform can be run end to end and the premise of EgoDistill checked: some verbs are told apart
only by motion that a single frame lacks (see :mod:`egodistill.synthetic.actions`).

Public API: :class:`SynthConfig`, :func:`generate` -> :class:`SynthSummary`,
:func:`rebuild_video` -> world with ``.render(t)``, ``.trajectory``, ``.imu_truth(t)``,
:func:`load_ground_truth`, :data:`VERBS`. Conventions (frames, axes, units) are documented in
:mod:`egodistill.synthetic.trajectory`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VERBS": "egodistill.synthetic.actions",
    "VERB_BY_NAME": "egodistill.synthetic.actions",
    "Verb": "egodistill.synthetic.actions",
    "SynthConfig": "egodistill.synthetic.config",
    "BOXES_DIR": "egodistill.synthetic.generator",
    "GROUND_TRUTH": "egodistill.synthetic.generator",
    "SynthSummary": "egodistill.synthetic.generator",
    "generate": "egodistill.synthetic.generator",
    "load_ground_truth": "egodistill.synthetic.rebuild",
    "rebuild_video": "egodistill.synthetic.rebuild",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import lazily, so ``egodistill --help`` does not load PyAV and pyarrow."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'egodistill.synthetic' has no attribute {name!r}")
