"""The tiny synthetic datasets the test suite shares (generated once per session in conftest.py).

2 videos x 20 s at 64x48 (Ego4D 30 fps, EPIC 50 fps), two worker processes, every IMU defect kind
planted (``imu_defect_rate=1``) and a high invalid-action rate so each code path shows up. Seeds are
chosen so that both videos contain head turns (and hand actions).
"""

from __future__ import annotations

from egodistill.synthetic import SynthConfig

TINY = dict(videos=2, seconds=20.0, width=64, height=48, workers=2)


def tiny_config(layout: str, out, **kw) -> SynthConfig:
    seed = 6 if layout == "ego4d" else 4
    values = {**TINY, "layout": layout, "out": str(out), "seed": seed, "imu_defect_rate": 1.0}
    if layout == "ego4d":
        values["invalid_action_rate"] = 0.3
    values.update(kw)
    return SynthConfig(**values)
