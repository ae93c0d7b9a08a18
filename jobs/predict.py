"""Ray job: `egodistill predict` (see egodistill.inference.cli).

    python jobs/predict.py ARGS...
    ray job submit --working-dir . -- python jobs/predict.py ARGS...

All logic lives in egodistill.inference; this file only hands its arguments to `egodistill predict`.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("predict"))
