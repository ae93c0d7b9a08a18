"""Capacity planning: per-clip costs measured here (:mod:`.measure`) projected to a corpus on a cluster (:mod:`.model`)."""
