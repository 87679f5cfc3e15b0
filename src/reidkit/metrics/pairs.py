"""Pair verification metrics: OMZ pairwise accuracy, LFW 10-fold accuracy, TAR at a FAR."""

from __future__ import annotations

import numpy as np


def best_threshold(score: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold (`same` iff score >= t) with the highest accuracy on these pairs."""
    score = np.asarray(score, np.float64)
    same = np.asarray(same, bool)
    order = np.argsort(score)
    s, y = score[order], same[order]
    # threshold just above index i-1: predict same for s[i:]
    pos_above = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    neg_below = np.concatenate([[0], np.cumsum(~y)])
    correct = pos_above + neg_below
    distinct = np.concatenate([[True], s[1:] != s[:-1], [True]])
    correct = np.where(distinct, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        return float(s[0] - 1e-6)
    if i == len(s):
        return float(s[-1] + 1e-6)
    return float((s[i - 1] + s[i]) / 2)


def kfold_accuracy(score: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Mean and std of accuracy over folds, each thresholded at the best threshold of the other folds."""
    score, same, folds = np.asarray(score, np.float64), np.asarray(same, bool), np.asarray(folds)
    accs, thresholds = [], []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(score[~test], same[~test])
        thresholds.append(t)
        accs.append(np.mean((score[test] >= t) == same[test]))
    return float(np.mean(accs)), float(np.std(accs)), np.asarray(thresholds)


def pairwise_accuracy(score: np.ndarray, same: np.ndarray, subsets: int = 10, seed: int = 0) -> tuple[float, float]:
    """OMZ pairwise accuracy: pairs split into `subsets` random parts; threshold from the other parts."""
    n = len(score)
    folds = np.random.default_rng(seed).permutation(n) % subsets
    mean, std, _ = kfold_accuracy(score, same, folds)
    return mean, std


def lfw_folds(num_pairs: int, folds: int = 10) -> np.ndarray:
    """Fold index of each pair in LFW's pairs.txt order (consecutive blocks)."""
    return np.repeat(np.arange(folds), int(np.ceil(num_pairs / folds)))[:num_pairs]


def tar_at_far(score: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """True accept rate at the threshold giving false accept rate <= far; returns (TAR, threshold)."""
    score, same = np.asarray(score, np.float64), np.asarray(same, bool)
    neg = np.sort(score[~same])[::-1]
    if len(neg) == 0 or same.sum() == 0:
        return float("nan"), float("nan")
    allowed = int(np.floor(far * len(neg)))
    threshold = neg[allowed] if allowed < len(neg) else neg[-1] - 1e-9
    # accept strictly above the (allowed+1)-th highest negative
    return float(np.mean(score[same] > threshold)), float(threshold)


def read_lfw_pairs(path) -> list[tuple[str, int, str, int]]:
    """Parse LFW pairs.txt: (name_a, index_a, name_b, index_b); same pairs repeat the name."""
    from pathlib import Path

    from reidkit.errors import DatasetError

    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"pairs file not found: {p}")
    pairs = []
    for lineno, line in enumerate(p.read_text().splitlines(), start=1):
        parts = line.split()
        if len(parts) == 3:
            pairs.append((parts[0], int(parts[1]), parts[0], int(parts[2])))
        elif len(parts) == 4:
            pairs.append((parts[0], int(parts[1]), parts[2], int(parts[3])))
        elif lineno == 1 and len(parts) == 2:
            continue  # header: folds, pairs per fold
        elif parts:
            raise DatasetError(f"{p}:{lineno}: not an LFW pairs line: {line!r}")
    return pairs
