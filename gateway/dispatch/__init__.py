"""Outbound dispatch: OEM app -> routing -> masking -> adapter -> partner, with resilience."""
