"""Ray job: seed 001's multimodal distillation (see egodistill.methods.multimodal.cli and .jobs).

    python jobs/multimodal.py --workspace workspace --dataset ego4d --preset demo
    ray job submit --working-dir . -- python jobs/multimodal.py --workspace /shared/workspace --dataset ego4d

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.methods.multimodal; this file only hands its arguments to
`egodistill multimodal`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("multimodal"))
