"""Camera-aware proxy memory: the contrastive loss of unsupervised re-id (cluster-contrast with camera proxies).

Every pseudo-identity (cluster) is split into one proxy per camera it was seen in (Wang et al., "Camera-aware
Proxies for Unsupervised Person Re-Identification", AAAI 2021). A memory holds one unit vector per proxy,
started at the proxy's mean feature and moved towards each batch's features by momentum — no classifier to
re-learn from scratch after every re-clustering, as cluster-contrast (Dai et al. 2021) does with one centroid
per cluster. Two terms:

- intra-camera: among the proxies of a crop's own camera, pick its own proxy (softmax at temperature τ), so
  that the loss does not ask a camera's look to tell people apart;
- inter-camera: pull the crop towards every proxy of its cluster in every camera, each against the `k` hardest
  proxies of other clusters — this is what teaches one person's look across cameras.

With one camera both terms are cluster-contrast against proxy = cluster.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from reidkit.errors import TrainingError


class CameraMemory:
    """The proxies of a labelled (pseudo-labelled) training set and their memory vectors."""

    def __init__(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        cameras: np.ndarray,
        temperature: float = 0.07,
        momentum: float = 0.2,
        hard_negatives: int = 50,
        inter_weight: float = 0.5,
        device: torch.device | str = "cpu",
    ):
        labels, cameras = np.asarray(labels), np.asarray(cameras)
        if not len(features) == len(labels) == len(cameras):
            raise TrainingError(f"memory: {len(features)} features, {len(labels)} labels, {len(cameras)} cameras")
        pairs, proxy = np.unique(np.stack([labels, cameras], 1), axis=0, return_inverse=True)
        if len(np.unique(pairs[:, 0])) < 2:
            raise TrainingError("a proxy memory needs at least 2 pseudo-identities")
        self.proxy_of = torch.as_tensor(proxy.reshape(-1), device=device)  # sample -> proxy
        self.proxy_label = torch.as_tensor(pairs[:, 0], device=device)
        self.proxy_camera = torch.as_tensor(pairs[:, 1], device=device)
        sums = np.zeros((len(pairs), features.shape[1]), np.float64)
        np.add.at(sums, proxy.reshape(-1), features)
        self.vectors = F.normalize(torch.as_tensor(sums, dtype=torch.float32, device=device), dim=1)
        self.temperature = temperature
        self.momentum = momentum
        self.hard_negatives = hard_negatives
        self.inter_weight = inter_weight

    def __len__(self) -> int:
        return len(self.vectors)

    def loss(self, features: torch.Tensor, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(intra-camera, inter-camera) losses of a batch of unit features of training samples `samples`."""
        proxy = self.proxy_of[samples]
        label, camera = self.proxy_label[proxy], self.proxy_camera[proxy]
        logits = features @ self.vectors.T / self.temperature  # B × proxies
        other_camera = self.proxy_camera[None, :] != camera[:, None]
        intra = F.cross_entropy(logits.masked_fill(other_camera, float("-inf")), proxy)
        positive = self.proxy_label[None, :] == label[:, None]
        k = min(self.hard_negatives, int((~positive).sum(1).min()))
        hardest = logits.masked_fill(positive, float("-inf")).topk(k, dim=1).values
        negatives = torch.logsumexp(hardest, dim=1, keepdim=True)
        per_positive = logits - torch.logaddexp(logits, negatives)  # log p(positive vs the hard negatives)
        inter = -(per_positive * positive).sum(1) / positive.sum(1)
        return intra, inter.mean()

    def total(self, intra: torch.Tensor, inter: torch.Tensor) -> torch.Tensor:
        """The training loss from its two terms."""
        return intra + self.inter_weight * inter

    @torch.no_grad()
    def update(self, features: torch.Tensor, samples: torch.Tensor) -> None:
        """Move each proxy seen in the batch towards the mean of its crops' features (momentum), unit norm."""
        proxy = self.proxy_of[samples]
        seen, where = torch.unique(proxy, return_inverse=True)
        means = torch.zeros(len(seen), features.shape[1], device=features.device).index_add_(
            0, where, features.detach().float()
        )
        means = F.normalize(means, dim=1)
        moved = self.momentum * self.vectors[seen] + (1.0 - self.momentum) * means
        self.vectors[seen] = F.normalize(moved, dim=1)
