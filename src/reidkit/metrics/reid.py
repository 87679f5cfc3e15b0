"""Market-1501 protocol: CMC, mAP and mINP from a distance matrix, and k-reciprocal re-ranking."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.errors import DatasetError


@dataclass(frozen=True)
class RankResult:
    """CMC curve (index k = rank k+1), mAP, mINP and how many queries counted."""

    cmc: np.ndarray
    mAP: float
    mINP: float
    num_valid_queries: int
    ap: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def rank(self, k: int) -> float:
        """CMC at rank k (1-based)."""
        return float(self.cmc[min(k, len(self.cmc)) - 1])

    def as_dict(self, ranks: tuple[int, ...] = (1, 5, 10, 20)) -> dict[str, float]:
        """Rank-k, mAP, mINP as a flat JSON-able dict."""
        out = {f"rank{k}": self.rank(k) for k in ranks}
        out.update(mAP=self.mAP, mINP=self.mINP, queries=self.num_valid_queries)
        return out


def evaluate_rank(
    distmat: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    max_rank: int = 50,
    chunk: int = 512,
) -> RankResult:
    """Evaluate a Q×G distance matrix under the Market-1501 protocol.

    For each query, gallery items with the same id *and* the same camera are excluded; queries with no
    valid match are skipped. Ties in distance keep gallery order (stable sort), as torchreid does.
    """
    distmat = np.asarray(distmat)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    num_q, num_g = distmat.shape
    if (len(q_pids), len(g_pids)) != (num_q, num_g) or len(q_camids) != num_q or len(g_camids) != num_g:
        raise ValueError("distmat shape does not match the id/camera arrays")
    max_rank = min(max_rank, num_g)
    cmc_hits = np.zeros(max_rank, dtype=np.float64)
    aps: list[np.ndarray] = []
    inps: list[np.ndarray] = []
    for start in range(0, num_q, chunk):
        stop = min(start + chunk, num_q)
        order = np.argsort(distmat[start:stop], axis=1, kind="stable")
        gp, gc = g_pids[order], g_camids[order]
        qp, qc = q_pids[start:stop, None], q_camids[start:stop, None]
        match = gp == qp
        valid = ~(match & (gc == qc))
        hit = match & valid
        num_rel = hit.sum(axis=1)
        ok = num_rel > 0
        if not ok.any():
            continue
        hit, valid, num_rel = hit[ok], valid[ok], num_rel[ok]
        position = np.cumsum(valid, axis=1) - 1  # rank (0-based) among valid gallery items
        first = np.where(hit, position, num_g).min(axis=1)
        last = np.where(hit, position, -1).max(axis=1)
        ranks = np.arange(max_rank)
        cmc_hits += (first[:, None] <= ranks[None, :]).sum(axis=0)
        hits_so_far = np.cumsum(hit, axis=1)
        precision = np.where(hit, hits_so_far / (np.maximum(position, 0) + 1.0), 0.0)
        aps.append(precision.sum(axis=1) / num_rel)
        inps.append(num_rel / (last + 1.0))
    if not aps:
        raise DatasetError(
            "no query has a valid match in the gallery: every query's identity is missing from "
            "the gallery or seen there only by the query's own camera"
        )
    ap = np.concatenate(aps)
    return RankResult(cmc_hits / len(ap), float(ap.mean()), float(np.concatenate(inps).mean()), len(ap), ap)


def cosine_distance(query: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of unit-norm rows (Q×G)."""
    return 1.0 - np.asarray(query, np.float32) @ np.asarray(gallery, np.float32).T


def re_ranking(
    q_g_dist: np.ndarray,
    q_q_dist: np.ndarray,
    g_g_dist: np.ndarray,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray:
    """k-reciprocal re-ranking (Zhong et al., CVPR 2017): a new Q×G distance matrix.

    Combines the Jaccard distance of k-reciprocal neighbour sets (expanded, then smoothed over k2
    neighbours) with the original distance: d* = (1 - λ) d_J + λ d.
    """
    original = np.block([[q_q_dist, q_g_dist], [q_g_dist.T, g_g_dist]]).astype(np.float32)
    n = original.shape[0]
    num_q = q_g_dist.shape[0]
    original = np.power(original, 2)
    # a column of zeros (an image identical to every other one) stays zero instead of dividing 0 by 0
    original = original / np.maximum(np.max(original, axis=0, keepdims=True), np.finfo(np.float32).tiny)
    original = original.T  # row i: distances from i
    rank = np.argsort(original, axis=1, kind="stable")[:, : k1 + 1]
    half = int(np.around(k1 / 2.0))
    rank_half = rank[:, : half + 1]
    weights = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        forward = rank[i]
        reciprocal = forward[np.any(rank[forward] == i, axis=1)]
        expansion = reciprocal
        for candidate in reciprocal:
            cand_forward = rank_half[candidate]
            cand_recip = cand_forward[np.any(rank_half[cand_forward] == candidate, axis=1)]
            if len(np.intersect1d(cand_recip, reciprocal, assume_unique=True)) > 2.0 / 3 * len(cand_recip):
                expansion = np.union1d(expansion, cand_recip)
        w = np.exp(-original[i, expansion])
        weights[i, expansion] = w / w.sum()
    if k2 > 1:
        k2_rank = np.argsort(original, axis=1, kind="stable")[:, :k2]
        weights = weights[k2_rank].mean(axis=1)
    # Jaccard distance between the weighted neighbour sets of each query and each item
    min_sum = np.zeros((num_q, n), dtype=np.float32)
    for i in range(num_q):
        min_sum[i] = np.minimum(weights[i][None, :], weights).sum(axis=1)
    jaccard = 1.0 - min_sum / (2.0 - min_sum)
    final = jaccard * (1 - lambda_value) + original[:num_q] * lambda_value
    return final[:, num_q:]
