"""Association costs and assignment: IoU, cosine distance, fused gating, Hungarian (scipy)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of M and N (x0, y0, x1, y1) boxes: M×N."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of unit-norm rows, clipped to [0, 2]: M×N."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


def fuse_score(cost: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: similarity (1 - cost) weighted by detection confidence."""
    if cost.size == 0:
        return cost
    return 1.0 - (1.0 - cost) * np.asarray(scores)[None, :]


def gated_appearance_cost(
    iou_cost: np.ndarray, emb_cost: np.ndarray, proximity: float, appearance: float
) -> np.ndarray:
    """BoT-SORT fusion: appearance counts only for pairs close in space and alike; cost = min(IoU, appearance)."""
    emb = emb_cost.copy()
    emb[(emb > appearance) | (iou_cost > proximity)] = 1.0
    return np.minimum(iou_cost, emb)


def assign(cost: np.ndarray, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Minimum-cost matching with pairs above `threshold` refused; (matches, unmatched rows, unmatched cols)."""
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return [], list(range(rows)), list(range(cols))
    big = threshold + 1e5
    r, c = linear_sum_assignment(np.where(cost > threshold, big, cost))
    matches = [(i, j) for i, j in zip(r, c) if cost[i, j] <= threshold]
    matched_r = {i for i, _ in matches}
    matched_c = {j for _, j in matches}
    return matches, [i for i in range(rows) if i not in matched_r], [j for j in range(cols) if j not in matched_c]
