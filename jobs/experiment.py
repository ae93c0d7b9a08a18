"""Ray job: the student's `experiment` step (see egodistill.methods.egodistill.cli and student_jobs).

    python jobs/experiment.py --workspace workspace --dataset ego4d --preset demo
    ray job submit --working-dir . -- python jobs/experiment.py --workspace /shared/workspace --dataset ego4d

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.student.driver; this file only hands its arguments to
`egodistill experiment`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("experiment"))
