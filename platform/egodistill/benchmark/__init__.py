"""Benchmarks of the paper's claims: ``reproduce`` (K seeds, intervals, paired tests) on a stated world."""
