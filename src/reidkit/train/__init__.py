"""Training and fine-tuning of embedding models (needs the `train` extra: PyTorch)."""

from __future__ import annotations

import importlib.util

from reidkit.errors import TrainingError


def require_torch() -> None:
    """Raise a clear error when the training extra is not installed."""
    if importlib.util.find_spec("torch") is None:
        raise TrainingError("training needs PyTorch: pip install 'reidkit[train]' (CPU wheel: torch==2.13.0)")
