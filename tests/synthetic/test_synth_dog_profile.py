"""The dog profile (seed 002's second domain) writes valid Ego4D / EPIC layouts with its own labels."""

from __future__ import annotations

import pytest

from egodistill.synthetic import SynthConfig, generate
from egodistill.synthetic.dog import DOG_VERBS


@pytest.mark.parametrize("layout", ["ego4d", "epic"])
def test_dog_profile_layouts_are_readable(tmp_path, layout):
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest

    root = tmp_path / layout
    summary = generate(SynthConfig(layout=layout, profile="dog", out=str(root), videos=2, seconds=20.0, width=64,
                                   height=48, audio=False, workers=1, seed=1, imu_defect_rate=0.0))  # fmt: skip
    assert set(summary.segments_per_verb) == {v.name for v in DOG_VERBS}
    assert sum(summary.segments_per_verb.values()) >= 4
    result = build_manifest(IndexConfig(dataset=layout, root=str(root), min_class_instances=1))
    verbs = set(result.manifest.column("verb").to_pylist())
    allowed = {v.ego4d_verb for v in DOG_VERBS} if layout == "ego4d" else {v.epic_key for v in DOG_VERBS}
    assert verbs and verbs <= allowed, verbs
    assert result.manifest.num_rows >= 4


def test_dog_head_motion_differs(tmp_path):
    """A shake rolls the head fast; the camera rides low (a dog's eye height)."""
    import numpy as np

    from egodistill.synthetic.world import build_world

    cfg = SynthConfig(profile="dog", out=str(tmp_path), videos=1, seconds=30.0, width=64, height=48, seed=2)
    world = build_world(cfg, 0)
    shakes = [s for s in world.segments if s.verb.name == "shake"]
    assert shakes
    s = shakes[0]
    t = np.linspace(s.start, s.end, 200)
    roll = world.trajectory.euler(t)[:, 2]
    assert np.ptp(roll) > np.deg2rad(30)
    assert float(world.trajectory.position(np.array([1.0]))[0, 2]) < 0.7
