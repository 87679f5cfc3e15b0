"""Labelled image folders: one sub-folder per person, or a flat folder named `person.condition`/`person_N`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reidkit.errors import DatasetError

SKIP_NAMES = {"readme", "license", "licence"}


def _is_image(path: Path) -> bool:
    if not path.is_file() or path.name.startswith("."):
        return False
    stem = path.name.split(".")[0].lower()
    if stem in SKIP_NAMES or path.suffix.lower() in {".txt", ".md", ".csv", ".json"}:
        return False
    # Yale-style names (subject01.glasses) have no image suffix: anything not obviously text is tried
    return True


def flat_label(name: str) -> str:
    """Person label of a flat-folder file: the part before the first '.', '_' or '-'."""
    return re.split(r"[._-]", name, maxsplit=1)[0]


def read_labelled_folder(root: str | Path) -> tuple[list[Path], np.ndarray]:
    """(paths, labels) of a face/person set: sub-folder names, else file-name prefixes, are the labels."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"folder not found: {root}")
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths: list[Path] = []
    labels: list[str] = []
    if subdirs:
        for d in subdirs:
            for f in sorted(d.iterdir()):
                if _is_image(f):
                    paths.append(f)
                    labels.append(d.name)
    else:
        for f in sorted(root.iterdir()):
            if _is_image(f):
                paths.append(f)
                labels.append(flat_label(f.name))
    if len(set(labels)) < 2:
        raise DatasetError(f"{root} needs images of at least two people (sub-folder per person, or name prefixes)")
    return paths, np.asarray(labels)
