"""Widgets of the main screen; each renders a slice of an EngineSnapshot."""
