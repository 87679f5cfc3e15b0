"""Building PETS09-reid from the real video + MOT ground truth, and the pure steps behind it."""

import json

import numpy as np
import pytest

from reidkit.data.market import read_split
from reidkit.data.mot import (
    MotRecipe,
    build_from_mot,
    choose_queries,
    plan_crops,
    pseudo_cameras,
    read_mot_gt,
    split_train_ids,
)
from reidkit.errors import DatasetError

PETS_RECIPE = MotRecipe(stride=5, min_height=32, segments=2, block_frames=100, train_ids=0.3, scale=0.625)


@pytest.fixture(scope="session")
def pets_reid(data_root, tmp_path_factory):
    """PETS09-reid, built once per test run from the shared video and ground truth."""
    seq = data_root / "PETS09-S2L1"
    out = tmp_path_factory.mktemp("pets") / "PETS09-reid"
    summary = build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", out, PETS_RECIPE, progress=False)
    return out, summary


def test_pets_reid_layout_and_split(pets_reid):
    root, summary = pets_reid
    train, query, gallery = (read_split(root, s) for s in ("bounding_box_train", "query", "bounding_box_test"))
    assert train.num_ids == 6 and not set(train.pids) & set(gallery.pids)
    assert set(query.pids) <= set(gallery.pids)
    assert set(query.camids) == {1, 2}
    # one query per id per pseudo-camera
    assert len(query) == 2 * query.num_ids
    assert summary["counts"]["query"] == len(query)
    assert json.loads((root / "recipe.json").read_text())["recipe"]["block_frames"] == 100


def test_pets_reid_crops_are_people_of_the_right_size(pets_reid, reid):
    root, _ = pets_reid
    from reidkit.images import load_image

    query = read_split(root, "query")
    heights = [load_image(p).shape[0] for p in query.paths]
    assert min(heights) >= 32 and max(heights) <= 360
    # the crops are the GT people: the same id across the two pseudo-cameras looks alike
    vectors = reid.embed(list(query.paths))
    sims = vectors @ vectors.T
    same = (query.pids[:, None] == query.pids[None]) & ~np.eye(len(query), dtype=bool)
    diff = query.pids[:, None] != query.pids[None]
    assert sims[same].mean() > sims[diff].mean() + 0.1


def test_refuses_to_overwrite_and_catches_wrong_scale(pets_reid, data_root, tmp_path):
    root, _ = pets_reid
    seq = data_root / "PETS09-S2L1"
    with pytest.raises(DatasetError, match="not empty"):
        build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", root, PETS_RECIPE, progress=False)
    with pytest.raises(DatasetError, match="--scale"):
        build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", tmp_path / "x", MotRecipe(), progress=False)


def test_bad_ground_truth_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_mot_gt(tmp_path / "gt.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("frame;id;x\n1;2;3\n")
    with pytest.raises(DatasetError, match="MOTChallenge"):
        read_mot_gt(bad)


def test_pseudo_cameras():
    frames = np.array([1, 50, 100, 101, 250, 300])
    assert pseudo_cameras(frames, 300, 2, None).tolist() == [1, 1, 1, 1, 2, 2]
    assert pseudo_cameras(frames, 300, 2, 100).tolist() == [1, 1, 1, 2, 1, 1]
    assert pseudo_cameras(frames, 300, 3, 100).tolist() == [1, 1, 1, 2, 3, 3]


def test_split_and_queries():
    pids = np.array([1, 1, 1, 1, 2, 2, 3, 3])
    assert len(split_train_ids(pids, 0.34, seed=1)) == 1
    cams = np.array([1, 1, 2, 2, 1, 1, 1, 2])
    frames = np.arange(8)
    q = choose_queries(pids, cams, frames)
    assert q.tolist() == [True, False, True, False, False, False, True, True]
    with pytest.raises(DatasetError):
        split_train_ids(pids, 1.0)


def test_plan_clips_or_drops_border_boxes():
    gt = np.array([[1, 1, -10, 0, 40, 100, 1], [1, 2, 10, 10, 20, 50, 1], [1, 3, 10, 10, 20, 5, 1]], float)
    plan = plan_crops(gt, 100, 100, 10, MotRecipe(min_height=10, segments=1), 1.0)
    assert plan["pids"].tolist() == [1, 2] and plan["boxes"][0].tolist() == [0, 0, 30, 100]
    plan = plan_crops(gt, 100, 100, 10, MotRecipe(min_height=10, segments=1, clip=False), 1.0)
    assert plan["pids"].tolist() == [2]
