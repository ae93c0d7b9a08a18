"""Ray job: index an Ego4D or EPIC-Kitchens-100 root into a clip manifest (+ quarantine); no video decode.

    python jobs/index.py --dataset ego4d --root /data/ego4d --out workspace/manifests/ego4d.parquet
    ray job submit --working-dir . -- python jobs/index.py --dataset epic --root /shared/epic \
        --out /shared/workspace/manifests/epic.parquet
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("index"))
