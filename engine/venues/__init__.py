"""Market data venues: sim, replay and live all yield the same engine events."""
