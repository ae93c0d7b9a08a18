"""Ray job: `egodistill reproduce` (the paper's comparisons over K seeds, with intervals and paired tests).

    python jobs/reproduce.py --preset bench --out /abs/bench_out

All logic lives in egodistill.benchmark.reproduce; this file only hands its arguments to the CLI.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("reproduce"))
