"""Re-id losses: label-smoothed cross-entropy and batch-hard triplet (Hermans et al. 2017)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def smoothed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    """Cross-entropy against (1-ε)·one-hot + ε/C targets."""
    return F.cross_entropy(logits, labels, label_smoothing=epsilon)


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """For each anchor: max(0, hardest positive distance - hardest negative distance + margin), averaged.

    Euclidean distances between the raw (pre-BNNeck) features, as in the strong baseline.
    """
    dist = torch.cdist(features, features).clamp_min(1e-12)
    same = labels[:, None] == labels[None, :]
    hardest_pos = torch.where(same, dist, torch.zeros_like(dist)).max(dim=1).values
    hardest_neg = torch.where(same, torch.full_like(dist, float("inf")), dist).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()
