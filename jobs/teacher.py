"""Ray job: train or fine-tune a teacher video model on dense clips (Ray Train), export and measure it.

    python jobs/teacher.py --manifest workspace/manifests/ego4d.parquet --workspace workspace --preset demo
    python jobs/teacher.py --clips workspace/clips --workspace workspace --preset demo --compare-single-frame
    ray job submit --working-dir . -- python jobs/teacher.py --manifest ... --workspace /shared/workspace

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.training; this file only hands its arguments to
`egodistill teacher`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("teacher"))
