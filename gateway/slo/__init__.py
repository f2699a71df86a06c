"""The gateway side of SLAs: clocks on orders, the deadline sweep, call measurements, alerts."""
