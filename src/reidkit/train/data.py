"""Training data: a Market-format split as a torch dataset, identity-balanced PK batches, augmentation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from reidkit.data.market import ImageSet, read_split
from reidkit.errors import DatasetError, ImageError, TrainingError
from reidkit.images import load_image
from reidkit.train.backbones import IMAGENET_MEAN, IMAGENET_STD

HEIGHT, WIDTH = 256, 128


@dataclass(frozen=True)
class Augment:
    """Training augmentation: horizontal flip, zero-pad + random crop, random erasing (bag of tricks)."""

    flip: float = 0.5
    pad: int = 10
    erase: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.4)
    erase_aspect: float = 0.3


def to_tensor(bgr: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 BGR -> 3×H×W float RGB normalised with ImageNet mean/std."""
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (rgb - mean) / std


def resize(bgr: np.ndarray) -> np.ndarray:
    """A crop resized to the training input size."""
    return cv2.resize(bgr, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)


def augment(bgr: np.ndarray, aug: Augment, gen: torch.Generator | None = None) -> torch.Tensor:
    """One augmented training tensor from a resized crop; randomness from torch (seeded per worker)."""
    rand = lambda: float(torch.rand((), generator=gen))  # noqa: E731
    if rand() < aug.flip:
        bgr = bgr[:, ::-1]
    if aug.pad:
        padded = cv2.copyMakeBorder(
            np.ascontiguousarray(bgr), aug.pad, aug.pad, aug.pad, aug.pad, cv2.BORDER_CONSTANT, value=0
        )
        top = int(torch.randint(0, 2 * aug.pad + 1, (), generator=gen))
        left = int(torch.randint(0, 2 * aug.pad + 1, (), generator=gen))
        bgr = padded[top : top + HEIGHT, left : left + WIDTH]
    x = to_tensor(bgr)
    if rand() < aug.erase:
        _, h, w = x.shape
        for _ in range(100):
            area = h * w * (aug.erase_area[0] + rand() * (aug.erase_area[1] - aug.erase_area[0]))
            aspect = float(np.exp(np.log(aug.erase_aspect) + rand() * (-2 * np.log(aug.erase_aspect))))
            eh, ew = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if 0 < eh < h and 0 < ew < w:
                top, left = int(rand() * (h - eh)), int(rand() * (w - ew))
                x[:, top : top + eh, left : left + ew] = 0.0  # the ImageNet mean after normalisation
                break
    return x


class ReidImages(Dataset):
    """Images of one split with contiguous class labels 0..C-1; augmented when `aug` is given."""

    def __init__(self, images: ImageSet, aug: Augment | None = None, indexed: bool = False):
        self.images = images
        self.aug = aug
        self.indexed = indexed  # items are (image, label, index): the index names the sample for a memory
        ids = np.unique(images.pids)
        self.labels = np.searchsorted(ids, images.pids)
        self.num_classes = len(ids)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | tuple[torch.Tensor, int, int]:
        path = self.images.paths[index]
        try:
            bgr = resize(load_image(path))
        except ImageError as exc:
            raise DatasetError(f"training image unusable: {exc}") from None
        x = augment(bgr, self.aug) if self.aug is not None else to_tensor(bgr)
        return (x, int(self.labels[index]), index) if self.indexed else (x, int(self.labels[index]))


class PKSampler(Sampler[list[int]]):
    """Batches of P identities × K images each (K drawn with replacement for identities with fewer)."""

    def __init__(self, labels: np.ndarray, batch_size: int, instances: int, seed: int = 0):
        if batch_size % instances:
            raise TrainingError(f"batch size {batch_size} is not a multiple of --instances {instances}")
        self.labels = np.asarray(labels)
        self.instances = instances
        self.ids_per_batch = batch_size // instances
        self.seed = seed
        self.epoch = 0
        if len(np.unique(self.labels)) < max(2, self.ids_per_batch):
            raise TrainingError(
                f"{len(np.unique(self.labels))} identities cannot fill a batch of {self.ids_per_batch} identities "
                f"× {instances} images (need at least {max(2, self.ids_per_batch)})"
            )

    def set_epoch(self, epoch: int) -> None:
        """Reseed for an epoch so that a resumed run draws the same batches."""
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng(self.seed * 1000 + self.epoch)
        chunks: dict[int, list[list[int]]] = {}
        for label in np.unique(self.labels):
            idx = np.flatnonzero(self.labels == label)
            if len(idx) < self.instances:
                idx = rng.choice(idx, self.instances, replace=True)
            idx = rng.permutation(idx)
            usable = len(idx) // self.instances * self.instances
            chunks[int(label)] = [idx[i : i + self.instances].tolist() for i in range(0, usable, self.instances)]
        batches = []
        while sum(1 for c in chunks.values() if c) >= self.ids_per_batch:
            live = [label for label, c in chunks.items() if c]
            chosen = rng.choice(live, self.ids_per_batch, replace=False)
            batches.append([i for label in chosen for i in chunks[int(label)].pop()])
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


def training_set(root: str | Path) -> ImageSet:
    """The `bounding_box_train` split, with errors that say what a training folder must hold."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"training data folder not found: {root}")
    if not (root / "bounding_box_train").is_dir():
        raise DatasetError(f"{root} has no bounding_box_train/ folder (Market-1501 layout expected)")
    images = read_split(root, "bounding_box_train")
    if images.num_ids < 2:
        raise DatasetError(f"{root}/bounding_box_train holds {images.num_ids} identity; training needs at least 2")
    return images


def has_test_split(root: str | Path) -> bool:
    """True when the folder has query/ and bounding_box_test/ for per-epoch evaluation."""
    return (Path(root) / "query").is_dir() and (Path(root) / "bounding_box_test").is_dir()
