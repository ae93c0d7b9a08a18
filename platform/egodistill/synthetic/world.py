"""One video's world, rebuilt deterministically from (config, seed, video index).

The generator and :func:`egodistill.synthetic.rebuild_video` both go through :func:`build_world`,
so a test can render exactly the frame the writer encoded for any time. Independent random
streams (scene, plan, IMU noise, IMU clock, defects, annotations, audio) are derived from
``(seed, video_index, stream)``, so changing e.g. the IMU noise never changes the pictures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from egodistill.synthetic.actions import Animation, Plan, plan_video
from egodistill.synthetic.config import SynthConfig
from egodistill.synthetic.dog import plan_for
from egodistill.synthetic.renderer import Frame, Renderer
from egodistill.synthetic.scene import Box, Scene, build_scene
from egodistill.synthetic.trajectory import HeadTrajectory

STREAMS = ("scene", "plan", "imu_noise", "imu_clock", "defects", "annotations", "audio", "ids")


def stream_rng(seed: int, video_index: int, stream: str) -> np.random.Generator:
    """Independent, reproducible random stream for one purpose of one video."""
    return np.random.default_rng([int(seed), int(video_index), STREAMS.index(stream)])


def video_uuid(seed: int, video_index: int) -> str:
    """Ego4D-style video_uid (uuid4 format), reproducible from the seed."""
    rng = stream_rng(seed, video_index, "ids")
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def num_frames(cfg: SynthConfig) -> int:
    return int(round(cfg.seconds * cfg.frame_rate))


@dataclass
class VideoWorld:
    """Scene + head trajectory + actions of one video, able to render any instant."""

    config: SynthConfig
    index: int
    scene: Scene
    plan: Plan
    renderer: Renderer

    @property
    def trajectory(self) -> HeadTrajectory:
        return self.plan.trajectory

    @property
    def segments(self):
        return self.plan.segments

    def object_pose(self, label_index: int, t: float) -> tuple[np.ndarray, np.ndarray]:
        box = self.scene.objects[label_index]
        if not box.dynamic:
            return box.center, box.rot
        anims: list[Animation] = self.plan.animations.get(box.label, [])
        last: Animation | None = None
        for a in anims:  # few per video; sorted by time
            if a.t0 <= t <= a.t1:
                return a.pose(t)
            if a.t1 < t:
                last = a
            else:
                break
        return last.pose(last.t1) if last is not None else (box.center, box.rot)

    def objects_at(self, t: float) -> list[tuple[Box, np.ndarray, np.ndarray]]:
        return [(b, *self.object_pose(i, t)) for i, b in enumerate(self.scene.objects)]

    def frames(self, times: np.ndarray) -> Iterator[Frame]:
        """Render the frames at ``times`` (s); head poses are evaluated in one vectorised call."""
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        positions = self.trajectory.position(times)
        rotations = self.trajectory.rotation(times)
        for k, t in enumerate(times):
            yield self.renderer.render(positions[k], rotations[k], self.objects_at(float(t)))

    def render_frame(self, t: float) -> Frame:
        return next(self.frames(np.array([t])))

    def render(self, t_sec: float) -> np.ndarray:
        """RGB frame (H, W, 3) uint8 at time ``t_sec``: exactly what the writer encoded (pre-compression)."""
        return self.render_frame(t_sec).image

    def imu_truth(self, t_sec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free (gyro rad/s, accl m/s^2) in the body frame at times ``t_sec``; each (N, 3)."""
        t = np.asarray(t_sec, dtype=np.float64)
        return self.trajectory.angular_velocity_body(t), self.trajectory.specific_force_body(t)


def build_world(cfg: SynthConfig, video_index: int) -> VideoWorld:
    scene = build_scene(stream_rng(cfg.seed, video_index, "scene"))
    plan_fn = plan_video if cfg.profile == "human" else plan_for(cfg.profile)
    plan = plan_fn(stream_rng(cfg.seed, video_index, "plan"), scene, cfg.seconds, cfg)
    renderer = Renderer(scene.room, cfg.width, cfg.height, cfg.hfov_deg)
    return VideoWorld(config=cfg, index=video_index, scene=scene, plan=plan, renderer=renderer)
