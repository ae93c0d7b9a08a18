"""Stand-ins for the pretraining the seed paper assumes, trained here on separate synthetic pools.

EgoDistill keeps an ImageNet-pretrained ResNet-18 frozen as the student's f_I. Where those weights
cannot be fetched, a random f_I makes the benchmark meaningless, so ``egodistill pretrain-image``
trains the same ResNet-18 on a *separate* synthetic pool (its own seed: other rooms, placements,
colours and textures than any benchmark world) with a generic objective (which kitchen objects are
visible, and which object is at the fixation point; never the verbs) and saves a checkpoint that
``image_weights: /path`` loads. Modules: :mod:`.config` (settings, presets, checkpoint naming),
:mod:`.pool` (rendering the pool and its labels), :mod:`.task` (the training-engine task),
:mod:`.job` (driver: Ray Data pool, Ray Train, MLflow, checkpoint + json), :mod:`.cli`.
"""
