"""The teacher-features pass: a trained teacher over the dense clip of every clips-dataset row.

Modules: :mod:`.config` (FeaturesConfig), :mod:`.pipeline` (plan, Ray Data decode tasks + actor
pool, per-task atomic files, reconciliation: ``run_features``), :mod:`.predictor` (the actor),
:mod:`.store` (layout, fingerprint, resumability scan, readers: ``read_features``), :mod:`.cli`
(``egodistill features``). Contract: ``schemas/teacher_features.v1.json``.
"""
