"""Dataset readers: Ego4D and EPIC-Kitchens-100 roots -> clip manifest, plus IMU preprocessing.

- imu.py: load/clean/align one video's IMU, cut the model's fixed 422 x 6 window.
- ego4d.py, epic.py: annotation files -> clip candidates (or quarantine entries).
- manifest.py: the shared checks, splits and labels; write/read the manifest; dense eval clips.
- config.py: IndexConfig and friends; cli.py: `egodistill index`.
"""
