"""Calibration maths, pure: the logistic map from cosine similarity to P(same identity), its fit, ROC AUC.

NumPy (and SciPy's rankdata) in, numbers out: no model, no file. `calibration.py` gathers labelled pairs with
models; `models/catalog.py` reads and writes the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reidkit.errors import CalibrationError
from reidkit.models.catalog import Calibration

MIN_SCALE = 0.1  # a fitted slope below this separates nothing: p would hardly move with similarity


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
        raise CalibrationError(f"calibration needs both same and different pairs (got {n_pos} same, {n_neg} different)")
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
    check_fit(cal, similarity, same)
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


def check_fit(cal: Calibration, similarity: np.ndarray, same: np.ndarray) -> None:
    """Refuse a degenerate fit: a slope that is not clearly positive (same pairs no more similar than different
    ones, or contradictory labels) would map every similarity to about the same probability."""
    if not (np.isfinite(cal.scale) and np.isfinite(cal.bias)) or cal.scale < MIN_SCALE:
        same = np.asarray(same, dtype=bool)
        s = np.asarray(similarity, dtype=np.float64)
        raise CalibrationError(
            f"these pairs cannot calibrate the model: same-identity pairs are not more similar than different "
            f"ones (mean cosine {s[same].mean():.3f} vs {s[~same].mean():.3f}; fitted slope {cal.scale:.3g}). "
            "Check the labels: are they swapped or contradictory?"
        )
