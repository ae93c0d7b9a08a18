"""The methods wing: each method is a small folder (config, steps, jobs, CLI) on the student floor.

:data:`STAGES` names every (method, stage) the experiment runner and the sweep can run, as
``"module:function"`` targets loaded on use, so adding a method is adding a folder and a few lines
here, never editing another method. A stage function takes ``(job_config, parent_run=None,
train_callbacks=())`` and returns a :class:`~egodistill.student.driver.StudentOutcome`; its job config
class is in :data:`JOB_CONFIGS`.
"""

from __future__ import annotations

import importlib
from typing import Any

STAGES: dict[tuple[str, str], str] = {
    ("egodistill", "pretrain"): "egodistill.methods.egodistill.jobs:run_pretrain",
    ("egodistill", "distill"): "egodistill.methods.egodistill.jobs:run_distill",
    ("correspondence", "ssl"): "egodistill.methods.correspondence.jobs:run_correspondence",
    ("multimodal", "multimodal"): "egodistill.methods.multimodal.jobs:run_multimodal",
}

JOB_CONFIGS: dict[tuple[str, str], str] = {
    ("egodistill", "pretrain"): "egodistill.methods.egodistill.config:PretrainJobConfig",
    ("egodistill", "distill"): "egodistill.methods.egodistill.config:DistillJobConfig",
    ("correspondence", "ssl"): "egodistill.methods.correspondence.config:CorrespondenceJobConfig",
    ("multimodal", "multimodal"): "egodistill.methods.multimodal.config:MultimodalJobConfig",
}

#: method -> ``job_preset(kind, preset)``: a named preset as one job kind's values
PRESETS: dict[str, str] = {
    "egodistill": "egodistill.methods.egodistill.config:job_preset",
    "correspondence": "egodistill.methods.correspondence.config:job_preset",
    "multimodal": "egodistill.methods.multimodal.config:job_preset",
}


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _lookup(table: dict[tuple[str, str], str], method: str, stage: str) -> Any:
    key = (method, stage)
    if key not in table:
        known = ", ".join(f"{m}/{s}" for m, s in sorted(table))
        raise KeyError(f"no stage {method}/{stage} (known: {known})")
    return _load(table[key])


def stage_runner(method: str, stage: str) -> Any:
    """The function that runs one stage of one method."""
    return _lookup(STAGES, method, stage)


def job_config_class(method: str, stage: str) -> Any:
    """The typed job config class of one stage of one method."""
    return _lookup(JOB_CONFIGS, method, stage)


def job_preset(method: str, stage: str, preset: str) -> dict[str, Any]:
    """The values of ``preset`` for one stage of one method."""
    if method not in PRESETS:
        raise KeyError(f"no presets for method {method!r} (known: {sorted(PRESETS)})")
    return _load(PRESETS[method])(stage, preset)


__all__ = ["JOB_CONFIGS", "PRESETS", "STAGES", "job_config_class", "job_preset", "stage_runner"]
