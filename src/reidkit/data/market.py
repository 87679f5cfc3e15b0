"""Read Market-1501-format folders: `PPPP_cC[sS_FFFFFF_NN].ext` names give person id and camera."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reidkit.errors import DatasetError
from reidkit.images import IMAGE_SUFFIXES

NAME_PATTERN = re.compile(r"^(-?\d+)_c(\d+)")
SPLITS = ("bounding_box_train", "query", "bounding_box_test")


@dataclass(frozen=True)
class ImageSet:
    """Image paths with their person ids and camera ids (parallel arrays)."""

    paths: tuple[Path, ...]
    pids: np.ndarray
    camids: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_ids(self) -> int:
        """Number of distinct person ids."""
        return int(np.unique(self.pids).size)


def parse_name(name: str) -> tuple[int, int]:
    """(person id, camera id) from a Market-1501 file name; DatasetError when it does not fit."""
    match = NAME_PATTERN.match(name)
    if match is None:
        raise DatasetError(
            f"malformed Market-1501 file name {name!r}: expected PPPP_cC..., e.g. 0002_c1s1_000451_03.jpg"
        )
    return int(match.group(1)), int(match.group(2))


def read_folder(folder: str | Path, keep_distractors: bool = True) -> ImageSet:
    """All images of one split folder, junk (id -1) dropped, distractors (id 0) kept if asked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder not found: {folder}")
    paths, pids, cams = [], [], []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        pid, cam = parse_name(path.name)
        if pid == -1 or (pid == 0 and not keep_distractors):
            continue
        paths.append(path)
        pids.append(pid)
        cams.append(cam)
    if not paths:
        raise DatasetError(f"no images in {folder} (expected .jpg/.png files named PPPP_cC...)")
    return ImageSet(tuple(paths), np.asarray(pids, np.int64), np.asarray(cams, np.int64))


def read_split(root: str | Path, split: str) -> ImageSet:
    """One split (`bounding_box_train`, `query` or `bounding_box_test`) of a Market-format dataset."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root not found: {root}")
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(f"{root} is not in Market-1501 layout: {split}/ is missing")
    return read_folder(folder, keep_distractors=split != "bounding_box_train")
