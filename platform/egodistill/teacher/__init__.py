"""The teacher: a heavy video model trained on dense clips decoded on the fly, then exported.

Modules: :mod:`.config` (job config and presets), :mod:`.dense` (clip geometry and decoding),
:mod:`.data` (Ray Data datasets of dense clips), :mod:`.augment` (clip augmentation),
:mod:`.classifiers` (teacher or single-frame baseline), :mod:`.step` (the engine task),
:mod:`.job` (the driver), :mod:`.export` (the trained-teacher directory), :mod:`.cli`
(``egodistill teacher``). Nothing heavy is imported here.
"""
