"""The verb vocabulary does what actions.py promises: which verbs a frame or the IMU can separate."""

from __future__ import annotations

import numpy as np
from synthhelpers import EPIC_IDS

from egodistill.synthetic import VERB_BY_NAME, VERBS, SynthConfig
from egodistill.synthetic.actions import plan_video
from egodistill.synthetic.scene import build_scene
from egodistill.synthetic.world import build_world, stream_rng

PAIRS = [("open", "close"), ("take", "put"), ("turn-left", "turn-right")]


def _plans(n: int, rho: float, seconds: float = 120.0):
    cfg = SynthConfig(seconds=seconds, motion_correlation=rho)
    for i in range(n):
        scene = build_scene(stream_rng(100, i, "scene"))
        yield scene, plan_video(stream_rng(100 + int(rho * 10), i, "plan"), scene, seconds, cfg)


def test_vocabulary_uses_real_epic_ids_and_invents_only_above_96():
    assert len(VERBS) >= 10
    ids = [v.class_id for v in VERBS]
    assert len(set(ids)) == len(ids)
    real = EPIC_IDS
    for name, cid in real.items():
        assert VERB_BY_NAME[name].class_id == cid
    assert all(v.class_id >= 97 for v in VERBS if v.name not in real)
    groups = {v.group for v in VERBS}
    assert {"motion-pair", "appearance-only"} <= groups
    for a, b in PAIRS:
        assert VERB_BY_NAME[a].group == VERB_BY_NAME[b].group == "motion-pair"


def test_motion_pairs_are_time_reversals_so_one_frame_cannot_tell_them_apart():
    """The object state at fraction u of an `open` equals the state at 1-u of a `close` (same for take/put)."""
    world = build_world(SynthConfig(seconds=240.0, width=32, height=24, seed=3), 0)
    checked = set()
    for a, b in [("open", "close"), ("take", "put")]:
        label = VERB_BY_NAME[a].target
        idx = world.scene.index(label)
        sa = next(s for s in world.segments if s.verb.name == a)
        sb = next(s for s in world.segments if s.verb.name == b)
        for u in np.linspace(0.0, 1.0, 11):
            ca, ra = world.object_pose(idx, sa.start + u * (sa.end - sa.start))
            cb, rb = world.object_pose(idx, sb.start + (1 - u) * (sb.end - sb.start))
            np.testing.assert_allclose(ca, cb, atol=1e-9)
            np.testing.assert_allclose(ra, rb, atol=1e-9)
        checked.add(a)
    assert checked == {"open", "take"}


def test_paired_verbs_are_mirror_images_including_the_head():
    """At fraction u of a take the head pose equals that at 1-u of the next put (same for open/close,
    turn-left/right): with the object state (above), a single frame is distributed alike for both."""
    channel = {"take": 1, "open": 0, "turn-left": 0}  # pitch for take/put, yaw for the others
    partner = {"take": "put", "open": "close", "turn-left": "turn-right"}
    sym = {k: [] for k in channel}
    asym = {k: [] for k in channel}
    for scene, plan in _plans(14, 0.8, seconds=150.0):
        segs, traj = plan.segments, plan.trajectory
        for k, a in enumerate(segs):
            if a.verb.name not in channel:
                continue
            later = segs[k + 1 :]
            b = next((s for s in later if s.verb.name == partner[a.verb.name]), None)
            if b is None or any(s.verb.name == "walk" for s in later[: later.index(b)]):
                continue  # compare from the same standing spot
            ch = channel[a.verb.name]
            side = scene.hinge_side if a.verb.name == "open" else 1  # open gazes toward the hinge

            def at(seg, u, ch=ch, traj=traj):
                return np.rad2deg(traj.euler(np.array([seg.start + u * (seg.end - seg.start)]))[0, ch])

            for u in (0.25, 0.75):
                sym[a.verb.name].append(side * (at(a, u) - at(b, 1 - u)))
                asym[a.verb.name].append(side * (at(a, u) - at(b, u)) * (1 if u == 0.75 else -1))
    for name in channel:
        assert len(sym[name]) >= 20, name
        mirrored, direct = abs(np.mean(sym[name])), abs(np.mean(asym[name]))
        assert mirrored < 1.5 and mirrored < 0.3 * direct, (name, mirrored, direct)


def _pitch_change(traj, seg) -> float:
    p = traj.euler(np.array([seg.start, seg.end]))[:, 1]
    return float(p[1] - p[0])


def test_head_motion_follows_the_verb_with_the_tunable_strength():
    """take pitches up / put down: always at rho=1, at chance at rho=0 (IMU then cannot tell)."""
    for rho, lo, hi in ((1.0, 1.0, 1.0), (0.0, 0.2, 0.8)):
        agree = total = 0
        for _, plan in _plans(12, rho):
            for seg in plan.segments:
                if seg.verb.name in ("take", "put"):
                    sign = 1 if seg.verb.name == "take" else -1
                    agree += np.sign(_pitch_change(plan.trajectory, seg)) == sign
                    total += 1
        assert total >= 20
        assert lo <= agree / total <= hi, (rho, agree, total)


def test_appearance_only_verbs_share_the_same_head_motion():
    """cut/pour/mix: the head holds its aim (only ambient sway), so the IMU carries no verb information."""
    for _, plan in _plans(4, 0.8):
        traj = plan.trajectory
        for seg in plan.segments:
            if seg.verb.group != "appearance-only":
                continue
            for ch in ("x", "y", "z", "yaw", "pitch", "roll"):
                steps = traj.channels[ch].terms[0]  # the deliberate-move part of the channel
                assert steps.value_at(seg.start) == steps.value_at(seg.end)
                t = np.linspace(seg.start, seg.end, 20)
                assert np.allclose(steps.evaluate(t, 1), 0.0)


def test_videos_have_many_segments_separated_by_idle_stretches():
    for _, plan in _plans(2, 0.8, seconds=90.0):
        segs = plan.segments
        assert len(segs) >= 12
        gaps = [b.start - a.end for a, b in zip(segs[:-1], segs[1:], strict=True)]
        assert min(gaps) >= 1.5 - 1e-9
        assert len({s.verb.name for s in segs}) >= 6
