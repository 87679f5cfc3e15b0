"""Fine-tuning gain: each backbone before vs after `reidkit train` (default recipe) on the test identities.

Runs the training CLI's library call for every dataset × start point × seed, and prints a Markdown table of
rank-1/mAP on query/ vs bounding_box_test/ before training (epoch 0) and after the last epoch, with the
wall time on this machine. No model selection on the test split: the last epoch is reported.
    python benchmarks/finetune_gain.py [--datasets pku,pets] [--seeds 0] [--out runs/finetune]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, data_root, machine  # noqa: E402

from reidkit.data.mot import MotRecipe, build_from_mot  # noqa: E402
from reidkit.train.config import TrainConfig  # noqa: E402
from reidkit.train.loop import train  # noqa: E402

MODELS = SHARED / "models"
START_POINTS = {  # label -> (TrainConfig overrides, the CLI flags that say the same)
    "OMZ 0267 (ONNX) fine-tuned": (
        dict(init=str(MODELS / "onnx/person-reidentification-retail-0267.onnx")),
        "--init $REIDKIT_MODELS/onnx/person-reidentification-retail-0267.onnx",
    ),
    "OSNet x0.25 MSMT17 fine-tuned": (
        dict(backbone="osnet_x0_25", weights=str(MODELS / "osnet/osnet_x0_25_msmt17.pth")),
        "--backbone osnet_x0_25 --pretrained $REIDKIT_MODELS/osnet/osnet_x0_25_msmt17.pth",
    ),
    "OSNet x0.25 Market-1501 fine-tuned": (
        dict(backbone="osnet_x0_25", weights=str(MODELS / "osnet/osnet_x0_25_market1501.pth")),
        "--backbone osnet_x0_25 --pretrained $REIDKIT_MODELS/osnet/osnet_x0_25_market1501.pth",
    ),
    "compact CNN from scratch": (dict(backbone="compact", scratch=True), "--backbone compact --scratch"),
    "compact CNN from scratch, 30 epochs": (
        dict(backbone="compact", epochs=30, scratch=True),
        "--backbone compact --scratch --epochs 30",
    ),
}
PETS_RECIPE = MotRecipe(stride=5, min_height=32, segments=2, block_frames=100, train_ids=0.3, scale=0.625)


def pets_reid(out: Path) -> Path:
    """PETS09-reid, built as in docs/benchmarks.md (once)."""
    folder = out / "PETS09-reid"
    if not (folder / "query").is_dir():
        seq = data_root() / "PETS09-S2L1"
        build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", folder, PETS_RECIPE, overwrite=True, progress=False)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="pku,pets")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", default="", help="Comma-separated substrings of start-point labels to run.")
    parser.add_argument("--out", type=Path, default=Path("runs/finetune"))
    args = parser.parse_args()
    datasets = {"pku": lambda: data_root() / "PKU-Reid-dev", "pets": lambda: pets_reid(args.out)}
    print(f"machine: {machine()}")
    print("| data | start point | seed | before R1 | before mAP | after R1 | after mAP | wall time | command |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in args.datasets.split(","):
        data = datasets[key]()
        for label, (overrides, flags) in START_POINTS.items():
            if args.only and not any(s in label for s in args.only.split(",")):
                continue
            for seed in (int(s) for s in args.seeds.split(",")):
                out = args.out / f"{key}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}-s{seed}"
                shutil.rmtree(out, ignore_errors=True)
                cfg = TrainConfig(data=str(data), out=str(out), seed=seed, **overrides)
                tick = time.perf_counter()
                rows = train(cfg, progress=False, log=lambda _m: None).rows
                wall = time.perf_counter() - tick
                before, after = rows[0], rows[-1]
                name = "PKU-Reid-dev" if key == "pku" else "PETS09-reid"
                command = f"`reidkit train --data {name} --out RUN {flags} --seed {seed}`"
                print(
                    f"| {name} | {label} | {seed} | {before['rank1']:.3f} | {before['mAP']:.3f} | "
                    f"{after['rank1']:.3f} | {after['mAP']:.3f} | {wall:.0f} s | {command} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
