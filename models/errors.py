"""Errors the engine catches to disable predictions with a reason. Torch-free on purpose:
the engine must be able to import this when PyTorch itself is missing."""

from __future__ import annotations


class ModelsUnavailable(RuntimeError):
    """The models cannot run (PyTorch missing, or the requested device absent). The message
    is the user-facing reason predictions are disabled."""
