"""Ray job: pretrain the students' frozen f_I (ResNet-18) on a separate synthetic pool (Ray Train).

    python jobs/pretrain_image.py --workspace workspace --preset demo
    ray job submit --working-dir . -- python jobs/pretrain_image.py --workspace /shared/workspace --preset bench

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.pretraining; this file only hands its arguments to
`egodistill pretrain-image`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("pretrain-image"))
