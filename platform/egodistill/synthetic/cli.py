"""``egodistill synth``: write a synthetic Ego4D- or EPIC-layout dataset with video, IMU and labels."""

from __future__ import annotations

import argparse

from egodistill.config import add_config_arguments

HELP = "generate a synthetic egocentric dataset (video + IMU + labels) in the Ego4D or EPIC-100 layout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument("--layout", choices=["ego4d", "epic"], help="dataset layout to write (default ego4d)")
    p.add_argument(
        "--profile", choices=["human", "dog"], help="human (kitchen verbs, default) or dog (walk/shake/look)"
    )
    p.add_argument("--out", help="output directory = dataset root (default ./synthetic_data)")
    p.add_argument("--videos", type=int, help="number of videos (default 4)")
    p.add_argument("--seconds", type=float, help="duration of each video in seconds (default 90)")
    p.add_argument(
        "--seed", type=int, help="random seed; same seed -> same annotations and IMU bytes (default 0)"
    )
    p.add_argument("--width", type=int, help="frame width in pixels, even (default 160)")
    p.add_argument("--height", type=int, help="frame height in pixels, even (default 120)")
    p.add_argument("--fps", type=float, help="frame rate (default: 30 for ego4d, 50 for epic)")
    p.add_argument("--codec", choices=["h264", "vp9"], help="video codec (default h264)")
    p.add_argument("--crf", type=int, help="encoder quality, lower is better (default 23)")
    p.add_argument("--no-audio", dest="audio", action="store_const", const=False, help="omit the audio track")
    p.add_argument("--motion-correlation", type=float, help="0..1: how strongly head motion follows the verb")
    p.add_argument(
        "--imu-noise-scale", type=float, help="multiplies IMU bias, drift and white noise (default 1)"
    )
    p.add_argument("--imu-defect-rate", type=float, help="probability of each planted IMU defect per video")
    p.add_argument("--invalid-action-rate", type=float, help="share of Ego4D actions planted invalid")
    p.add_argument("--participants", type=int, help="EPIC participants P01.. (default 4)")
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument(
        "--force", action="store_true", help="render again even if --out holds this config's complete dataset"
    )
    add_config_arguments(p, "SynthConfig", "motion_correlation=0.5")


def run(args: argparse.Namespace) -> int:
    from egodistill.config import load_config
    from egodistill.synthetic.config import SynthConfig
    from egodistill.synthetic.generator import generate

    keys = [
        "layout", "profile", "out", "videos", "seconds", "seed", "width", "height", "fps", "codec", "crf", "audio",
        "motion_correlation", "imu_noise_scale", "imu_defect_rate", "invalid_action_rate", "participants", "workers",
    ]  # fmt: skip
    values = {k: getattr(args, k, None) for k in keys}
    cfg = load_config(SynthConfig, args.config, args.overrides, **values)
    summary = generate(cfg, force=args.force)
    print(summary)
    return 0
