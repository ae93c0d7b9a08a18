"""egodistill: distil heavy egocentric video models into fast frame+IMU students on Ray.

Reproduces EgoDistill (Tan et al.), with the platform pieces around it: dataset readers for
Ego4D and EPIC-Kitchens-100, a synthetic egocentric world, Ray Data ingest, Ray Train jobs,
Ray Tune sweeps and MLflow tracking.
"""

__version__ = "0.1.0"
