"""Ray job: write a synthetic egocentric world in the real Ego4D or EPIC-Kitchens-100 layout.

    python jobs/synth.py --layout ego4d --out /data/synth/ego4d --videos 4 --seconds 60 --seed 0
    ray job submit --working-dir . -- python jobs/synth.py --layout epic --out /shared/synth/epic

Generation runs in a local process pool (it needs no Ray); the job form lets a cluster write the
world onto its shared storage.
"""

import sys

from egodistill.cli import job_main

if __name__ == "__main__":
    sys.exit(job_main("synth"))
