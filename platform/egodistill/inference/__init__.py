"""Using a trained student: long-video inference (windows -> timelines), retrieval and packaging.

windows.py     the window plan over one video (stride, edges, short videos)
frames.py      frame policies: exact-frame decode and keyframe-nearest decode (states its time error)
imu_windows.py IMU windows for prediction through the training preprocessing (datasets/imu.py)
sources.py     which videos to predict: a dataset root (Ego4D / EPIC readers) or --video/--imu pairs
model_io.py    the ONE place that reads a trained student (or teacher) from disk
predictor.py   the Ray Data actor running the model
pipeline.py    the predict job: Ray Data decode tasks -> actor pool -> per-video Parquet
segments.py    action segments from windows, per-window accuracy, timeline PNG
retrieval.py   cosine nearest neighbours by the student feature, precision@k, PNG strips
packaging.py   MLflow pyfunc model and torch.export program
"""
