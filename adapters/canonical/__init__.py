"""The published canonical partner API, dialect ``canonical``: partners without an adapter."""

from __future__ import annotations

from adapters.canonical.outbound import CanonicalApi

__all__ = ["CanonicalApi"]
