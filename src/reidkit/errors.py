"""Exception types: every error a user can cause is a ReidkitError with an actionable message."""

from __future__ import annotations


class ReidkitError(Exception):
    """Base class of every error reidkit raises on purpose."""


class ModelNotFoundError(ReidkitError):
    """A model name is unknown, or its files are neither on disk nor downloadable."""


class ModelFileError(ReidkitError):
    """A model file is unreadable, corrupt, or does not match its catalog entry."""


class DownloadError(ReidkitError):
    """A download failed: offline, HTTP error, or checksum mismatch."""


class ImageError(ReidkitError):
    """An image is missing, unreadable, empty, or of an unsupported shape."""


class CalibrationError(ReidkitError):
    """Calibration data is unusable (too few pairs, a single class, malformed file)."""


class DatasetError(ReidkitError):
    """A dataset folder is missing or malformed."""


class TrainingError(ReidkitError):
    """Training or export cannot go on: unknown backbone, bad settings, unusable run or checkpoint."""
