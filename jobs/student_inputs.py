"""Ray job: build the student inputs (dense evaluation clips, image-feature cache, clips+features join).

    python jobs/student_inputs.py --workspace workspace --dataset ego4d --image-weights none
    ray job submit --working-dir . -- python jobs/student_inputs.py --workspace ... --dataset ...

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.student; this file only hands its arguments to
`egodistill student-inputs`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("student-inputs"))
