"""Minimal applications that serve as baselines for the benchmarks."""
