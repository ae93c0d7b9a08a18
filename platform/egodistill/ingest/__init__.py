"""Ingest: decode each video of a clip manifest once (PyAV, seek-aware) into Parquet clip rows.

Modules: ``config`` (IngestConfig), ``decode`` (sparse seek-aware decoding), ``frames`` (resize,
crop, JPEG), ``worker`` (one video -> rows + quarantine), ``store`` (layout, atomic files, scan,
read back), ``pipeline`` (Ray Data job, resumability, summary), ``cli`` (`egodistill ingest`).
"""
