"""Ray job: a Ray Tune sweep over stage-2 distillation (see egodistill.tuning).

    python jobs/sweep.py --workspace workspace --dataset ego4d --preset demo --name demo-sweep
    ray job submit --working-dir . -- python jobs/sweep.py --workspace /shared/workspace --preset paper

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("sweep"))
