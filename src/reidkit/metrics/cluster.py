"""Pseudo-labels for unsupervised adaptation: k-reciprocal Jaccard distances, DBSCAN, must-link groups. Pure.

The recipe of the cluster-based domain adaptation methods (SpCL, cluster-contrast): embed every unlabelled
crop, measure each crop's distance to its neighbours by the Jaccard distance of their k-reciprocal neighbour
sets (Zhong et al. 2017; robust to hubs and to the embedding's scale), and cluster with DBSCAN, which finds the
number of identities itself and leaves unsure crops out (-1). Only the `neighbours` nearest crops of each crop
are compared, so memory and time grow with N × neighbours, not N².
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def nearest(features: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances) of each row's k nearest rows, itself first, nearest first."""
    x = np.ascontiguousarray(features, np.float32)
    n = len(x)
    k = min(k, n)
    index = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        d = 1.0 - x[start : start + chunk] @ x.T
        d[np.arange(len(d)), np.arange(start, start + len(d))] = -1.0  # itself first
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        rows = np.take_along_axis(d, part, axis=1)
        order = np.argsort(rows, axis=1, kind="stable")
        index[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        dist[start : start + chunk] = np.maximum(np.take_along_axis(rows, order, axis=1), 0.0)
    return index, dist


def jaccard_neighbours(
    features: np.ndarray, k1: int = 20, k2: int = 6, neighbours: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, Jaccard distances) of each crop to its `neighbours` nearest crops, from k-reciprocal sets.

    The weights of a crop's expanded k-reciprocal set are exp(-squared distance), normalised, then averaged over its k2
    nearest neighbours that are in that set (local query expansion; the original averages over the k2 nearest
    whatever they are, which drags a lone crop into the nearest cluster); d_J(i, j) = 1 - Σ min(V_i, V_j) /
    Σ max(V_i, V_j)."""
    n = len(features)
    k1 = max(1, min(k1, n - 1))
    index, dist = nearest(features, max(k1 + 1, neighbours))
    forward = index[:, : k1 + 1]
    half = forward[:, : int(np.around(k1 / 2)) + 1]
    weights: list[dict[int, float]] = []
    for i in range(n):
        reciprocal = _reciprocal(forward, i)
        expansion = set(reciprocal.tolist())
        for candidate in reciprocal:
            cand = _reciprocal(half, candidate)
            if len(np.intersect1d(cand, reciprocal, assume_unique=True)) > 2 / 3 * len(cand):
                expansion.update(cand.tolist())
        members = np.fromiter(expansion, np.int64)
        d = 2.0 - 2.0 * (features[members] @ features[i])  # squared Euclidean of unit vectors, as SpCL
        w = np.exp(-np.maximum(d, 0.0))
        weights.append(dict(zip(members.tolist(), (w / w.sum()).tolist())))
    if k2 > 1:  # local query expansion over the k2 nearest that are in the crop's own reciprocal set
        expanded = []
        for i in range(n):
            near = [j for j in index[i, :k2] if j in weights[i]]
            total: dict[int, float] = {}
            for j in near:
                for key, value in weights[j].items():
                    total[key] = total.get(key, 0.0) + value / len(near)
            expanded.append(total)
        weights = expanded
    jaccard = np.ones_like(dist)
    for i in range(n):
        wi = weights[i]
        for col, j in enumerate(index[i]):
            wj = weights[j]
            small, large = (wi, wj) if len(wi) < len(wj) else (wj, wi)
            shared = sum(min(v, large[key]) for key, v in small.items() if key in large)
            jaccard[i, col] = 1.0 - shared / max(2.0 - shared, 1e-12)
    return index, jaccard


def _reciprocal(rank: np.ndarray, i: int) -> np.ndarray:
    """The members of i's neighbour list that also list i."""
    candidates = rank[i]
    return candidates[np.any(rank[candidates] == i, axis=1)]


def dbscan(index: np.ndarray, distance: np.ndarray, eps: float = 0.6, min_samples: int = 4) -> np.ndarray:
    """DBSCAN labels (-1: noise) from each point's nearest neighbours and their distances (self included).

    Core points have at least `min_samples` neighbours within `eps` (themselves counted); clusters are the
    connected components of core points linked within eps; a border point joins its nearest core neighbour."""
    n = len(index)
    close = distance <= eps
    core = close.sum(axis=1) >= min_samples
    rows, cols = np.nonzero(close)
    targets = index[rows, cols]
    keep = core[rows] & core[targets]
    graph = coo_matrix((np.ones(int(keep.sum())), (rows[keep], targets[keep])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    labels = np.full(n, -1, np.int64)
    labels[core] = component[core]
    for i in np.nonzero(~core)[0]:
        near = [index[i, c] for c in np.nonzero(close[i])[0] if core[index[i, c]]]
        if near:
            labels[i] = labels[near[0]]
    return _compact(labels)


def must_link(labels: np.ndarray, groups: Sequence[Sequence[int]], min_size: int = 2) -> np.ndarray:
    """Labels with each group (a tracklet: crops of one person for sure) made one cluster: the clusters its
    members fell in are merged, its noise members join them, and an all-noise group of at least `min_size`
    becomes a cluster of its own."""
    labels = np.asarray(labels, np.int64).copy()
    parent = {int(v): int(v) for v in np.unique(labels) if v >= 0}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    next_label = int(labels.max()) + 1 if len(labels) else 0
    for group in groups:
        members = np.asarray(list(group), np.int64)
        found = sorted({int(v) for v in labels[members] if v >= 0})
        if not found:
            if len(members) >= min_size:
                labels[members] = next_label
                parent[next_label] = next_label
                next_label += 1
            continue
        root = find(found[0])
        for other in found[1:]:
            parent[find(other)] = root
        labels[members] = root
    merged = np.array([find(int(v)) if v >= 0 else -1 for v in labels], np.int64)
    return _compact(merged)


def _compact(labels: np.ndarray) -> np.ndarray:
    """Cluster labels renumbered 0..C-1 in order of first appearance; -1 stays."""
    out = np.full(len(labels), -1, np.int64)
    mapping: dict[int, int] = {}
    for i, v in enumerate(labels):
        if v >= 0:
            out[i] = mapping.setdefault(int(v), len(mapping))
    return out


def pseudo_labels(
    features: np.ndarray,
    groups: Sequence[Sequence[int]] = (),
    eps: float = 0.6,
    min_samples: int = 4,
    k1: int = 20,
    k2: int = 6,
) -> np.ndarray:
    """Cluster labels (-1: left out) of unit-norm features: k-reciprocal Jaccard distances, DBSCAN, then the
    must-link `groups` (tracklets) applied."""
    index, jaccard = jaccard_neighbours(np.asarray(features, np.float32), k1, k2)
    labels = dbscan(index, jaccard, eps, min_samples)
    return must_link(labels, groups) if groups else labels
