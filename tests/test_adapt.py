"""Unsupervised adaptation: pseudo-label clustering on constructed embeddings, and `reidkit adapt` on a small real
subset (one round changes the model; labels in file names are never read)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reidkit.metrics.cluster import dbscan, jaccard_neighbours, must_link, pseudo_labels

torch = pytest.importorskip("torch", reason="adaptation trains: pip install 'reidkit[train]'")


def _clusters(n_ids: int, per: int, noise: float, dim: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    ids = np.repeat(np.arange(n_ids), per)
    x = centres[ids] + noise * rng.standard_normal((len(ids), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), ids


def test_pseudo_labels_find_well_separated_identities():
    x, ids = _clusters(12, 8, 0.05)
    labels = pseudo_labels(x)
    assert len(set(labels.tolist()) - {-1}) == 12 and (labels >= 0).all()
    for c in set(labels.tolist()):  # every cluster is one identity, every identity one cluster
        assert len(set(ids[labels == c].tolist())) == 1
    index, jaccard = jaccard_neighbours(x)
    assert (index[:, 0] == np.arange(len(x))).all() and np.allclose(jaccard[:, 0], 0.0, atol=1e-6)


def test_outliers_stay_out_and_must_link_groups_merge():
    x, ids = _clusters(6, 8, 0.05)
    rng = np.random.default_rng(1)
    stray = rng.standard_normal((3, x.shape[1])).astype(np.float32)
    stray /= np.linalg.norm(stray, axis=1, keepdims=True)
    labels = pseudo_labels(np.vstack([x, stray]), k1=6, k2=3)  # neighbour sets sized for 51 crops
    assert (labels[-3:] == -1).all() and (labels[:-3] >= 0).all()
    # a tracklet spanning two clusters merges them; an all-noise tracklet becomes its own cluster
    merged = must_link(labels, [[0, 8], [48, 49]])
    assert merged[0] == merged[8] == merged[15] and merged[48] == merged[49] >= 0
    assert len(set(merged.tolist()) - {-1}) == 6
    index = np.array([[0, 1], [1, 0], [2, 0]])
    assert (dbscan(index, np.array([[0.0, 0.1], [0.0, 0.1], [0.0, 0.9]]), eps=0.5, min_samples=2) == [0, 0, -1]).all()


def test_adapt_one_round_on_real_crops_changes_the_model(data_root, tmp_path, capsys, models_root):
    from reidkit.cli.main import main
    from reidkit.train.loop import embed_set, load_run

    source = data_root / "CUHK03-dev" / "bounding_box_train"
    crops = tmp_path / "site"
    crops.mkdir()
    for k, path in enumerate(sorted(source.glob("*.jpg"))[:72]):  # the first identities; names anonymised
        shutil.copy(path, crops / f"crop{k:03d}.jpg")
    out = tmp_path / "adapted"
    args = [
        "adapt",
        "--images",
        crops,
        "--out",
        out,
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--json",
    ]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["rounds"][0]["clusters"] >= 2 and summary["final_run"]
    data = Path(summary["final_run"]).parent / "data" / "bounding_box_train"
    assert all(p.name[:5].isdigit() for p in data.iterdir())  # pseudo-labels only
    net, cfg, _ = load_run(summary["final_run"])
    from reidkit.train.adapt import crops_from_folder
    from reidkit.train.config import TrainConfig
    from reidkit.train.loop import build_net, starting_point

    start = build_net(starting_point(TrainConfig(data=str(out), out=str(out))), 1, out)
    sample = crops_from_folder(crops).as_set()
    before = embed_set(start, sample, torch.device("cpu"))
    after = embed_set(net, sample, torch.device("cpu"))
    assert float(np.mean(np.sum(before * after, axis=1))) < 0.999  # the model moved
    assert main(["adapt", "--images", str(crops), "--out", str(out)]) == 2  # an existing run is never overwritten
    # the adapt folder exports as its final round
    assert main(["export", str(out), "--json"]) == 0, capsys.readouterr().err
    exported = json.loads(capsys.readouterr().out)
    assert Path(exported["path"]) == out / "export" / "model.onnx" and exported["min_cosine"] > 0.999


def test_cameras_come_from_market_names_and_reach_the_pseudo_labelled_set(data_root, tmp_path):
    from reidkit.train.adapt import crops_from_folder, write_pseudo_set

    source = sorted((data_root / "CUHK03-dev" / "bounding_box_train").glob("*.jpg"))
    market, plain = tmp_path / "market", tmp_path / "plain"
    market.mkdir()
    plain.mkdir()
    chosen = source[:6] + source[-6:]  # both cameras of the first and last identities
    for k, path in enumerate(chosen):
        shutil.copy(path, market / f"9{k:03d}_c{1 + k % 2}s1_{k:06d}_00.jpg")  # ids made up: never read
        shutil.copy(path, plain / f"crop{k:03d}.jpg")
    crops = crops_from_folder(market)
    assert crops.cameras == [1 + k % 2 for k in range(12)]
    assert crops_from_folder(plain).cameras is None  # no camera in the names: one camera
    labels = np.array([0] * 6 + [1] * 5 + [-1])
    assert write_pseudo_set(crops, labels, tmp_path / "set") == 11
    written = sorted((p.name for p in (tmp_path / "set" / "bounding_box_train").iterdir()), key=lambda n: n[11:17])
    assert [n.split("_")[:2] for n in written] == [[f"{labels[k]:05d}", f"c{1 + k % 2}s1"] for k in range(11)]
    from reidkit.errors import TrainingError
    from reidkit.train.adapt import AdaptConfig, adapt

    with pytest.raises(TrainingError, match="unknown loss"):
        adapt(AdaptConfig(out=str(tmp_path / "o"), images=str(market), loss="arcface"))
