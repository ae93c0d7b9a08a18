"""The ``dog`` profile: a second domain whose head motion differs (in the spirit of DogCentric, seed 002 §3.3.2).

Same rooms, renderer, IMU model and dataset layouts as the default (``human``) profile, but the camera rides
a dog's head (eye height 0.35-0.55 m) and the labels are the dog's four actions:

==========  ==  ============================================================================
verb        id  head motion (IMU)
==========  ==  ============================================================================
walk        0   turn toward travel, trot 1-2.5 m with a 2.5-3.5 Hz step bob (faster than a person's)
shake       1   body shake: roll oscillates +-25-40 deg at 4-6 Hz for the whole segment
look-left   2   yaw +40..80 deg (as ``turn-left``, at a dog's height)
look-right  3   yaw -40..80 deg
==========  ==  ============================================================================

Idle stretches between segments are the default profile's (small glances, re-aiming). Class ids are ours.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from egodistill.synthetic.actions import Plan, Verb, _Planner
from egodistill.synthetic.scene import Scene


def _dog(name: str, cid: int, ego4d: str, noun: str, noun_class: int, duration: tuple[float, float],
         narration: str, head: str) -> Verb:  # fmt: skip
    return Verb(name=name, class_id=cid, epic_key=name, epic_category="dog", epic_verb=name, ego4d_verb=ego4d,
                noun=noun, noun_class=noun_class, extra_nouns=(), narration=narration,
                ego4d_narration=f"#C C {narration}", target=None, duration=duration, pnr=0.5,
                group="motion-defined", appearance="the room from a dog's height", scene_motion="none",
                head_motion=head)  # fmt: skip


DOG_VERBS: tuple[Verb, ...] = (
    _dog("walk", 0, "walk", "counter", 42, (2.0, 4.5), "walks along the counter",
         "turn toward travel, trot 1-2.5 m with a 2.5-3.5 Hz step bob"),
    _dog("shake", 1, "shake", "head", 300, (0.8, 1.6), "shakes", "roll oscillates +-25-40 deg at 4-6 Hz"),
    _dog("look-left", 2, "look_left", "head", 300, (0.8, 1.5), "looks to the left", "yaw +40..80 deg"),
    _dog("look-right", 3, "look_right", "head", 300, (0.8, 1.5), "looks to the right", "yaw -40..80 deg"),
)  # fmt: skip


class _DogPlanner(_Planner):
    """The default planner with a dog's height, gait, verbs and head moves."""

    def __init__(self, rng: np.random.Generator, scene: Scene, duration: float, cfg: Any) -> None:
        super().__init__(rng, scene, duration, cfg)
        self.steps["z"].start_value = float(rng.uniform(0.35, 0.55))
        _, pitch = self._aim_angles(self._counter_point(), self.steps["yaw"].start_value)
        self.steps["pitch"].start_value = pitch
        self.step_freq = float(rng.uniform(2.5, 3.5))
        self.counts = {v.name: 0 for v in DOG_VERBS}

    def _allowed(self) -> list[Verb]:
        return [v for v in DOG_VERBS if v.name != "walk" or len(self.scene.spots_x) >= 2]

    def _walk_destination(self) -> int:
        others = [i for i in range(len(self.scene.spots_x)) if i != self.spot]
        return int(others[int(self.rng.integers(len(others)))])

    def _head_move(self, verb: Verb) -> dict[str, float]:
        if verb.name in ("look-left", "look-right"):
            return {"yaw": (1.0 if verb.name == "look-left" else -1.0) * np.deg2rad(self.rng.uniform(40, 80))}
        return {}

    def _segment(
        self, verb: Verb, s: float, e: float, walk_to: int | None, move: dict[str, float]
    ) -> dict[str, Any]:
        if verb.name == "walk":
            return super()._segment(verb, s, e, walk_to, move)
        if verb.name == "shake":
            rng = self.rng
            freq, amp = float(rng.uniform(4, 6)), np.deg2rad(float(rng.uniform(25, 40)))
            half = 0.5 / freq
            t, sign, level = s, 1.0, 0.0
            while t + half <= e - half:
                target = sign * amp
                self._move("roll", t, t + half, delta=target - level)
                level, sign, t = target, -sign, t + half
            self._move("roll", t, min(e, t + half), delta=-level)
            return {"shake_hz": freq, "roll_amp_deg": float(np.rad2deg(amp))}
        amp = move["yaw"]
        self._move("yaw", s, e, delta=amp)
        return {"yaw_deg": float(np.rad2deg(amp))}


def plan_dog_video(rng: np.random.Generator, scene: Scene, duration: float, cfg: Any) -> Plan:
    """Timeline, head trajectory and (no) object animations of one dog-profile video."""
    return _DogPlanner(rng, scene, duration, cfg).plan()


def verbs_for(profile: str) -> tuple[Verb, ...]:
    """The verb table of a synth profile (``human``: the kitchen verbs; ``dog``: :data:`DOG_VERBS`)."""
    from egodistill.synthetic.actions import VERBS

    return DOG_VERBS if profile == "dog" else VERBS


def plan_for(profile: str):
    """The planning function of a synth profile."""
    from egodistill.synthetic.actions import plan_video

    return plan_dog_video if profile == "dog" else plan_video


__all__ = ["DOG_VERBS", "plan_dog_video", "plan_for", "verbs_for"]
