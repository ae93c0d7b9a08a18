"""Ray job: the student's `distill` step (see egodistill.methods.egodistill.cli and student_jobs).

    python jobs/distill.py --workspace workspace --dataset ego4d --preset demo
    ray job submit --working-dir . -- python jobs/distill.py --workspace /shared/workspace --dataset ego4d

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.student.driver; this file only hands its arguments to
`egodistill distill`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("distill"))
