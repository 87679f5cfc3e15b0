"""Calibration data: labelled pairs from Market-format folders or CSV files, embedded and fitted."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reidkit.calibration_math import CalibrationReport, calibrate, label_pairs
from reidkit.data.market import read_split
from reidkit.embed import Embedder
from reidkit.errors import CalibrationError
from reidkit.models.catalog import Calibration

TRUE_WORDS = {"1", "true", "yes", "same", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "different", "n", "f"}


def labelled_pair_similarities(embed, paths, labels, cameras=None, cross_camera: bool = False):
    """(cosine similarities, same-identity flags) of every pair (i < j) of labelled images.

    `embed` maps a list of image paths to unit-norm rows (Embedder.embed, FaceReId.embed, ...).
    """
    vectors = embed([str(p) for p in paths])
    i, j, same = label_pairs(labels, cameras, cross_camera)
    return np.einsum("ij,ij->i", vectors[i], vectors[j]), same


def csv_pair_similarities(embed, path: Path):
    """(cosine similarities, same flags) of the labelled pairs of a CSV; each image embedded once."""
    rows = read_pairs_csv(Path(path))
    unique = sorted({p for a, b, _ in rows for p in (a, b)})
    index = {p: k for k, p in enumerate(unique)}
    vectors = embed([str(p) for p in unique])
    ia = np.array([index[a] for a, _, _ in rows])
    ib = np.array([index[b] for _, b, _ in rows])
    same = np.array([s for _, _, s in rows])
    return np.einsum("ij,ij->i", vectors[ia], vectors[ib]), same


def calibrate_from_market(
    embedder: Embedder, root: Path, split: str = "bounding_box_train", cross_camera: bool = False
) -> CalibrationReport:
    """Fit on every pair of a Market-format split (all same-id pairs, all different-id pairs)."""
    images = read_split(root, split)
    sims, same = labelled_pair_similarities(embedder.embed, images.paths, images.pids, images.camids, cross_camera)
    source = f"{Path(root).name}/{split}, {len(images)} images of {images.num_ids} ids, {embedder.precision}"
    return calibrate(sims, same, source=source)


def calibrate_from_folder(embed, root: Path, precision: str | None = None) -> CalibrationReport:
    """Fit on every pair of a labelled folder (a sub-folder per person)."""
    from reidkit.data.folders import read_labelled_folder

    paths, labels = read_labelled_folder(root)
    sims, same = labelled_pair_similarities(embed, paths, labels)
    source = f"{Path(root).name}, {len(paths)} faces of {len(set(labels))} people, {precision}"
    return calibrate(sims, same, source=source)


def read_pairs_csv(path: Path) -> list[tuple[Path, Path, bool]]:
    """(image_a, image_b, same) rows of a CSV; relative paths are taken from the CSV's folder.

    The first row may be a header; the label column accepts 1/0, true/false, yes/no, same/different.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"pairs file not found: {path}")
    rows: list[tuple[Path, Path, bool]] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CalibrationError(f"{path} is not a text CSV file (not UTF-8)") from None
    except OSError as exc:
        raise CalibrationError(f"cannot read {path}: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise CalibrationError(f"{path} is not a text CSV file (binary content)")
    try:
        parsed = list(enumerate(csv.reader(text.splitlines()), start=1))
    except csv.Error as exc:
        raise CalibrationError(f"{path} is not a valid CSV file: {exc}") from None
    for lineno, row in parsed:
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
    sims, same = csv_pair_similarities(embedder.embed, path)
    return calibrate(sims, same, source=f"{Path(path).name}, {len(same)} pairs, {embedder.precision}")


def save_calibration(path: Path, name: str, cal: Calibration) -> None:
    """Write (or add to) a calibration TOML file readable by `read_calibration_file`, atomically.

    Other models' calibrations in the file are kept; a file that is not TOML is refused, never overwritten.
    """
    import tomlkit

    from reidkit.files import atomic_write, prepare_output_file

    path = prepare_output_file(Path(path))
    doc = tomlkit.document()
    if path.exists():
        try:
            doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
            raise CalibrationError(
                f"{path} exists and is not a TOML calibration file ({exc}); choose another file"
            ) from None
    models = doc.setdefault("models", tomlkit.table(is_super_table=True))
    entry = tomlkit.table()
    entry["calibration"] = tomlkit.inline_table()
    entry["calibration"].update({"scale": round(cal.scale, 6), "bias": round(cal.bias, 6), "source": cal.source})
    models[name] = entry
    with atomic_write(path, "w") as fh:
        fh.write(tomlkit.dumps(doc))
