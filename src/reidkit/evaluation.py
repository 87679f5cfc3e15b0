"""Run the evaluation protocols on real folders: embed with one model or an ensemble, then score."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reidkit.calibration import csv_pair_similarities, labelled_pair_similarities
from reidkit.data.market import ImageSet, read_split
from reidkit.embed import Embedder
from reidkit.errors import DatasetError
from reidkit.metrics.pairs import kfold_accuracy, lfw_folds, pairwise_accuracy, read_lfw_pairs, tar_at_far
from reidkit.metrics.reid import RankResult, cosine_distance, evaluate_rank, re_ranking
from reidkit.preprocess import l2_normalize
from reidkit.verify import logistic, roc_auc


class Ensemble:
    """One or more embedders whose unit-norm outputs are concatenated and renormalised."""

    def __init__(self, models: Sequence[str], precision: str | None = None, flip: bool = False, device: str = "CPU"):
        if not models:
            raise DatasetError("no model given")
        self.members = [Embedder(m, precision, device, flip=flip) for m in models]

    @property
    def name(self) -> str:
        """Member names joined with '+'."""
        return "+".join(m.name for m in self.members)

    @property
    def precision(self) -> str:
        """Member precisions joined with '+'."""
        return "+".join(str(m.precision) for m in self.members)

    def embed(self, images) -> np.ndarray:
        """Concatenated, renormalised embeddings."""
        parts = [m.embed(images) for m in self.members]
        return l2_normalize(np.concatenate(parts, axis=1)) if len(parts) > 1 else parts[0]


@dataclass
class ReidEvaluation:
    """Everything an eval reid run produced: the metrics plus what reports need."""

    result: RankResult
    query: ImageSet
    gallery: ImageSet
    distmat: np.ndarray = field(repr=False)
    model: str = ""
    precision: str = ""
    rerank: bool = False
    flip: bool = False
    seconds: float = 0.0


def evaluate_reid(
    data: str | Path,
    models: Sequence[str],
    precision: str | None = None,
    flip: bool = False,
    rerank: bool = False,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    device: str = "CPU",
) -> ReidEvaluation:
    """Market-1501 protocol on a Market-format folder (query/ vs bounding_box_test/)."""
    start = time.perf_counter()
    query, gallery = read_split(data, "query"), read_split(data, "bounding_box_test")
    ens = Ensemble(models, precision, flip, device)
    q = ens.embed([str(p) for p in query.paths])
    g = ens.embed([str(p) for p in gallery.paths])
    dist = cosine_distance(q, g)
    if rerank:
        dist = re_ranking(dist, cosine_distance(q, q), cosine_distance(g, g), k1, k2, lambda_value)
    result = evaluate_rank(dist, query.pids, gallery.pids, query.camids, gallery.camids)
    return ReidEvaluation(
        result, query, gallery, dist, ens.name, ens.precision, rerank, flip, time.perf_counter() - start
    )


def pair_report(
    similarity: np.ndarray, same: np.ndarray, folds: np.ndarray | None = None, calibration=None
) -> dict[str, float]:
    """Pairwise accuracy (k-fold thresholds), ROC AUC, TAR@FAR, and the calibrated decision's accuracy."""
    similarity, same = np.asarray(similarity, np.float64), np.asarray(same, bool)
    if folds is None:
        acc, std = pairwise_accuracy(similarity, same)
    else:
        acc, std, _ = kfold_accuracy(similarity, same, folds)
    report = {
        "pairs": int(len(same)),
        "same_pairs": int(same.sum()),
        "accuracy": acc,
        "accuracy_std": std,
        "auc": roc_auc(similarity, same),
        "tar@far=1e-2": tar_at_far(similarity, same, 1e-2)[0],
        "tar@far=1e-3": tar_at_far(similarity, same, 1e-3)[0],
    }
    if calibration is not None:
        decided = logistic(similarity, calibration) > 0.5
        report["calibrated_accuracy"] = float(np.mean(decided == same))
        report["calibrated_balanced_accuracy"] = float(0.5 * (decided[same].mean() + (~decided[~same]).mean()))
    return report


def evaluate_pairs(
    data: str | Path,
    models: Sequence[str],
    precision: str | None = None,
    flip: bool = False,
    cross_camera: bool = True,
    device: str = "CPU",
) -> dict[str, float]:
    """Pairwise verification over every pair of a Market folder's test images (query ∪ gallery)."""
    query, gallery = read_split(data, "query"), read_split(data, "bounding_box_test")
    paths = [str(p) for p in query.paths + gallery.paths]
    pids = np.concatenate([query.pids, gallery.pids])
    cams = np.concatenate([query.camids, gallery.camids])
    keep = pids > 0  # distractors have no pairs
    ens = Ensemble(models, precision, flip, device)
    sims, same = labelled_pair_similarities(
        ens.embed, [p for p, k in zip(paths, keep) if k], pids[keep], cams[keep], cross_camera
    )
    calibration = ens.members[0].spec.calibration if len(ens.members) == 1 and ens.members[0].spec else None
    report = pair_report(sims, same, calibration=calibration)
    report.update(model=ens.name, precision=ens.precision)
    return report


def lfw_image_path(root: Path, name: str, index: int) -> Path:
    """LFW layout: root/Name/Name_0001.jpg."""
    return root / name / f"{name}_{index:04d}.jpg"


def evaluate_lfw(pairs_file: str | Path, images: str | Path, embed) -> dict[str, float]:
    """LFW 10-fold protocol: accuracy with thresholds from the other nine folds, plus TAR@FAR.

    `embed` maps a list of image paths to unit-norm rows (e.g. a face pipeline's embed).
    """
    root = Path(images)
    if not root.is_dir():
        raise DatasetError(f"LFW image folder not found: {root}")
    pairs = read_lfw_pairs(pairs_file)
    paths = sorted({lfw_image_path(root, n, k) for a, ia, b, ib in pairs for n, k in ((a, ia), (b, ib))})
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} images of {pairs_file} are missing under {root}, e.g. {missing[0]}")
    index = {p: k for k, p in enumerate(paths)}
    vectors = embed([str(p) for p in paths])
    ia = np.array([index[lfw_image_path(root, a, i)] for a, i, _, _ in pairs])
    ib = np.array([index[lfw_image_path(root, b, j)] for _, _, b, j in pairs])
    sims = np.einsum("ij,ij->i", vectors[ia], vectors[ib])
    same = np.array([a == b for a, _, b, _ in pairs])
    return pair_report(sims, same, folds=lfw_folds(len(pairs)))


def evaluate_folder(root: str | Path, embed, calibration=None) -> dict[str, float]:
    """All-pairs verification on a labelled folder: ROC AUC, TAR@FAR=1e-2/1e-3, best and 10-fold accuracy."""
    from reidkit.data.folders import read_labelled_folder
    from reidkit.metrics.pairs import best_threshold

    paths, labels = read_labelled_folder(root)
    sims, same = labelled_pair_similarities(embed, paths, labels)
    report = pair_report(sims, same, calibration=calibration)
    t = best_threshold(sims, same)
    report["best_accuracy"] = float(np.mean((sims >= t) == same))
    report.update(images=len(paths), identities=int(np.unique(labels).size))
    return report


def evaluate_pairs_csv(csv_path: str | Path, embed, calibration=None) -> dict[str, float]:
    """Verification on a CSV of labelled pairs (image_a,image_b,label; paths relative to the CSV)."""
    sims, same = csv_pair_similarities(embed, Path(csv_path))
    return pair_report(sims, same, calibration=calibration)
