"""Verb vocabulary and the action timeline: what the scene does and how the head moves.

Each video is a sequence of action segments separated by idle stretches (1.5-4 s by default).
During an idle stretch the head makes small glances and then turns to aim at the next action's
object (this aiming move is unlabelled, as in real recordings). During a segment the verb moves
its object (scene motion) and the head makes the verb's head motion. Class ids are the real
EPIC-KITCHENS-100 verb ids where EPIC has the verb; ``turn-left``/``turn-right`` (97/98) are ours.

==============  =====  ==================================  ==================================  ==========================================
verb            id     appearance (one frame)              scene motion                        head motion (IMU)
==============  =====  ==================================  ==================================  ==========================================
take            0      box on / above the counter          box rises 20-30 cm (lifted)         pitch up, lean back  (correlated, rho)
put             1      box on / above the counter          box descends onto the counter       pitch down, lean forward (correlated, rho)
open            3      cabinet door half open              door swings 0 -> 80-110 deg         lean back, gaze toward hinge (rho)
close           4      cabinet door half open              door swings 80-110 -> 0 deg         lean forward, gaze away from hinge (rho)
cut             7      knife across a carrot on a board    knife strokes up/down 2-4 Hz        none: ambient sway only
pour            9      cup tilted over the bowl            cup lifts, tilts ~100 deg, returns  none: ambient sway only
mix             10     spoon in the bowl                   spoon circles in the bowl           none: ambient sway only
look            38     the shelf high on the wall          nothing                            gaze rises 30-60 deg to the shelf and back
walk            67     the room, seen while moving         nothing (the person moves)          turn 90 deg, walk 1-2.5 m with step bob, turn back
turn-left       97     the room                            nothing                            yaw +40..80 deg (left)
turn-right      98     the room                            nothing                            yaw -40..80 deg (right)
==============  =====  ==================================  ==================================  ==========================================

Which verbs does a single frame separate, and which need motion (the science of EgoDistill)?

* **Motion-only pairs** — one frame cannot tell them apart, motion can:
  ``open``/``close``, ``take``/``put`` and ``turn-left``/``turn-right``. Within a pair the whole
  segment is a mirror image in time: the object runs through the same states in reverse (door
  angle, box height), and the head move of one verb is distributed exactly like the negated move
  of the other while the idle stretch before the segment aims the head at a verb-independent
  centre *minus half* the coming move (the box's mid-lift point, the shut door, the counter for
  turns). So a frame taken at fraction u of a ``take`` is distributed like one taken at 1-u of a
  ``put``: a frame drawn uniformly from a segment, or its middle frame, carries no information
  about which of the pair happened. Only the *direction* of change differs, which the IMU carries
  through the verb's head motion (strength ``motion_correlation`` = rho for take/put/open/close;
  turns are head motion by definition) and dense video through scene motion. Caveat, as in real
  data: the first/last frame of a segment shows the start/end state (door shut before ``open``).
* **Appearance-only verbs** — a frame separates them, head motion does not:
  ``cut``, ``pour`` and ``mix``. Their head motion is identical by construction (the head just
  holds its aim with the same ambient sway), but the frame shows different things: knife raised
  over the carrot, cup tilted over the bowl, spoon in the bowl. ``pour`` and ``mix`` even share
  the aim target (the bowl), so neither head pose nor IMU tells them apart.
* **Needs both**: ``look`` vs ``take`` both pitch the head up; only the frame tells the moving box
  from the shelf. ``walk`` is easy for the IMU (step bob at 1.7-2.1 Hz in the accelerometer) but a
  single frame of a walk looks like any idle frame.

``motion_correlation`` rho mixes the verb's characteristic head move ``c`` with a random move ``r``
(yaw/pitch ~ N(0, 6 deg), lean ~ N(0, 3 cm)): ``delta = rho c + sqrt(1 - rho^2) r``. At rho = 0 the
IMU of take/put/open/close is independent of which of the pair happened (it still shows *that*
the head moved, unlike cut/pour/mix).

Why this module is long: the verb table is one list of physically consistent action definitions; splitting it would scatter the world's design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egodistill.synthetic.scene import Scene
from egodistill.synthetic.trajectory import CHANNELS, HeadTrajectory, Modulated, Signal, Sines, Steps


@dataclass(frozen=True)
class Verb:
    """One verb class and how it looks, moves and is written in each layout."""

    name: str
    class_id: int
    epic_key: str  # EPIC_100_verb_classes.csv key
    epic_category: str
    epic_verb: str  # raw verb in the EPIC narration / `verb` column
    ego4d_verb: str  # Ego4D `structured_verb` (taxonomy-style string)
    noun: str  # object of change: EPIC noun and Ego4D structured_noun
    noun_class: int
    extra_nouns: tuple[tuple[str, int], ...]
    narration: str  # EPIC narration
    ego4d_narration: str
    target: str | None  # scene object the action acts on (ground-truth boxes / Ego4D frames)
    duration: tuple[float, float]
    pnr: float  # point of no return as a fraction of the segment
    group: str  # "motion-pair" | "appearance-only" | "motion-defined"
    appearance: str
    scene_motion: str
    head_motion: str


def _v(**kw: Any) -> Verb:
    return Verb(**kw)


VERBS: tuple[Verb, ...] = (
    _v(name="take", class_id=0, epic_key="take", epic_category="retrieve", epic_verb="pick-up",
       ego4d_verb="take_(pick,_grab,_get)", noun="box", noun_class=23, extra_nouns=(),
       narration="pick up box", ego4d_narration="#C C picks up the box", target="box",
       duration=(1.0, 1.8), pnr=0.3, group="motion-pair",
       appearance="box on/above the counter (same states as put)",
       scene_motion="box rises 20-30 cm from the counter",
       head_motion="pitch up 8-15 deg and lean back 1-4 cm, strength motion_correlation"),
    _v(name="put", class_id=1, epic_key="put", epic_category="leave", epic_verb="put-down",
       ego4d_verb="put_(place,_leave,_drop)", noun="box", noun_class=23, extra_nouns=(),
       narration="put down box", ego4d_narration="#C C puts down the box", target="box",
       duration=(1.0, 1.8), pnr=0.8, group="motion-pair",
       appearance="box on/above the counter (same states as take)",
       scene_motion="box descends 20-30 cm onto the counter (time reversal of take)",
       head_motion="pitch down 8-15 deg and lean forward 1-4 cm, strength motion_correlation"),
    _v(name="open", class_id=3, epic_key="open", epic_category="access", epic_verb="open",
       ego4d_verb="open", noun="cupboard", noun_class=3, extra_nouns=(),
       narration="open cupboard", ego4d_narration="#C C opens the cupboard", target="door",
       duration=(1.0, 1.8), pnr=0.5, group="motion-pair",
       appearance="cabinet door part open (same states as close)",
       scene_motion="hinged door swings from shut to 80-110 deg open",
       head_motion="lean back 4-10 cm, gaze 4-10 deg toward the hinge, strength motion_correlation"),
    _v(name="close", class_id=4, epic_key="close", epic_category="block", epic_verb="close",
       ego4d_verb="close", noun="cupboard", noun_class=3, extra_nouns=(),
       narration="close cupboard", ego4d_narration="#C C closes the cupboard", target="door",
       duration=(1.0, 1.8), pnr=0.9, group="motion-pair",
       appearance="cabinet door part open (same states as open)",
       scene_motion="hinged door swings shut (time reversal of open)",
       head_motion="lean forward 4-10 cm, gaze 4-10 deg away from the hinge, strength motion_correlation"),
    _v(name="cut", class_id=7, epic_key="cut", epic_category="split", epic_verb="cut",
       ego4d_verb="cut_(trim,_slice,_chop)", noun="carrot", noun_class=41,
       extra_nouns=(("knife", 4),), narration="cut carrot with knife",
       ego4d_narration="#C C cuts the carrot with a knife", target="knife",
       duration=(1.5, 3.0), pnr=0.5, group="appearance-only",
       appearance="knife raised across the carrot on the chopping board",
       scene_motion="knife strokes up and down 2-4 times per second",
       head_motion="none beyond ambient sway (identical to pour and mix)"),
    _v(name="pour", class_id=9, epic_key="pour", epic_category="merge", epic_verb="pour-into",
       ego4d_verb="pour", noun="cup", noun_class=13, extra_nouns=(("bowl", 7),),
       narration="pour cup into bowl", ego4d_narration="#C C pours the cup into the bowl", target="cup",
       duration=(2.0, 3.2), pnr=0.45, group="appearance-only",
       appearance="cup lifted and tilted over the bowl",
       scene_motion="cup lifts over the bowl, tilts ~100 deg, holds, returns",
       head_motion="none beyond ambient sway (identical to cut and mix; same aim as mix)"),
    _v(name="mix", class_id=10, epic_key="mix", epic_category="merge", epic_verb="stir",
       ego4d_verb="stir", noun="food", noun_class=34, extra_nouns=(("bowl", 7),),
       narration="stir food in bowl", ego4d_narration="#C C stirs the food in the bowl", target="spoon",
       duration=(1.5, 3.0), pnr=0.5, group="appearance-only",
       appearance="spoon standing in the bowl",
       scene_motion="spoon circles in the bowl 1-1.5 times per second",
       head_motion="none beyond ambient sway (identical to cut and pour; same aim as pour)"),
    _v(name="look", class_id=38, epic_key="look", epic_category="monitor", epic_verb="look-at",
       ego4d_verb="look", noun="shelf", noun_class=247, extra_nouns=(),
       narration="look at shelf", ego4d_narration="#C C looks at the shelf", target="shelf",
       duration=(1.6, 2.6), pnr=0.5, group="motion-defined",
       appearance="the shelf high on the wall (mid-segment)",
       scene_motion="none",
       head_motion="gaze rises 30-60 deg from the counter to the shelf, holds, returns"),
    _v(name="walk", class_id=67, epic_key="transition", epic_category="transition", epic_verb="walk",
       ego4d_verb="walk", noun="counter", noun_class=42, extra_nouns=(),
       narration="walk along counter", ego4d_narration="#C C walks along the counter", target=None,
       duration=(2.0, 4.5), pnr=0.5, group="motion-defined",
       appearance="the room seen while moving (like any idle frame)",
       scene_motion="none (the camera translates)",
       head_motion="turn 90 deg toward travel, walk 1-2.5 m with 1.7-2.1 Hz step bob, turn back"),
    _v(name="turn-left", class_id=97, epic_key="turn-left", epic_category="transition", epic_verb="turn-left",
       ego4d_verb="turn_left", noun="head", noun_class=300, extra_nouns=(),
       narration="turn left", ego4d_narration="#C C turns to the left", target=None,
       duration=(0.8, 1.5), pnr=0.5, group="motion-pair",
       appearance="the room (symmetric with turn-right)",
       scene_motion="none (the camera rotates)",
       head_motion="yaw +40..80 deg (counter-clockwise from above), centred on the resting gaze"),
    _v(name="turn-right", class_id=98, epic_key="turn-right", epic_category="transition", epic_verb="turn-right",
       ego4d_verb="turn_right", noun="head", noun_class=300, extra_nouns=(),
       narration="turn right", ego4d_narration="#C C turns to the right", target=None,
       duration=(0.8, 1.5), pnr=0.5, group="motion-pair",
       appearance="the room (symmetric with turn-left)",
       scene_motion="none (the camera rotates)",
       head_motion="yaw -40..80 deg (clockwise from above), centred on the resting gaze"),
)  # fmt: skip

VERB_BY_NAME = {v.name: v for v in VERBS}
REACH_X = 0.8
"""Hand actions only happen on objects within this x distance (m) of the standing spot."""


@dataclass
class Segment:
    """One planted action: verb, planted [start, end] (s), point of no return, verb parameters."""

    verb: Verb
    start: float
    end: float
    pnr: float
    params: dict[str, Any] = field(default_factory=dict)


PoseFn = Callable[[float], tuple[np.ndarray, np.ndarray]]


@dataclass
class Animation:
    """An object's pose over [t0, t1]; outside all animations it rests where the last one ended."""

    t0: float
    t1: float
    pose: PoseFn


@dataclass
class Plan:
    segments: list[Segment]
    trajectory: HeadTrajectory
    animations: dict[str, list[Animation]]  # by object label


def _mj(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x**3 * (10 - 15 * x + 6 * x * x)


def _ramp(t: float, a: float, b: float) -> float:
    return _mj((t - a) / (b - a))


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_axis(axis: np.ndarray, a: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)


class _Planner:
    """Builds the timeline, the head trajectory and the object animations of one video."""

    def __init__(self, rng: np.random.Generator, scene: Scene, duration: float, cfg: Any) -> None:
        self.rng, self.scene, self.duration, self.cfg = rng, scene, duration, cfg
        self.rho = float(cfg.motion_correlation)
        self.steps = {c: Steps() for c in CHANNELS}
        self.spot = int(rng.integers(len(scene.spots_x)))
        self.steps["x"].start_value = scene.spots_x[self.spot]
        self.steps["y"].start_value = scene.stand_y
        self.steps["z"].start_value = scene.eye_height
        yaw, pitch = self._aim_angles(self._counter_point(), current_yaw=0.0)
        self.steps["yaw"].start_value = yaw
        self.steps["pitch"].start_value = pitch + np.deg2rad(rng.uniform(-10, 5))
        self.bob = {c: Steps() for c in ("z", "y", "yaw")}
        self.step_freq = rng.uniform(1.7, 2.1)
        self.door_open = False
        self.box_held = False
        self.counts = {v.name: 0 for v in VERBS}
        self.segments: list[Segment] = []
        self.anims: dict[str, list[Animation]] = {k: [] for k in ("door", "box", "knife", "spoon", "cup")}
        box = scene.get("box")
        self.box_rest = box.center.copy()
        self.box_held_pos = box.center + np.array([0.0, -0.15, rng.uniform(0.2, 0.3)])

    # ---- head helpers -------------------------------------------------------------------
    def _pos(self) -> np.ndarray:
        return np.array([self.steps[c].end_value() for c in ("x", "y", "z")])

    def _counter_point(self) -> np.ndarray:
        s = self.scene
        return np.array([s.spots_x[self.spot], s.get("counter").center[1] - 0.05, 0.9])

    def _aim_angles(self, target: np.ndarray, current_yaw: float) -> tuple[float, float]:
        d = target - self._pos()
        yaw = float(np.arctan2(-d[0], d[1]))
        yaw += 2 * np.pi * round((current_yaw - yaw) / (2 * np.pi))
        pitch = float(np.arctan2(d[2], np.hypot(d[0], d[1])))
        return yaw, pitch

    def _move(
        self, channel: str, t0: float, t1: float, target: float | None = None, delta: float | None = None
    ):
        st = self.steps[channel]
        d = (target - st.end_value()) if target is not None else float(delta or 0.0)
        if abs(d) > 1e-9:
            st.add(t0, t1, d)

    def _lean(self, t0: float, t1: float, forward: float) -> None:
        yaw = self.steps["yaw"].end_value()
        self._move("x", t0, t1, delta=-np.sin(yaw) * forward)
        self._move("y", t0, t1, delta=np.cos(yaw) * forward)

    def _aim(self, t0: float, t1: float, target: np.ndarray, pre: dict[str, float] | None = None) -> None:
        """Over [t0, t1]: stand at the spot and point the head at ``target``, offset by ``pre``.

        ``pre`` holds the upcoming segment's head move (yaw, pitch, forward); the head starts at
        minus half of it, so the move is centred on the aim and the verb's frames are symmetric
        with those of its paired verb (see the module docstring).
        """
        pre = pre or {}
        yaw, pitch = self._aim_angles(target, self.steps["yaw"].end_value())
        j = np.deg2rad(3.0)
        yaw += self.rng.normal(0, j) - pre.get("yaw", 0.0) / 2
        pitch += self.rng.normal(0, j) - pre.get("pitch", 0.0) / 2
        back = -pre.get("forward", 0.0) / 2
        self._move("x", t0, t1, target=self.scene.spots_x[self.spot] - np.sin(yaw) * back)
        self._move("y", t0, t1, target=self.scene.stand_y + np.cos(yaw) * back)
        self._move("yaw", t0, t1, target=yaw)
        self._move("pitch", t0, t1, target=pitch)
        self._move("roll", t0, t1, target=self.rng.normal(0, np.deg2rad(2)))

    def _head_move(self, verb: Verb) -> dict[str, float]:
        """The segment's head move, drawn before the idle stretch so the aim can centre it.

        Paired verbs draw mirror-image moves: ``delta = rho c + sqrt(1 - rho^2) r`` with the
        characteristic move ``c`` of opposite sign for the two verbs of a pair and a symmetric
        random move ``r``, so a put is distributed exactly like a time-reversed take.
        """
        rng, rho = self.rng, self.rho
        name = verb.name
        if name in ("turn-left", "turn-right"):
            return {"yaw": (1.0 if name == "turn-left" else -1.0) * np.deg2rad(rng.uniform(40, 80))}
        if name in ("take", "put"):
            sign = 1.0 if name == "take" else -1.0
            c = {
                "yaw": 0.0,
                "pitch": sign * np.deg2rad(rng.uniform(8, 15)),
                "forward": -sign * rng.uniform(0.01, 0.04),
            }
        elif name in ("open", "close"):
            sign = 1.0 if name == "open" else -1.0
            hs = self.scene.hinge_side
            c = {
                "yaw": sign * hs * np.deg2rad(rng.uniform(4, 10)),
                "pitch": 0.0,
                "forward": -sign * rng.uniform(0.04, 0.10),
            }
        else:
            return {}
        k = np.sqrt(max(1.0 - rho * rho, 0.0))
        return {
            "yaw": rho * c["yaw"] + k * rng.normal(0, np.deg2rad(6)),
            "pitch": rho * c["pitch"] + k * rng.normal(0, np.deg2rad(6)),
            "forward": rho * c["forward"] + k * rng.normal(0, 0.03),
        }

    def _apply_head_move(self, s: float, e: float, move: dict[str, float]) -> dict[str, float]:
        d = e - s
        a, b = s + 0.1 * d, e - 0.1 * d
        self._lean(a, b, move["forward"])  # along the facing direction at the start, as _aim centred it
        self._move("yaw", a, b, delta=move["yaw"])
        self._move("pitch", a, b, delta=move["pitch"])
        return {"head_dyaw_deg": float(np.rad2deg(move["yaw"])), "head_dpitch_deg": float(np.rad2deg(move["pitch"])),
                "head_forward_m": float(move["forward"])}  # fmt: skip

    # ---- planning -----------------------------------------------------------------------
    def _allowed(self) -> list[Verb]:
        out = []
        for v in VERBS:
            if v.name == "open" and self.door_open or v.name == "close" and not self.door_open:
                continue
            if v.name == "take" and self.box_held or v.name == "put" and not self.box_held:
                continue
            if v.name == "walk" and (self.box_held or len(self.scene.spots_x) < 2):
                continue
            target = self._reach_target(v)
            if target is not None and abs(target[0] - self.scene.spots_x[self.spot]) > REACH_X:
                continue  # out of reach from this spot: walk there first
            out.append(v)
        return out

    def _walk_destination(self) -> int:
        """Prefer the spot from which the rarest hand actions so far are within reach."""
        others = [i for i in range(len(self.scene.spots_x)) if i != self.spot]
        score = []
        for i in others:
            x = self.scene.spots_x[i]
            total = 1e-3
            for v in VERBS:
                target = self._reach_target(v)
                if target is not None and abs(target[0] - x) <= REACH_X:
                    total += 1.0 / (1.0 + self.counts[v.name])
            score.append(total**2)
        p = np.array(score) / np.sum(score)
        return int(others[int(self.rng.choice(len(others), p=p))])

    def _reach_target(self, verb: Verb) -> np.ndarray | None:
        """Where the hands must reach for ``verb`` (None: no hand action)."""
        if verb.name == "look" or verb.target is None:
            return None
        return self._aim_target(verb)

    def _aim_target(self, verb: Verb) -> np.ndarray | None:
        s = self.scene
        if verb.name in ("take", "put"):  # centre of the lift, shared by the pair
            return (self.box_rest + self.box_held_pos) / 2
        if verb.name in ("open", "close"):
            return s.get("door").center
        if verb.name == "cut":
            return s.get("carrot").center
        if verb.name in ("pour", "mix"):
            return s.get("bowl").center
        if verb.name == "look":  # start from a downward gaze at the counter in front
            return self._counter_point()
        return None

    def plan(self) -> Plan:
        rng, cfg = self.rng, self.cfg
        t = float(rng.uniform(1.0, 2.5))
        prev_end = 0.0
        while True:
            allowed = self._allowed()
            w = np.array([1.0 / (1.0 + self.counts[v.name]) ** 2 for v in allowed])
            verb = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
            dur = float(rng.uniform(*verb.duration))
            walk_to = None
            if verb.name == "walk":
                walk_to = self._walk_destination()
                dist = abs(self.scene.spots_x[walk_to] - self.scene.spots_x[self.spot])
                dur = float(np.clip(dist / (0.7 * rng.uniform(0.9, 1.3)) + 0.6, *verb.duration))
            if t + dur > self.duration - 0.5:
                break
            move = self._head_move(verb)
            self._idle(prev_end, t, verb, move)
            params = self._segment(verb, t, t + dur, walk_to, move)
            self.segments.append(
                Segment(verb=verb, start=t, end=t + dur, pnr=t + verb.pnr * dur, params=params)
            )
            self.counts[verb.name] += 1
            prev_end = t + dur
            t = prev_end + float(rng.uniform(cfg.idle_min_sec, cfg.idle_max_sec))
        return Plan(segments=self.segments, trajectory=self._trajectory(), animations=self.anims)

    def _idle(self, t0: float, t1: float, verb: Verb, move: dict[str, float]) -> None:
        rng = self.rng
        aim_dur = float(rng.uniform(0.5, 0.9))
        aim_end = t1 - float(rng.uniform(0.0, 0.15))
        aim_start = max(aim_end - aim_dur, t0 + 0.05)
        if aim_start - t0 > 1.2 and rng.random() < 0.6:  # a glance somewhere
            g0 = t0 + float(rng.uniform(0.1, aim_start - t0 - 1.0))
            g1 = g0 + float(rng.uniform(0.4, 0.8))
            self._move("yaw", g0, g1, delta=np.deg2rad(rng.choice([-1, 1]) * rng.uniform(5, 15)))
            self._move("pitch", g0, g1, delta=np.deg2rad(rng.uniform(-8, 8)))
        if verb.name in ("turn-left", "turn-right"):  # look around the room, centred on the counter
            base = self._counter_point().copy()
            yaw, _ = self._aim_angles(base, self.steps["yaw"].end_value())
            d = np.linalg.norm((base - self._pos())[:2])
            base[2] = self._pos()[2] + d * np.tan(np.deg2rad(rng.uniform(-25, -5)))
            self._aim(aim_start, aim_end, base, move)
            return
        target = self._aim_target(verb)
        if target is None:  # walk: face the counter in front
            target = self._counter_point()
        self._aim(aim_start, aim_end, target, move)

    def _segment(
        self, verb: Verb, s: float, e: float, walk_to: int | None, move: dict[str, float]
    ) -> dict[str, Any]:
        rng, scene, d = self.rng, self.scene, e - s
        name = verb.name
        if name in ("take", "put"):
            a, b = (
                (self.box_rest, self.box_held_pos) if name == "take" else (self.box_held_pos, self.box_rest)
            )
            a, b = a.copy(), b.copy()
            self.anims["box"].append(
                Animation(s, e, lambda t, a=a, b=b, s=s, e=e: (a + (b - a) * _ramp(t, s, e), np.eye(3)))
            )
            self.box_held = name == "take"
            return self._apply_head_move(s, e, move)
        if name in ("open", "close"):
            door = scene.get("door")
            hinge = np.array([scene.hinge_x, scene.door_front_y, door.center[2]])
            offset = door.center - hinge
            full = scene.door_open_angle
            a0, a1 = (0.0, full) if name == "open" else (full, 0.0)
            hs = scene.hinge_side

            def door_pose(t: float, a0=a0, a1=a1, s=s, e=e) -> tuple[np.ndarray, np.ndarray]:
                q = rot_z(-hs * (a0 + (a1 - a0) * _ramp(t, s, e)))
                return hinge + q @ offset, q

            self.anims["door"].append(Animation(s, e, door_pose))
            self.door_open = name == "open"
            return self._apply_head_move(s, e, move)
        if name == "cut":
            knife, carrot = scene.get("knife"), scene.get("carrot")
            rest = knife.center.copy()
            work = carrot.center + np.array(
                [rng.uniform(-0.04, 0.02), 0.0, carrot.half[2] + knife.half[2] + 0.003]
            )
            ta, tb = s + 0.15 * d, e - 0.15 * d
            n = max(2, int(round((tb - ta) * rng.uniform(2.0, 4.0))))
            h = rng.uniform(0.03, 0.06)

            def knife_pose(t: float, rest=rest, work=work, ta=ta, tb=tb, n=n, h=h, s=s, e=e):
                w = _ramp(t, s, ta) - _ramp(t, tb, e)
                z = 0.0
                if ta < t < tb:
                    z = h * (1 - np.cos(2 * np.pi * n * (t - ta) / (tb - ta))) / 2
                p = rest + (work - rest) * w + np.array([0.0, 0.0, z])
                return p, rot_z(w * np.pi / 2)

            self.anims["knife"].append(Animation(s, e, knife_pose))
            return {
                "strokes": n,
                "stroke_height_m": float(h),
                "stroke_start": float(ta),
                "stroke_end": float(tb),
            }
        if name == "mix":
            bowl = scene.get("bowl")
            n = max(1, int(round(d * rng.uniform(1.0, 1.5))))
            r = rng.uniform(0.03, 0.045)
            base = bowl.center + np.array([0.0, 0.0, 0.08])

            def spoon_pose(t: float, n=n, r=r, s=s, e=e, base=base):
                phi = 2 * np.pi * n * _ramp(t, s, e)
                return base + r * np.array([np.cos(phi), np.sin(phi), 0.0]), rot_z(phi) @ rot_y(
                    np.deg2rad(20)
                )

            self.anims["spoon"].append(Animation(s, e, spoon_pose))
            return {"circles": n, "radius_m": float(r)}
        if name == "pour":
            cup, bowl = scene.get("cup"), scene.get("bowl")
            rest = cup.center.copy()
            hdir = (bowl.center - rest) * np.array([1.0, 1.0, 0.0])
            hdir /= np.linalg.norm(hdir)
            work = bowl.center - 0.09 * hdir + np.array([0.0, 0.0, 0.16])
            axis = np.cross([0.0, 0.0, 1.0], hdir)
            tilt = np.deg2rad(rng.uniform(95, 115))
            k = [s + f * d for f in (0.0, 0.25, 0.45, 0.6, 0.8, 1.0)]

            def cup_pose(t: float, rest=rest, work=work, axis=axis, tilt=tilt, k=k):
                w1 = _ramp(t, k[0], k[1]) - _ramp(t, k[4], k[5])
                w2 = _ramp(t, k[1], k[2]) - _ramp(t, k[3], k[4])
                return rest + (work - rest) * w1, rot_axis(axis, tilt * w2)

            self.anims["cup"].append(Animation(s, e, cup_pose))
            return {"tilt_deg": float(np.rad2deg(tilt)), "pour_start": k[2], "pour_end": k[3]}
        if name == "look":
            yaw0, pitch0 = self.steps["yaw"].end_value(), self.steps["pitch"].end_value()
            yaw, pitch = self._aim_angles(scene.get("shelf").center, yaw0)
            self._move("yaw", s, s + 0.4 * d, target=yaw)
            self._move("pitch", s, s + 0.4 * d, target=pitch)
            self._move("yaw", e - 0.4 * d, e, target=yaw0)
            self._move("pitch", e - 0.4 * d, e, target=pitch0)
            return {"pitch_up_deg": float(np.rad2deg(pitch - pitch0))}
        if name == "walk":
            assert walk_to is not None
            x0, x1 = scene.spots_x[self.spot], scene.spots_x[walk_to]
            direction = 1.0 if x1 > x0 else -1.0
            yaw_travel = -direction * np.pi / 2  # facing +x is yaw -90 deg
            yaw_travel += 2 * np.pi * round((self.steps["yaw"].end_value() - yaw_travel) / (2 * np.pi))
            self._move("yaw", s, s + 0.25 * d, target=yaw_travel)
            self._move("pitch", s, s + 0.25 * d, target=np.deg2rad(rng.uniform(-15, -5)))
            self._move("x", s + 0.15 * d, e - 0.15 * d, target=x1)
            self._move("y", s + 0.15 * d, e - 0.15 * d, target=scene.stand_y)
            amp_z, amp_y, amp_yaw = (
                rng.uniform(0.015, 0.03),
                rng.uniform(0.008, 0.02),
                np.deg2rad(rng.uniform(0.8, 2)),
            )
            for ch, amp in (("z", amp_z), ("y", amp_y), ("yaw", amp_yaw)):
                self.bob[ch].add(s + 0.15 * d, s + 0.3 * d, amp)
                self.bob[ch].add(e - 0.3 * d, e - 0.15 * d, -amp)
            self.spot = walk_to
            yaw_back, pitch_back = self._aim_angles(self._counter_point(), yaw_travel)
            self._move("yaw", e - 0.25 * d + 1e-6, e, target=yaw_back)
            self._move("pitch", e - 0.25 * d + 1e-6, e, target=pitch_back)
            return {"from_x": float(x0), "to_x": float(x1), "step_hz": float(self.step_freq)}
        if name in ("turn-left", "turn-right"):
            amp = move["yaw"]
            self._move("yaw", s, e, delta=amp)
            return {"yaw_deg": float(np.rad2deg(amp))}
        raise ValueError(f"unknown verb {name!r}")

    def _trajectory(self) -> HeadTrajectory:
        rng, k = self.rng, float(self.cfg.head_sway_scale)

        def sway(n: int, fmin: float, fmax: float, amp: float) -> Sines:
            return Sines(
                amp=k * amp * rng.uniform(0.5, 1.0, n) / np.sqrt(n),
                freq=rng.uniform(fmin, fmax, n),
                phase=rng.uniform(0, 2 * np.pi, n),
            )

        chans: dict[str, Signal] = {}
        for c in CHANNELS:
            if c in ("x", "y", "z"):
                terms = [self.steps[c], sway(3, 0.05, 0.3, 0.006), sway(2, 1.0, 3.0, 0.0004)]
            else:
                terms = [
                    self.steps[c],
                    sway(3, 0.05, 0.4, np.deg2rad(1.0)),
                    sway(2, 1.0, 4.0, np.deg2rad(0.12)),
                ]
            f = self.step_freq
            if c == "z":
                terms.append(Modulated(self.bob["z"], freq=f, phase=rng.uniform(0, 2 * np.pi)))
            if c == "y":
                terms.append(Modulated(self.bob["y"], freq=f / 2, phase=rng.uniform(0, 2 * np.pi)))
            if c == "yaw":
                terms.append(Modulated(self.bob["yaw"], freq=f / 2, phase=rng.uniform(0, 2 * np.pi)))
            chans[c] = Signal(terms)
        return HeadTrajectory(chans)


def plan_video(rng: np.random.Generator, scene: Scene, duration: float, cfg: Any) -> Plan:
    """Timeline of segments, head trajectory and object animations for one video."""
    return _Planner(rng, scene, duration, cfg).plan()
