"""The partner gateway service: wires contracts, adapters, masking and SLA into one app."""

__version__ = "0.1.0"
