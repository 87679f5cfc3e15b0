"""Site analytics checked against the truth: on PETS09-S2L1 (whole view and the split layouts of
benchmarks/mtmc_layouts.py), the report's figures — different people, median stay, line crossings, zone
visits — computed from the ground-truth identities and from reidkit's (online, and re-associated with
today's defaults from the run's tracklets), by the same code (reidkit.analytics). Zones and lines are declared once on the ground plane
(the whole frame's pixels: each split view's homography maps into it), so every layout counts the same doors.

    python benchmarks/site_truth.py [--work DIR]      # re-uses mtmc_layouts' tracked runs in DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json, data_root, machine  # noqa: E402
from mtmc_layouts import LAYOUTS, tracked  # noqa: E402

from reidkit.analytics import SiteTracks, site_report  # noqa: E402
from reidkit.cameras import Camera, CameraLayout, Line, Zone, load_layout  # noqa: E402
from reidkit.data.mot import read_mot_gt  # noqa: E402
from reidkit.models.catalog import get_spec, model_or_default  # noqa: E402
from reidkit.reassociate import reassociate  # noqa: E402
from reidkit.track.tracklets import load_book, mot_rows  # noqa: E402

# the whole 480×360 frame's pixels are the ground plane
DOOR = Line("middle", np.array([[240.0, 0.0], [240.0, 360.0]]), ground=True)  # "in" walks left
LEFT = Zone("left third", np.array([[0.0, 0.0], [160.0, 0.0], [160.0, 360.0], [0.0, 360.0]]), ground=True)


def with_site(layout):
    """The layout with the door and the zone on every camera (each sees its part of them)."""
    cams = {n: replace(c, zones=(LEFT,), lines=(DOOR,)) for n, c in layout.cameras.items()}
    return replace(layout, cameras=cams)


def figures(tracks: SiteTracks) -> dict:
    r = site_report(tracks)
    door = r["lines"]
    crossings = {k: sum(v[k] for v in door.values()) for k in ("in", "out")}
    zone = r["zones"]
    return {
        "people": r["visitors"]["total"],
        "median stay s": r["dwell"].get("median_s", 0.0),
        "door in": crossings["in"],
        "door out": crossings["out"],
        "zone visits": sum(z["visits"] for z in zone.values()),
    }


def online_and_final(out: Path, layout) -> tuple[dict, dict]:
    """A run's rows with its online ids and with the ids re-association gives its tracklets today."""
    book = load_book(out / "tracklets.npz")
    calibration = get_spec(model_or_default(None, "person-reid-tracking")).calibration
    final = reassociate(book, calibration, layout).labels
    online = {t.key: t.online_id for t in book.tracklets.values()}
    return mot_rows(book, online), mot_rows(book, final)


def whole_view(work: Path) -> tuple[dict, dict, dict, object]:
    """GT and reidkit rows of the whole view (tracked once without a cameras file, cached)."""
    seq = data_root() / "PETS09-S2L1"
    out = work / "whole" / "run"
    if not (out / "tracklets.npz").is_file():
        cli_json("track", seq / "vtest.mp4", "--camera", "pets", "-o", out, "--no-video", "--no-attributes")
    gt = read_mot_gt(seq / "gt/gt.txt")
    gt[:, 2:6] *= 0.625
    online, final = online_and_final(out, CameraLayout())  # as tracked: no cameras file
    layout = CameraLayout({"pets": Camera("pets", None, np.eye(3), (LEFT,), (DOOR,))})
    return {"pets": gt[:, :6]}, online, final, layout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=None, help="mtmc_layouts' work folder (runs re-used).")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        table = {}
        gt, online, final, layout = whole_view(work)
        fps = {"pets": 10.0}
        table["whole view"] = [figures(SiteTracks(r, fps, layout)) for r in (gt, online, final)]
        for name, views in LAYOUTS.items():
            out = tracked(work, name, views)
            layout = with_site(load_layout(out.parent / "cameras.toml"))
            fps = {c: 10.0 for c in layout.cameras}
            gt = {p.stem: read_mot_gt(p)[:, :6] for p in sorted((out.parent / "gt").glob("*.txt"))}
            online, final = online_and_final(out, layout)
            table[name] = [figures(SiteTracks(r, fps, layout)) for r in (gt, online, final)]
    keys = list(next(iter(table.values()))[0])
    print("| layout | " + " | ".join(f"{k}: truth / online / reassoc." for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, (t, o, f) in table.items():
        print(f"| {name} | " + " | ".join(f"{t[k]:g} / {o[k]:g} / {f[k]:g}" for k in keys) + " |")
    for label, index in (("online", 1), ("reassoc.", 2)):
        errors = {
            k: np.mean([abs(row[index][k] - row[0][k]) / max(row[0][k], 1) for row in table.values()]) for k in keys
        }
        print(f"| mean error, {label} | " + " | ".join(f"{errors[k]:.0%}" for k in keys) + " |")


if __name__ == "__main__":
    main()
