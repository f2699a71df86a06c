"""Benchmark harness: each `bench_*.py` module measures a subject against a baseline."""
