"""PyTorch models, replay memory, trainer and checkpoints. torch is imported lazily by callers."""
