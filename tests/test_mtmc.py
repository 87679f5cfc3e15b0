"""Multi-camera evaluation: cross-camera IDF1 on constructed cases, and virtual cameras cut from PETS09."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.data.views import parse_views, view_rows
from reidkit.errors import InputError
from reidkit.metrics.mtmc import mtmc_metrics

pytest.importorskip("trackeval", reason="MOT metrics use TrackEval (installed by `make test`)")


def _walk(identity: int, frames: range, x: float = 10.0) -> np.ndarray:
    return np.array([[f, identity, x + 2 * f, 20, 30, 80, 1, -1, -1, -1] for f in frames], float)


def test_cross_camera_idf1_rewards_one_id_across_cameras():
    gt = {"a": _walk(1, range(1, 21)), "b": _walk(1, range(30, 50))}
    same = mtmc_metrics(gt, {"a": _walk(7, range(1, 21)), "b": _walk(7, range(30, 50))})
    split = mtmc_metrics(gt, {"a": _walk(7, range(1, 21)), "b": _walk(8, range(30, 50))})
    assert same["cross_camera"]["IDF1"] == pytest.approx(1.0)
    assert split["cross_camera"]["IDF1"] == pytest.approx(0.5)  # the second camera's frames are lost
    assert all(m["IDF1"] == pytest.approx(1.0) for m in split["cameras"].values())  # per camera, both perfect
    assert split["cross_camera"]["pred_identities"] == 2 and split["cross_camera"]["gt_identities"] == 1
    missing = mtmc_metrics(gt, {"a": _walk(7, range(1, 21))})
    assert missing["cameras"]["b"]["IDF1"] == 0.0 and missing["cross_camera"]["IDR"] == pytest.approx(0.5)


def test_views_and_membership():
    assert parse_views("0:0.6,0.4:1") == [(0.0, 0.6), (0.4, 1.0)]
    for bad in ("0:0.6", "0.6:0.2,0:1", "a:b,0:1", "0:1.2,0:1"):
        with pytest.raises(InputError):
            parse_views(bad)
    rows = np.array([[1, 1, 90, 0, 20, 50, 1], [1, 2, 50, 0, 20, 50, 1], [1, 3, 105, 0, 20, 50, 1]], float)
    left = view_rows(rows, 0, 100)  # person 1: 10 of 20 px inside (50 %): out; person 3: not inside
    assert left[:, 1].tolist() == [2.0]
    right = view_rows(rows, 60, 200)
    assert right[:, 1].tolist() == [1.0, 3.0] and right[0, 2] == 30 and right[1, 2] == 45


def test_split_views_then_eval_mtmc_on_pets09(data_root, tmp_path, capsys):
    seq = data_root / "PETS09-S2L1"
    out = tmp_path / "views"
    args = [
        "data",
        "split-views",
        seq / "vtest.mp4",
        seq / "gt/gt.txt",
        "-o",
        out,
        "--views",
        "0:0.6,0.4:1",
        "--scale",
        "0.625",
        "--max-frames",
        "60",
        "--json",
    ]
    assert main([str(a) for a in args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 60 and set(summary["views"]) == {"view1", "view2"}
    assert (out / "view1.mp4").is_file() and (out / "gt/view2.txt").is_file()
    # the ground truth scored against itself is perfect, across cameras too
    code = main(["eval", "mtmc", "--pred", str(out / "gt"), "--gt", str(out / "gt"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["cross_camera"]["IDF1"] == pytest.approx(1.0)
    assert main(["eval", "mtmc", "--pred", str(tmp_path / "nothing"), "--gt", str(out / "gt")]) == 2


def test_split_views_of_unannotated_footage_writes_views_and_layout_only(data_root, tmp_path, capsys):
    out = tmp_path / "views"
    video = data_root / "videos/people-detection.264"
    args = ["data", "split-views", str(video), "-o", str(out), "--views", "0:0.42,0.58:1", "--max-frames", "5"]
    assert main(args + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 5 and "boxes" not in summary["views"]["view1"]
    assert summary["views"]["view2"]["x0"] > summary["views"]["view1"]["x1"]  # a blind strip between
    assert (out / "view2.mp4").is_file() and (out / "cameras.toml").is_file() and not (out / "gt").exists()
