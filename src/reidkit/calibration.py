"""Calibration data: labelled pairs from Market-format folders or CSV files, embedded and fitted."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reidkit.data.market import read_split
from reidkit.embed import Embedder
from reidkit.errors import CalibrationError
from reidkit.models.catalog import Calibration, format_calibration
from reidkit.verify import CalibrationReport, calibrate, label_pairs

TRUE_WORDS = {"1", "true", "yes", "same", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "different", "n", "f"}


def calibrate_from_market(
    embedder: Embedder, root: Path, split: str = "bounding_box_train", cross_camera: bool = False
) -> CalibrationReport:
    """Fit on every pair of a Market-format split (all same-id pairs, all different-id pairs)."""
    images = read_split(root, split)
    vectors = embedder.embed(list(images.paths))
    i, j, same = label_pairs(images.pids, images.camids, cross_camera)
    sims = np.einsum("ij,ij->i", vectors[i], vectors[j])
    source = f"{Path(root).name}/{split}, {len(images)} images of {images.num_ids} ids, {embedder.precision}"
    return calibrate(sims, same, source=source)


def read_pairs_csv(path: Path) -> list[tuple[Path, Path, bool]]:
    """(image_a, image_b, same) rows of a CSV; relative paths are taken from the CSV's folder.

    The first row may be a header; the label column accepts 1/0, true/false, yes/no, same/different.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"pairs file not found: {path}")
    rows: list[tuple[Path, Path, bool]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 3:
                raise CalibrationError(f"{path}:{lineno}: expected image_a,image_b,label")
            label = row[2].strip().lower()
            a, b = (Path(c.strip()) for c in row[:2])
            a, b = (p if p.is_absolute() else path.parent / p for p in (a, b))
            if lineno == 1 and (label not in TRUE_WORDS | FALSE_WORDS or not (a.exists() or b.exists())):
                continue  # a header row
            if label not in TRUE_WORDS | FALSE_WORDS:
                raise CalibrationError(f"{path}:{lineno}: label {row[2]!r} is not same/different")
            rows.append((a, b, label in TRUE_WORDS))
    if not rows:
        raise CalibrationError(f"{path}: no labelled pairs")
    return rows


def calibrate_from_pairs(embedder: Embedder, path: Path) -> CalibrationReport:
    """Fit on the labelled pairs of a CSV file."""
    rows = read_pairs_csv(path)
    unique = sorted({p for a, b, _ in rows for p in (a, b)})
    index = {p: k for k, p in enumerate(unique)}
    vectors = embedder.embed([str(p) for p in unique])
    ia = np.array([index[a] for a, _, _ in rows])
    ib = np.array([index[b] for _, b, _ in rows])
    same = np.array([s for _, _, s in rows])
    sims = np.einsum("ij,ij->i", vectors[ia], vectors[ib])
    return calibrate(sims, same, source=f"{Path(path).name}, {len(rows)} pairs, {embedder.precision}")


def save_calibration(path: Path, name: str, cal: Calibration) -> None:
    """Write (or add to) a calibration TOML file readable by `read_calibration_file`."""
    path = Path(path)
    header = f'[models."{name}"]'
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if header in lines:
        k = lines.index(header)
        del lines[k : k + 2]
    lines += [header, format_calibration(cal)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
