"""Ray job: run a trained teacher over every clip row and write the teacher-features sidecar table.

    python jobs/features.py --clips workspace/clips --teacher-dir workspace/checkpoints/teachers/ego4d/tiny3d \
        --workspace workspace
    ray job submit --working-dir . -- python jobs/features.py --clips ... --teacher-dir ... --workspace ...

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.features; this file only hands its arguments to
`egodistill features`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("features"))
