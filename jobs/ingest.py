"""Ray job: clip manifest -> Parquet clips dataset (sparse JPEG frames + IMU windows).

    python jobs/ingest.py --manifest workspace/manifests/epic.parquet --out workspace/clips [--config ingest.yaml]
    ray job submit --working-dir . -- python jobs/ingest.py --manifest ... --out ...

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.ingest; this file only hands its arguments to
`egodistill ingest`, which parses the typed config and calls it.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("ingest"))
