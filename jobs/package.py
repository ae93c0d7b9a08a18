"""Ray job: `egodistill package` (see egodistill.inference.cli).

    python jobs/package.py ARGS...
    ray job submit --working-dir . -- python jobs/package.py ARGS...

All logic lives in egodistill.inference; this file only hands its arguments to `egodistill package`.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("package"))
