"""Person detection on narrow and flat views: recall and precision (IoU 0.5, every 10th frame) of the catalog's
person detector with frames stretched to its square input vs padded to its aspect first (`Detector(max_stretch)`).

Layouts: PETS09-S2L1 whole (480×360) and cut into the views of benchmarks/mtmc_layouts.py (106–288 px wide
strips); MOT17-mini's 16:9 1920×1080 frames. Chooses the default limits of `Detector(max_stretch=...)`.

    python benchmarks/narrow_views.py [--work DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json, data_root, machine  # noqa: E402
from mtmc_layouts import LAYOUTS  # noqa: E402

from reidkit.data.mot import read_mot_gt  # noqa: E402
from reidkit.detect import Detector  # noqa: E402
from reidkit.images import load_image  # noqa: E402
from reidkit.track.association import iou_matrix  # noqa: E402
from reidkit.video import read_frames  # noqa: E402

SETTINGS = {
    "stretch": None,
    "pad >1.5/2": (1.5, 2.0),
    "pad >1.25/2 (default)": (1.25, 2.0),
    "pad >1.25/1.25": (1.25, 1.25),
}


def matched(gt_xywh: np.ndarray, pred_xyxy: np.ndarray) -> int:
    """True boxes found by a prediction at IoU ≥ 0.5 (each prediction counted for its best box)."""
    if not len(gt_xywh) or not len(pred_xyxy):
        return 0
    gt = np.column_stack([gt_xywh[:, :2], gt_xywh[:, :2] + gt_xywh[:, 2:4]])
    return int((iou_matrix(gt, pred_xyxy).max(axis=1) >= 0.5).sum())


def frames_of(layout_dir: Path):
    """(frame, true boxes xywh) every 10th frame of each view of a split layout."""
    for video in sorted(layout_dir.glob("view*.mp4")):
        gt = read_mot_gt(layout_dir / "gt" / f"{video.stem}.txt")
        for index, frame in read_frames(video):
            if (index + 1) % 10 == 0:
                yield frame, gt[gt[:, 0] == index + 1, 2:6]


def mot17_frames():
    for seq in sorted((data_root() / "MOT17-mini/train").iterdir()):
        gt = read_mot_gt(seq / "gt/gt.txt")
        gt = gt[gt[:, 7] == 1] if gt.shape[1] > 7 else gt  # pedestrians
        for image in sorted((seq / "img1").glob("*.jpg")):
            yield load_image(image), gt[gt[:, 0] == int(image.stem), 2:6]


def measure(detectors: dict, frames) -> dict:
    counts = {name: np.zeros(3) for name in detectors}  # found, true, predicted
    for frame, truth in frames:
        for name, detector in detectors.items():
            pred = detector.detect(frame).xyxy
            counts[name] += (matched(truth, pred), len(truth), len(pred))
    return {name: (c[0] / max(c[1], 1), c[0] / max(c[2], 1)) for name, c in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=None, help="Keep the split views here (re-used when present).")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    detectors = {name: Detector(confidence=0.5, max_stretch=s) for name, s in SETTINGS.items()}
    seq = data_root() / "PETS09-S2L1"
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        rows = {}
        for name, views in {"PETS09 whole (480×360)": "0:1,0:1", **LAYOUTS}.items():
            d = work / ("narrow_" + name.split(" (")[0].replace(" ", "_").replace("%", ""))
            if not (d / "cameras.toml").is_file():
                cli_json(
                    "data",
                    "split-views",
                    seq / "vtest.mp4",
                    seq / "gt/gt.txt",
                    "--scale",
                    "0.625",
                    "-o",
                    d,
                    "--views",
                    views,
                )
            if name.startswith("PETS09 whole"):
                (d / "view2.mp4").unlink(missing_ok=True)
            rows[name] = measure(detectors, frames_of(d))
            print(f"measured {name}", file=sys.stderr)
        rows["MOT17-mini 16:9 (1920×1080)"] = measure(detectors, mot17_frames())
    print("| view | " + " | ".join(f"{s} recall / prec." for s in SETTINGS) + " |")
    print("|---|" + "---|" * len(SETTINGS))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{r:.3f} / {p:.3f}" for r, p in row.values()) + " |")
    mean = {s: np.mean([row[s][0] for row in rows.values()]) for s in SETTINGS}
    print("| **mean recall** | " + " | ".join(f"{m:.3f}" for m in mean.values()) + " |")


if __name__ == "__main__":
    main()
