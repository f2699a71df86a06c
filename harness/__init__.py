"""Harnesses run against a live gateway: fault injection (`python -m harness.faults`), soak."""
