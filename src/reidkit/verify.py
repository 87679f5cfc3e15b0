"""ReId: pair verification with a calibrated probability, and the logistic calibration behind it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reidkit.embed import DEFAULT_PERSON_MODEL, Embedder
from reidkit.errors import CalibrationError, ReidkitError
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


def logistic(similarity: np.ndarray, calibration: Calibration) -> np.ndarray:
    """Probability of same identity for cosine similarities."""
    z = calibration.scale * np.asarray(similarity, dtype=np.float64) + calibration.bias
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float64)


@dataclass(frozen=True)
class CalibrationReport:
    """A fitted calibration with what it was fitted on and how well it separates the pairs."""

    calibration: Calibration
    positives: int
    negatives: int
    balanced_accuracy: float
    auc: float


def fit_logistic(
    similarity: np.ndarray, same: np.ndarray, balanced: bool = True, l2: float = 1e-3, iters: int = 100
) -> Calibration:
    """Fit p = sigmoid(scale·s + bias) by Newton's method on (class-balanced) log-loss.

    Class balancing gives both classes equal total weight, so p = 0.5 sits where a same and a
    different pair are equally likely a priori; a small L2 term keeps separable data finite.
    """
    s = np.asarray(similarity, dtype=np.float64).ravel()
    y = np.asarray(same, dtype=np.float64).ravel()
    if s.shape != y.shape or s.size == 0:
        raise CalibrationError("calibration needs equally many similarities and labels, at least one")
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        raise CalibrationError(
            f"calibration needs both same and different pairs (got {n_pos} same, {n_neg} different)"
        )
    w = np.where(y > 0, 0.5 / n_pos, 0.5 / n_neg) if balanced else np.full_like(s, 1.0 / s.size)
    X = np.stack([s, np.ones_like(s)], axis=1)
    theta = np.zeros(2)
    for _ in range(iters):
        p = 0.5 * (1.0 + np.tanh(0.5 * (X @ theta)))
        grad = X.T @ (w * (p - y)) + l2 * np.array([theta[0], 0.0])
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + l2 * np.diag([1.0, 1e-9])
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return Calibration(scale=float(theta[0]), bias=float(theta[1]))


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction)."""
    from scipy.stats import rankdata

    score = np.asarray(score, dtype=np.float64).ravel()
    positive = np.asarray(positive, dtype=bool).ravel()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibrate(similarity: np.ndarray, same: np.ndarray, source: str = "") -> CalibrationReport:
    """Fit a calibration on labelled pair similarities and report its separation."""
    cal = fit_logistic(similarity, same)
    cal = Calibration(cal.scale, cal.bias, source)
    same = np.asarray(same, dtype=bool)
    decided = logistic(similarity, cal) > 0.5
    bal_acc = 0.5 * (decided[same].mean() + (~decided[~same]).mean())
    return CalibrationReport(cal, int(same.sum()), int((~same).sum()), float(bal_acc), roc_auc(similarity, same))


def label_pairs(labels: Sequence[int], cameras: Sequence[int] | None = None, cross_camera: bool = False):
    """Index pairs (i < j) of a labelled set and whether each is the same identity.

    With `cross_camera`, only pairs seen by different cameras are kept.
    """
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    if cross_camera and cameras is not None:
        cams = np.asarray(cameras)
        keep = cams[i] != cams[j]
        i, j = i[keep], j[keep]
    return i, j, labels[i] == labels[j]


def pair_similarity(embed, a, b, color: str = "bgr") -> float | np.ndarray:
    """Cosine similarity of two images, or item-wise of two lists (one image against a list broadcasts).

    `embed(images, color)` maps a list of images to unit-norm rows; both sides go in one call.
    """
    left, right = as_list(a), as_list(b)
    if len(left) != len(right) and 1 not in (len(left), len(right)):
        raise ReidkitError(f"predict() compares lists item-wise: got {len(left)} and {len(right)} images")
    if not left or not right:
        raise ReidkitError("predict() needs at least one image on each side")
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
        model: str | os.PathLike = DEFAULT_PERSON_MODEL,
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
