"""The student floor every method builds on: inputs, the driver, the student export.

Modules: :mod:`.config` (StudentDataConfig, StudentJobBase), :mod:`.products` (the ``student-inputs``
stage: dense clips, f_I cache, join), :mod:`.join` (the Ray Data join written once), :mod:`.stream`
(lazy training/evaluation datasets), :mod:`.inputs` (frame selection), :mod:`.driver` (run one
method stage on Ray Train), :mod:`.export` (the trained student directory), :mod:`.cli`.
"""
