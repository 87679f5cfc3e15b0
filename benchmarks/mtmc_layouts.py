"""Cross-camera identity over many camera layouts: PETS09-S2L1 cut into 2, 3 and 4 virtual cameras (overlapping,
abutting, blind strips of several widths) with `reidkit data split-views`, plus people-detection.264 cut into two
and three views (no ground truth there: identities only). Each layout is tracked once with `reidkit track
--reassociate` and its cameras file; then, measured in the same run on the same tracklets:

- **online**: the identities the live runtime decides (what `reidkit track` writes by default);
- **re-associated**: the global re-association pass of `--reassociate`, at each threshold (with the hand-over
  bonus of the defaults, or `--handover-bonus`).

Every default is chosen on the mean over the PETS layouts, never on one of them; five more PETS layouts
(`HELD_OUT`) are only reported, to check that a choice carries over to cuts it was not made on. The column
"every online seed" is the pass as it was before online re-identifications after long gaps were re-judged
(`seed_gap_s` unbounded), measured in the same run.

With `--learn`, each layout is tracked a second time with the cameras file `reidkit cameras learn` writes from
its first (re-associated) run, and the online IDF1 of both runs is compared.

    python benchmarks/mtmc_layouts.py [--work DIR] [--thresholds 0.5,0.7,0.9] [--learn]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json, data_root, machine  # noqa: E402

from reidkit.cameras import load_layout  # noqa: E402
from reidkit.data.mot import read_mot_gt  # noqa: E402
from reidkit.metrics.mtmc import mtmc_metrics  # noqa: E402
from reidkit.models.catalog import get_spec, model_or_default  # noqa: E402
from reidkit.reassociate import ReassociationConfig, reassociate  # noqa: E402
from reidkit.track.tracklets import load_book, mot_rows  # noqa: E402

LAYOUTS = {
    "2 overlapping": "0:0.6,0.4:1",
    "2 abutting": "0:0.5,0.5:1",
    "2 blind 16%": "0:0.42,0.58:1",
    "2 blind 30%": "0:0.35,0.65:1",
    "3 overlapping": "0:0.4,0.3:0.7,0.6:1",
    "3 narrow blind": "0:0.3,0.35:0.65,0.7:1",
    "4 blind": "0:0.22,0.26:0.48,0.52:0.74,0.78:1",
}

HELD_OUT = {  # reported, never used to choose a default
    "2 blind 8%": "0:0.46,0.54:1",
    "3 abutting": "0:0.34,0.34:0.67,0.67:1",
    "4 overlapping": "0:0.3,0.23:0.53,0.47:0.77,0.7:1",
    "3 blind 10%": "0:0.27,0.37:0.63,0.73:1",
    "2 uneven blind": "0:0.3,0.45:1",
}

UNANNOTATED = {  # footage without ground truth: identities only
    "people-detection 2 blind 16%": "0:0.42,0.58:1",
    "people-detection 3 overlapping": "0:0.4,0.3:0.7,0.6:1",
}


def tracked(work: Path, name: str, views: str, cameras: Path | None = None, run: str = "run") -> Path:
    """Split the layout's footage into its views and track them (cached in `work`) with its cameras file (or
    `cameras`); the run's output folder."""
    d = work / name.replace(" ", "_").replace("%", "")
    out = d / run
    if not (out / "tracklets.npz").is_file():
        if name in UNANNOTATED:
            source = [data_root() / "videos/people-detection.264"]
        else:
            seq = data_root() / "PETS09-S2L1"
            source = [seq / "vtest.mp4", seq / "gt/gt.txt", "--scale", "0.625"]
        cli_json("data", "split-views", *source, "-o", d, "--views", views)
        videos = sorted(d.glob("view*.mp4"))
        start = time.perf_counter()
        summary = cli_json(
            "track",
            *videos,
            "-o",
            out,
            "--no-video",
            "--no-attributes",
            "--reassociate",
            "--cameras",
            cameras or d / "cameras.toml",
        )
        (out / "took.txt").write_text(f"{time.perf_counter() - start:.2f} {summary['reassociation']['seconds']}")
    return out


def truth(split: Path) -> dict:
    """Per view, the ground truth `data split-views` wrote into the layout's folder (empty without truth)."""
    return {p.stem: read_mot_gt(p, include_ignored=True) for p in sorted((split / "gt").glob("*.txt"))}


def score(labels: dict, book, gt: dict) -> dict:
    """Cross-camera metrics of the tracklets under `labels` (tracklet key -> global id)."""
    return mtmc_metrics(gt, mot_rows(book, labels, gt))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=None, help="Keep splits and runs here (re-used when present).")
    parser.add_argument("--thresholds", default="0.9,0.95,0.97,0.98,0.99")
    parser.add_argument("--learn", action="store_true", help="Also track again with learned camera links.")
    parser.add_argument("--camera-bias", action="store_true", help="Re-associate with camera-bias normalisation.")
    parser.add_argument(
        "--handover-bonus",
        type=float,
        default=ReassociationConfig().handover_bonus,
        help="Log-odds bonus for space-time hand-overs (0: off).",
    )
    args = parser.parse_args()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print(f"machine: {machine()}\n")
    calibration = get_spec(model_or_default(None, "person-reid-tracking")).calibration
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        config = replace(ReassociationConfig(), camera_bias=args.camera_bias, handover_bonus=args.handover_bonus)
        table = {
            name: run_layout(work, name, views, thresholds, calibration, config) for name, views in LAYOUTS.items()
        }
        print_table(table, thresholds)
        print("\nHeld-out layouts (not used to choose any default):\n")
        print_table(
            {name: run_layout(work, name, views, thresholds, calibration, config) for name, views in HELD_OUT.items()},
            thresholds,
        )
        if args.learn:
            print_learned(work, table)
        print("\nFootage without ground truth (global identities only):\n")
        print("| layout | online ids | " + " | ".join(f"P>{t}" for t in thresholds) + " | tracking s | pass s |")
        print("|---|---|" + "---|" * len(thresholds) + "---|---|")
        for name, views in UNANNOTATED.items():
            row = run_layout(work, name, views, thresholds, calibration, config)
            cells = " | ".join(str(row[t]["pred_identities"]) for t in thresholds)
            print(f"| {name} | {row['online']['pred_identities']} | {cells} | {row['took']:.0f} | {row['pass']:.2f} |")


def run_layout(work: Path, name: str, views: str, thresholds: list[float], calibration, config) -> dict:
    """Track one layout (cached) and score the online identities and the re-association at each threshold."""
    out = tracked(work, name, views)
    book = load_book(out / "tracklets.npz")
    layout = load_layout(out.parent / "cameras.toml")
    gt = truth(out.parent)
    took, _ = (float(v) for v in (out / "took.txt").read_text().split())

    def judged(labels: dict) -> dict:
        if gt:
            return score(labels, book, gt)["cross_camera"]
        return {"pred_identities": len(set(labels.values()))}

    row = {"online": judged({t.key: t.online_id for t in book.tracklets.values()}), "took": took, "pass": 0.0}
    for threshold in thresholds:
        started = time.perf_counter()
        result = reassociate(book, calibration, layout, replace(config, threshold=threshold))
        row["pass"] = max(row["pass"], time.perf_counter() - started)
        row[threshold] = judged(result.labels)
    row["every online seed"] = judged(
        reassociate(book, calibration, layout, replace(config, seed_gap_s=math.inf)).labels
    )
    return row


def print_learned(work: Path, table: dict) -> None:
    """Online IDF1 with the split's cameras file (homographies only) vs with links learned from the first run."""
    print("\n| layout | online IDF1, split's cameras file | online IDF1, learned links | links learned |")
    print("|---|---|---|---|")
    gains = []
    for name, views in LAYOUTS.items():
        first = tracked(work, name, views)
        learned = first.parent / "learned.toml"
        if not learned.is_file():
            cli_json("cameras", "learn", first, "-o", learned, "--force")
        again = tracked(work, name, views, cameras=learned, run="run_learned")
        book = load_book(again / "tracklets.npz")
        gt = truth(first.parent)
        idf1 = score({t.key: t.online_id for t in book.tracklets.values()}, book, gt)["cross_camera"]["IDF1"]
        before = table[name]["online"]["IDF1"]
        gains.append(idf1 - before)
        links = len(load_layout(learned).links) // 2
        print(f"| {name} | {before:.3f} | {idf1:.3f} | {links} |")
    print(f"| **mean change** | | {np.mean(gains):+.3f} | |")


def print_table(table: dict, thresholds: list[float]) -> None:
    """IDF1 (global identities) per layout and threshold, then the mean and the worst layout."""
    columns = [*thresholds, "every online seed"]
    header = " | ".join(
        f"P>{t}" if isinstance(t, float) else f"{t} (P>{ReassociationConfig().threshold})" for t in columns
    )
    print(f"| layout | true ids | online IDF1 (ids) | {header} | tracking s | pass s |")
    print("|---|---|---|" + "---|" * len(columns) + "---|---|")
    for name, row in table.items():
        cells = " | ".join(f"{row[t]['IDF1']:.3f} ({row[t]['pred_identities']})" for t in columns)
        o = row["online"]
        print(
            f"| {name} | {o['gt_identities']} | {o['IDF1']:.3f} ({o['pred_identities']}) | {cells} "
            f"| {row['took']:.0f} | {row['pass']:.2f} |"
        )
    keys = ["online", *columns]
    mean = {k: np.mean([row[k]["IDF1"] for row in table.values()]) for k in keys}
    worst = {k: np.min([row[k]["IDF1"] for row in table.values()]) for k in keys}
    off = {
        k: np.mean([abs(row[k]["pred_identities"] / row[k]["gt_identities"] - 1) for row in table.values()])
        for k in keys
    }
    cells = " | ".join(f"{mean[t]:.3f} (min {worst[t]:.3f}, ids ±{off[t]:.0%})" for t in columns)
    print(f"| **mean** | | {mean['online']:.3f} (min {worst['online']:.3f}, ids ±{off['online']:.0%}) | {cells} | | |")


if __name__ == "__main__":
    main()
