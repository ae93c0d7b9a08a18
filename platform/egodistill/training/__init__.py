"""Training: Ray Train wiring shared by all jobs, the teacher job and its per-worker loop.

Modules: :mod:`.ray_wiring` (TorchTrainer from typed settings, checkpoint save/restore, DDP, AMP),
:mod:`.config` (the teacher job's config and presets), :mod:`.dense` (dense clip geometry and
decoding), :mod:`.data` (Ray Data datasets of dense clips), :mod:`.augment` (clip augmentation),
:mod:`.classifiers` (teacher or single-frame baseline), :mod:`.teacher_loop` (per-worker loop),
:mod:`.teacher` (the job's driver), :mod:`.export` (trained-teacher directory),
:mod:`.teacher_cli` (``egodistill teacher``). Nothing heavy is imported here.
"""
