"""Ray job: self-supervised video/head-motion correspondence (seed 002), then its evaluations.

    python jobs/correspondence.py --workspace workspace --dataset ego4d --preset demo
    ray job submit --working-dir . -- python jobs/correspondence.py --workspace /shared/workspace --preset paper --gpu

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.methods.correspondence; this file hands its arguments to `egodistill correspondence`.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("correspondence"))
