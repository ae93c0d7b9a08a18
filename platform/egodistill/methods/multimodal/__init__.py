"""Seed 001: a multimodal teacher ensemble (RGB, flow, audio, layout, IMU) distilled into an RGB-only student.

``sidecars`` computes the extra modalities once from the ingested clips (keyed by ``clip_id``),
``teachers`` trains one small teacher per modality on the engine and caches its logits as
teacher-features tables, ``ensemble`` weights them (uniform, per-sample, per-dataset), ``steps`` is
the student's engine task (KD from the ensemble, CE), ``calibration`` and ``report`` evaluate, and
``jobs`` runs it all (``egodistill multimodal``).
"""
