"""ReId: pair verification with a calibrated probability (the calibration maths is in calibration_math)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from reidkit.calibration_math import CalibrationReport, calibrate, fit_logistic, label_pairs, logistic, roc_auc
from reidkit.embed import Embedder
from reidkit.errors import InputError
from reidkit.images import ImageLike, as_list, is_single
from reidkit.models.catalog import Calibration

# Used only for a model with no calibration in the catalog and none given: the midpoint of the
# cosine range the OMZ re-id models produce for same/different pairs. Run `reidkit calibrate`.
UNCALIBRATED = Calibration(scale=10.0, bias=-5.0, source="uncalibrated default")


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two N×D arrays (rows need not be normalised)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    num = np.einsum("ij,ij->i", a, b)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-12)


def pair_similarity(embed, a, b, color: str = "bgr") -> float | np.ndarray:
    """Cosine similarity of two images, or item-wise of two lists (one image against a list broadcasts).

    `embed(images, color)` maps a list of images to unit-norm rows; both sides go in one call.
    """
    left, right = as_list(a), as_list(b)
    if len(left) != len(right) and 1 not in (len(left), len(right)):
        raise InputError(f"predict() compares lists item-wise: got {len(left)} and {len(right)} images")
    if not left or not right:
        raise InputError("predict() needs at least one image on each side")
    emb = embed(left + right, color)
    ea, eb = emb[: len(left)], emb[len(left) :]
    n = max(len(ea), len(eb))
    sims = cosine_similarity(np.broadcast_to(ea, (n, ea.shape[1])), np.broadcast_to(eb, (n, eb.shape[1])))
    return float(sims[0]) if is_single(a) and is_single(b) else sims


class Verifier:
    """Pair verification on top of `self.embed(images, color)` and `self.calibration`."""

    calibration: Calibration

    def embed(self, images, color: str = "bgr") -> np.ndarray:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def similarity(self, a, b, color: str = "bgr") -> float | np.ndarray:
        """Cosine similarity of two images (float) or of two lists, item-wise (array)."""
        return pair_similarity(self.embed, a, b, color)

    def predict(self, a, b, color: str = "bgr") -> float | np.ndarray:
        """Probability that a and b show the same identity (> 0.5 = same); lists are item-wise."""
        probs = logistic(self.similarity(a, b, color), self.calibration)
        return float(probs) if np.ndim(probs) == 0 else probs


class ReId(Verifier):
    """Is this the same person? Embeds two images and returns a calibrated probability."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        *,
        calibration: Calibration | None = None,
        embedder: Embedder | None = None,
        flip: bool = False,
    ) -> None:
        self.embedder = embedder or Embedder(model, precision, device, flip=flip)
        spec = self.embedder.spec
        self.calibration = calibration or (spec.calibration if spec else None) or UNCALIBRATED

    @property
    def threshold(self) -> float:
        """Cosine similarity at which predict() returns 0.5."""
        return self.calibration.threshold

    def embed(self, images: ImageLike | Sequence[ImageLike], color: str = "bgr") -> np.ndarray:
        """N×D unit-norm embeddings (see Embedder.embed)."""
        return self.embedder.embed(images, color)


__all__ = [
    "CalibrationReport",
    "ReId",
    "UNCALIBRATED",
    "Verifier",
    "calibrate",
    "cosine_similarity",
    "fit_logistic",
    "label_pairs",
    "logistic",
    "pair_similarity",
    "roc_auc",
]
