"""`reidkit eval` and `reidkit data from-mot` end to end on real data."""

import json

import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.metrics.pairs import read_lfw_pairs


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_reid_writes_report_and_figures(capsys, pku, tmp_path):
    code, text, _ = run(capsys, "eval", "reid", "--data", pku, "-o", tmp_path, "--json")
    report = json.loads(text)
    assert code == 0
    # the default: 0277 FP16 with re-ranking on PKU-Reid-dev, rank-1 0.781 / mAP 0.833 (docs/benchmarks.md)
    assert report["rerank"] and report["model"].endswith("0277")
    assert report["rank1"] == pytest.approx(0.78, abs=0.03) and report["mAP"] == pytest.approx(0.83, abs=0.03)
    assert json.loads((tmp_path / "report.json").read_text())["query"] == 96
    import cv2

    grid = cv2.imread(str(tmp_path / "ranks.png"))
    assert grid is not None and grid.shape[1] > 10 * 64
    assert cv2.imread(str(tmp_path / "cmc.png")) is not None


def test_eval_reid_ensemble_rerank_flip(capsys, pku, tmp_path):
    code, text, _ = run(
        capsys,
        "eval",
        "reid",
        "--data",
        pku,
        "-o",
        tmp_path,
        "--json",
        "--flip",
        "--rerank",
        "--model",
        "person-reidentification-retail-0277,person-reidentification-retail-0287",
    )
    report = json.loads(text)
    assert code == 0 and report["model"].count("+") == 1 and report["flip"] and report["rerank"]
    assert report["mAP"] > 0.6


def test_eval_pairs(capsys, pku):
    code, text, _ = run(capsys, "eval", "pairs", "--data", pku, "--json")
    report = json.loads(text)
    assert code == 0 and report["same_pairs"] > 0 and report["accuracy"] > 0.9 and report["auc"] > 0.9


def test_eval_lfw_protocol_on_real_faces_in_lfw_layout(capsys, data_root, tmp_path):
    """Real AT&T faces laid out like LFW, with a pairs.txt in LFW's format (10 folds of 30 + 30)."""
    import cv2

    att = data_root / "faces/att_faces"
    people = sorted(p.name for p in att.iterdir() if p.is_dir())[:20]
    root = tmp_path / "lfw"
    for person in people:
        (root / person).mkdir(parents=True)
        for k in range(1, 11):
            cv2.imwrite(str(root / person / f"{person}_{k:04d}.jpg"), cv2.imread(str(att / person / f"{k}.pgm")))
    rng = np.random.default_rng(0)
    lines = ["10\t30"]
    for _ in range(10):
        for _ in range(30):
            p = people[rng.integers(len(people))]
            a, b = rng.choice(np.arange(1, 11), 2, replace=False)
            lines.append(f"{p}\t{a}\t{b}")
        for _ in range(30):
            p, q = rng.choice(people, 2, replace=False)
            lines.append(f"{p}\t{rng.integers(1, 11)}\t{q}\t{rng.integers(1, 11)}")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines))
    assert len(read_lfw_pairs(pairs)) == 600
    code, text, _ = run(capsys, "eval", "lfw", "--pairs", pairs, "--images", root, "--json")
    report = json.loads(text)
    assert code == 0 and report["pairs"] == 600 and report["same_pairs"] == 300
    assert report["accuracy"] > 0.85


def test_eval_errors_are_one_line(capsys, tmp_path, data_root):
    code, _, err = run(capsys, "eval", "reid", "--data", tmp_path)
    assert code == 2 and "query/ is missing" in err
    code, _, err = run(capsys, "eval", "lfw", "--pairs", data_root / "lfw/pairs.txt", "--images", tmp_path)
    assert code == 2 and "missing" in err
    code, _, err = run(capsys, "data", "from-mot", tmp_path / "v.mp4", tmp_path / "gt.txt", "-o", tmp_path / "o")
    assert code == 2 and "not found" in err
