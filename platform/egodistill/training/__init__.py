"""The training engine every method runs on: Ray Train wiring and one epoch loop.

Modules: :mod:`.ray_wiring` (TorchTrainer from typed settings, checkpoint save/restore, DDP, AMP),
:mod:`.loop` (the epoch engine a method hands a model builder, a step and an evaluation hook),
:mod:`.optim` (one optimizer/schedule config), :mod:`.failure` (one failure-injection hook),
:mod:`.evaluator` (one per-segment evaluator), :mod:`.export` (one three-file model export).
Nothing heavy is imported here.
"""
