"""Unsupervised adaptation gain (`reidkit adapt`): rank-1 / mAP per round, starting from the catalog's trainable
model (0267), labels never read.

1. --images CUHK03-dev/bounding_box_train (867 identities, 8,339 crops, names ignored), scored on CUHK03-dev's
   test split (300 other identities).
2. --videos PETS09-S2L1/vtest.mp4 (tracklets as must-link groups), scored on PETS09-reid built from the same
   sequence's ground truth with the recipe of reid_accuracy.py (its test identities; the video also shows them —
   that is the setting adaptation is for: a site's own unlabelled footage).

    python benchmarks/adapt_gain.py [--rounds 3] [--epochs 2] [--only cuhk|pets] [--loss camera_memory|ce_triplet]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402
from reid_accuracy import PETS_RECIPE  # noqa: E402

from reidkit.data.mot import build_from_mot  # noqa: E402
from reidkit.train.adapt import AdaptConfig, adapt  # noqa: E402


def table(name: str, summary: dict) -> None:
    print(f"\n### {name} ({summary['seconds'] / 60:.0f} min)\n")
    print("| round | rank-1 | mAP | clusters (crops clustered / all) |\n|---|---|---|---|")
    for row in summary["rounds"]:
        clusters = f"{row['clusters']} ({row['clustered']} / {row['crops']})" if "clusters" in row else "-"
        print(f"| {row['round']} | {row['rank1']:.3f} | {row['mAP']:.3f} | {clusters} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--only", choices=("cuhk", "pets"))
    parser.add_argument("--loss", choices=("camera_memory", "ce_triplet"), default="camera_memory")
    args = parser.parse_args()
    print(f"machine: {machine()}; loss {args.loss}, {args.rounds} rounds of {args.epochs} epochs")
    work = Path(tempfile.mkdtemp())
    root = data_root()
    if args.only in (None, "cuhk"):
        cfg = AdaptConfig(
            out=str(work / "cuhk"),
            images=str(root / "CUHK03-dev/bounding_box_train"),
            rounds=args.rounds,
            epochs=args.epochs,
            loss=args.loss,
            eval_dir=str(root / "CUHK03-dev"),
        )
        table("CUHK03-dev: adapt --images bounding_box_train, scored on the test split", adapt(cfg, log=print))
    if args.only in (None, "pets"):
        seq = root / "PETS09-S2L1"
        pets = work / "PETS09-reid"
        build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", pets, PETS_RECIPE, progress=False)
        cfg = AdaptConfig(
            out=str(work / "pets"),
            videos=[str(seq / "vtest.mp4")],
            rounds=args.rounds,
            epochs=args.epochs,
            loss=args.loss,
            eval_dir=str(pets),
        )
        table("PETS09: adapt --videos vtest.mp4, scored on PETS09-reid", adapt(cfg, log=print))


if __name__ == "__main__":
    main()
