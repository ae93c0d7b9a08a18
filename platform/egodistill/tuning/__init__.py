"""Ray Tune sweeps over stage-2 distillation (``egodistill sweep``): ASHA + Optuna, one Ray Train run per trial."""

from egodistill.tuning.config import SweepConfig, load_sweep_config

__all__ = ["SweepConfig", "load_sweep_config"]
