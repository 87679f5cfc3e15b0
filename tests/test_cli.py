"""The CLI end to end (in-process): outputs, JSON, and one-line errors with exit code 2."""

import json

import numpy as np
import pytest

from reidkit.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_embed_writes_npy(capsys, tmp_path, market_pair):
    out = tmp_path / "e.npy"
    code, text, _ = run(
        capsys, "embed", *map(str, market_pair), "-o", str(out), "--model", "person-reidentification-retail-0288"
    )
    assert code == 0 and "2 embeddings of size 256" in text
    arr = np.load(out)
    assert arr.shape == (2, 256)


def test_verify_json(capsys, market_pair):
    code, text, _ = run(capsys, "verify", *map(str, market_pair), "--json")
    result = json.loads(text)
    assert code == 0 and result["same"] is True and 0.5 < result["probability"] <= 1.0
    assert result["model"] == "person-reidentification-retail-0277"


def test_verify_text(capsys, market_pair):
    code, text, _ = run(capsys, "verify", *map(str, market_pair))
    assert code == 0 and "same person" in text


def test_models_list_and_info(capsys, models_root):
    code, text, _ = run(capsys, "models", "list", "--json")
    rows = json.loads(text)
    assert code == 0 and any(r["name"] == "person-reidentification-retail-0287" and "FP32" in r["local"] for r in rows)
    code, text, _ = run(capsys, "models", "info", "face-reidentification-retail-0095", "--json")
    info = json.loads(text)
    assert info["input"]["height"] == 128 and info["output"]["size"] == 256


def test_calibrate_from_pairs_csv(capsys, tmp_path, pku):
    q = pku / "query"
    rows = ["a,b,same"]
    pids = sorted({p.name[:4] for p in q.glob("*.png")})[:6]
    for pid in pids:
        rows.append(f"{q}/{pid}_c1s1_000001_00.png,{q}/{pid}_c2s1_000001_00.png,1")
        rows.append(f"{q}/{pid}_c1s1_000005_00.png,{q}/{pid}_c2s1_000005_00.png,yes")
    for a, b in zip(pids, pids[1:]):
        rows.append(f"{q}/{a}_c1s1_000001_00.png,{q}/{b}_c2s1_000001_00.png,0")
        rows.append(f"{q}/{a}_c1s1_000005_00.png,{q}/{b}_c2s1_000001_00.png,different")
    csv = tmp_path / "pairs.csv"
    csv.write_text("\n".join(rows))
    out = tmp_path / "cal.toml"
    code, text, _ = run(capsys, "calibrate", "--pairs", str(csv), "-o", str(out), "--json")
    result = json.loads(text)
    assert code == 0 and result["positives"] == 12 and result["negatives"] == 10
    assert result["scale"] > 0
    code, text, _ = run(
        capsys,
        "verify",
        str(q / f"{pids[0]}_c1s1_000001_00.png"),
        str(q / f"{pids[0]}_c2s1_000001_00.png"),
        "--calibration",
        str(out),
        "--json",
    )
    verdict = json.loads(text)
    import math

    import tomllib

    cal = tomllib.loads(out.read_text())["models"][verdict["model"]]["calibration"]
    expected = 1 / (1 + math.exp(-(cal["scale"] * verdict["similarity"] + cal["bias"])))
    assert code == 0 and verdict["probability"] == pytest.approx(expected, abs=1e-4)  # the file's calibration


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "missing-a.jpg", "missing-b.jpg"], "image not found"),
        (["verify", "{corrupt}", "{corrupt}"], "cannot decode"),
        (["verify", "{empty}", "{empty}"], "empty"),
        (["verify", "{a}", "{a}", "--model", "no-such-model"], "unknown model"),
        (["verify", "{a}", "{a}", "--model", "{badmodel}"], "cannot read model"),
        (["embed", "{a}", "-o", "x.npy", "--model", "person-detection-retail-0013"], "not an embedding model"),
        (["models", "info", "nope"], "unknown model"),
        (["calibrate", "--model", "person-reidentification-retail-0288"], "exactly one of"),
        (["calibrate", "--data", "{missing_dir}"], "not found"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, tmp_path, market_pair, models_root, args, message):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"GIF89a not really")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    badmodel = tmp_path / "bad.xml"
    badmodel.write_text("<net>")
    badmodel.with_suffix(".bin").write_bytes(b"")
    subs = {
        "corrupt": corrupt,
        "empty": empty,
        "a": market_pair[0],
        "badmodel": badmodel,
        "missing_dir": tmp_path / "nowhere",
    }
    argv = [a.format(**subs) for a in args]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_usage_error_exit_2(capsys):
    assert main(["verify"]) == 2
    assert "Missing argument" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert "reidkit" in capsys.readouterr().out
