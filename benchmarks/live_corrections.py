"""What live corrections do to the identities a live consumer sees: each PETS09 layout of mtmc_layouts.py
(the same views, split once into `--work`) is tracked as a live run would be, `reidkit track --online
--live-corrections 5`, and its MOT files and `identity_merged` events are scored three ways (cross-camera IDF1,
measured in the same run):

- **online**: the ids as the runtime gave them (no correction);
- **as shown**: each box under its id at the moment it was emitted, the merges announced before it applied
  (what a screen or an MQTT consumer showed at the time);
- **at the end**: every box under its id after all the run's merges (what the gallery holds when the run stops).

Plus how soon merges came after the newest merged track began (`lag_s`) and the time spent in passes.

    python benchmarks/live_corrections.py [--work DIR] [--every 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json, machine  # noqa: E402
from mtmc_layouts import HELD_OUT, LAYOUTS, tracked, truth  # noqa: E402

from reidkit.metrics.mtmc import mtmc_metrics  # noqa: E402
from reidkit.reassociate import survivor  # noqa: E402


def live_run(work: Path, name: str, views: str, every: float) -> Path:
    """The layout's views (split by mtmc_layouts, cached) tracked with live corrections (cached in `live/`)."""
    split = tracked(work, name, views).parent
    out = split / f"live_{every:g}"
    if not (out / "summary.json").is_file():
        videos = sorted(split.glob("view*.mp4"))
        cli_json(
            "track",
            *videos,
            "-o",
            out,
            "--no-video",
            "--no-attributes",
            "--online",
            "--live-corrections",
            str(every),
            "--cameras",
            split / "cameras.toml",
        )
    return out


def scored(out: Path) -> dict:
    """Cross-camera IDF1 online, as shown and at the end; the merges' lags; seconds in passes."""
    split = out.parent
    gt = truth(split)
    fps = json.loads((out / "run.json").read_text())["video_fps"]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    merges = [e for e in events if e["event"] == "identity_merged" and e.get("live")]
    rows = {c: np.loadtxt(out / f"{c}.txt", delimiter=",", ndmin=2)[:, :7] for c in gt}
    times = np.array([e["time_s"] for e in merges])
    aliases = [{}]  # the merges announced so far, after each one
    for e in merges:
        aliases.append({**aliases[-1], **{int(i): int(e["id"]) for i in e["merged"]}})
    shown = {}
    for camera, r in rows.items():
        announced = np.searchsorted(times, (r[:, 0] - 1) / fps[camera], side="right")  # before the box's time
        ids = [survivor(aliases[k], int(i)) for k, i in zip(announced, r[:, 1])]
        shown[camera] = np.c_[r[:, :1], ids, r[:, 2:]]
    end = {c: np.c_[r[:, :1], [survivor(aliases[-1], int(i)) for i in r[:, 1]], r[:, 2:]] for c, r in rows.items()}
    summary = json.loads((out / "summary.json").read_text())
    return {
        "online": mtmc_metrics(gt, rows)["cross_camera"],
        "shown": mtmc_metrics(gt, shown)["cross_camera"],
        "end": mtmc_metrics(gt, end)["cross_camera"],
        "merges": sum(len(e["merged"]) for e in merges),
        "lags": [e["lag_s"] for e in merges],
        "pass_s": summary["live_corrections"]["seconds"],
    }


def print_table(table: dict) -> None:
    print("| layout | online IDF1 (ids) | as shown | at the end (ids) | merges | lag s (max) | passes s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in table.items():
        lags = f"{np.median(r['lags']):.1f} ({max(r['lags']):.1f})" if r["lags"] else "–"
        print(
            f"| {name} | {r['online']['IDF1']:.3f} ({r['online']['pred_identities']}) | {r['shown']['IDF1']:.3f} "
            f"| {r['end']['IDF1']:.3f} ({r['end']['pred_identities']}) | {r['merges']} | {lags} | {r['pass_s']:.2f} |"
        )
    mean = {k: np.mean([r[k]["IDF1"] for r in table.values()]) for k in ("online", "shown", "end")}
    print(f"| **mean** | {mean['online']:.3f} | {mean['shown']:.3f} | {mean['end']:.3f} | | | |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=None, help="Splits and runs (shared with mtmc_layouts.py).")
    parser.add_argument("--every", type=float, default=5.0, help="Seconds of stream time between passes.")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        print_table({n: scored(live_run(work, n, v, args.every)) for n, v in LAYOUTS.items()})
        print("\nHeld-out layouts (not used to choose any default):\n")
        print_table({n: scored(live_run(work, n, v, args.every)) for n, v in HELD_OUT.items()})


if __name__ == "__main__":
    main()
