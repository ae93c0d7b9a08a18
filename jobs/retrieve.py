"""Ray job: `egodistill retrieve` (see egodistill.inference.cli).

    python jobs/retrieve.py ARGS...
    ray job submit --working-dir . -- python jobs/retrieve.py ARGS...

All logic lives in egodistill.inference; this file only hands its arguments to `egodistill retrieve`.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("retrieve"))
