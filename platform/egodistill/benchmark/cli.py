"""``egodistill reproduce``: the paper's comparisons over K seeds with intervals and paired tests.

    egodistill reproduce --preset bench --out bench_out              # 84 min on 2 CPU cores (measured)
    egodistill reproduce --preset smoke --out /tmp/r --seeds 2       # a tiny world, a minute or two
    egodistill reproduce --preset bench --world motion_correlation=0.6 --world imu_noise_scale=2

Config sources, later wins: ``--preset`` < ``--config FILE`` < the flags < ``--set KEY=VALUE``
(e.g. ``--set world.videos=12``, ``--set ablations=[no_kd]``).
"""

from __future__ import annotations

import argparse

from egodistill.config import ConfigError, add_config_arguments, load_config

HELP = "run the paper's comparisons on a benchmark world over K seeds: mean, 95%% interval, paired tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", choices=("bench", "smoke"), default="bench", help="starting config (bench)"
    )
    parser.add_argument("--out", help="workspace (world.out, default bench_out)")
    parser.add_argument("--seeds", type=int, help="training seeds K (default 3)")
    parser.add_argument("--videos", type=int, help="videos of the benchmark world (world.videos)")
    parser.add_argument("--seconds", type=float, help="seconds per video (world.seconds)")
    parser.add_argument("--seed", type=int, help="the world's seed (world.seed); training seeds follow it")
    parser.add_argument(
        "--image-weights",
        help="students' f_I: standin (default: pretrain-image once, shared by all seeds) | torchvision | path | none",
    )
    parser.add_argument("--world", action="append", default=[], metavar="KEY=VALUE",
                        help="a synthetic-world knob (motion_correlation, imu_noise_scale, ...); repeatable")  # fmt: skip
    add_config_arguments(parser, "ReproduceConfig", "world.videos=12")


def run(args: argparse.Namespace) -> int:
    from egodistill.benchmark.reproduce import PRESETS, ReproduceConfig, lines, run_reproduce
    from egodistill.demo import StageFailed, world_knobs

    try:
        dotted = {"world.out": args.out, "world.videos": args.videos, "world.seconds": args.seconds,
                  "world.seed": args.seed, "world.image_weights": args.image_weights, "seeds": args.seeds}  # fmt: skip
        dotted.update({f"world.world.{k}": v for k, v in world_knobs(args.world).items()})
        cfg = load_config(
            ReproduceConfig, args.config, args.overrides, base=PRESETS[args.preset], dotted=dotted
        )
    except (ConfigError, ValueError) as e:
        print(f"egodistill reproduce: {e}")
        return 2
    try:
        outcome = run_reproduce(cfg)
    except (StageFailed, ValueError, FileNotFoundError) as e:
        print(f"egodistill reproduce: {e}")
        return 1
    print("\n".join(lines(outcome, cfg.seeds)))
    return 0
