"""Exception types: every error a user can cause is a ReidkitError with an actionable message.

The families say what went wrong, so the CLI and the service can answer without reading messages:

    ReidkitError                  anything reidkit raises on purpose (CLI: one line, exit 2)
      InputError                  bad input: an image, a file, a value, a data set (HTTP 400)
        ImageError, DatasetError, CalibrationError
      ConfigError                 impossible settings or options (HTTP 400)
        TrainingError
      NotFoundError               a named thing does not exist: identity, sighting, gallery, model (HTTP 404)
        ModelNotFoundError
      ConflictError               the request clashes with what is stored or running (HTTP 409)
        BusyError                 a store is locked by another writer: try again (HTTP 503)
      ReadOnlyError               a write to something opened or mounted read-only (HTTP 403)
      ModelFileError, DownloadError, GalleryError  (HTTP 500-class problems of the installation: 400 here)
"""

from __future__ import annotations


class ReidkitError(Exception):
    """Base class of every error reidkit raises on purpose."""


class InputError(ReidkitError):
    """An input is unusable: missing, unreadable, malformed, out of range."""


class ConfigError(ReidkitError):
    """Settings or options that cannot work together or are out of range."""


class NotFoundError(ReidkitError):
    """A named thing (identity, sighting, gallery, model, file) does not exist."""


class ConflictError(ReidkitError):
    """The request clashes with what is stored: another model's embeddings, an existing output, a merge with
    itself."""


class BusyError(ConflictError):
    """A store is locked by another writer; the same request may succeed later."""


class ReadOnlyError(ReidkitError):
    """A write was asked of something that can only be read."""


class ModelNotFoundError(NotFoundError):
    """A model name is unknown, or its files are neither on disk nor downloadable."""


class ModelFileError(ReidkitError):
    """A model file is unreadable, corrupt, or does not match its catalog entry."""


class DownloadError(ReidkitError):
    """A download failed: offline, HTTP error, or checksum mismatch."""


class ImageError(InputError):
    """An image is missing, unreadable, empty, too small or too large, or of an unsupported shape."""


class CalibrationError(InputError):
    """Calibration data is unusable (too few pairs, a single class, a degenerate fit, malformed file)."""


class DatasetError(InputError):
    """A dataset folder is missing or malformed."""


class TrainingError(ConfigError):
    """Training or export cannot go on: unknown backbone, bad settings, unusable run or checkpoint."""


class GalleryError(ReidkitError):
    """A gallery operation is impossible: corrupt or foreign store, malformed export."""


class IdentityNotFoundError(NotFoundError, GalleryError):
    """No identity or sighting with that id."""


class GalleryNotFoundError(NotFoundError, GalleryError):
    """No gallery at that path or URL (only enrol, index and import create one)."""


class GalleryReadOnlyError(ReadOnlyError, GalleryError):
    """The gallery can be read but not written (file or folder permissions, read-only mount)."""


class GalleryBusyError(BusyError, GalleryError):
    """Another writer holds the gallery's lock."""


class ModelMismatchError(ConflictError, GalleryError):
    """Embeddings of another model (or size) than the gallery holds."""


def http_status(exc: ReidkitError) -> int:
    """The HTTP status of an error, by its family."""
    for cls, status in (
        (NotFoundError, 404),
        (BusyError, 503),
        (ConflictError, 409),
        (ReadOnlyError, 403),
        (InputError, 400),
        (ConfigError, 400),
    ):
        if isinstance(exc, cls):
            return status
    return 400
