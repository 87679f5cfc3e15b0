"""Which input convention does an ONNX re-id model expect? Score each colour order × normalisation.

Evaluated on PKU-Reid-dev's *training* split (camera 1 as queries, camera 2 as gallery), so the check never
looks at the test identities used to report fine-tuning gains. Usage:
    python benchmarks/onnx_preprocessing.py [--model onnx/person-reidentification-retail-0267.onnx]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, data_root, machine  # noqa: E402

from reidkit.data.market import read_split  # noqa: E402
from reidkit.images import load_image  # noqa: E402
from reidkit.metrics.reid import cosine_distance, evaluate_rank  # noqa: E402
from reidkit.models.catalog import InputSpec  # noqa: E402
from reidkit.preprocess import fit_batch, l2_normalize  # noqa: E402
from reidkit.runtime import Engine  # noqa: E402

IMAGENET = dict(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
VARIANTS = {
    "RGB, ImageNet mean/std": dict(color="rgb", **IMAGENET),
    "BGR, ImageNet mean/std": dict(color="bgr", mean=IMAGENET["mean"][::-1], std=IMAGENET["std"][::-1]),
    "RGB, raw 0-255": dict(color="rgb"),
    "BGR, raw 0-255": dict(color="bgr"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "models/onnx/person-reidentification-retail-0267.onnx"))
    args = parser.parse_args()
    images = read_split(data_root() / "PKU-Reid-dev", "bounding_box_train")
    crops = [load_image(p) for p in images.paths]
    q, g = images.camids == 1, images.camids == 2
    print(f"{Path(args.model).name} on PKU-Reid-dev bounding_box_train (cam 1 -> cam 2, {q.sum()} queries)")
    print(f"machine: {machine()}")
    print("| input convention | rank-1 | mAP |\n|---|---|---|")
    for label, kw in VARIANTS.items():
        probe = Engine(Path(args.model))
        spec = InputSpec(names=(probe.io.input_name,), height=256, width=128, **kw)
        engine = Engine(Path(args.model), spec, batch_size=8)
        vectors = l2_normalize(engine.infer(fit_batch(crops, spec.width, spec.height, spec.color)))
        result = evaluate_rank(
            cosine_distance(vectors[q], vectors[g]), images.pids[q], images.pids[g], images.camids[q], images.camids[g]
        )
        print(f"| {label} | {result.rank(1):.3f} | {result.mAP:.3f} |")


if __name__ == "__main__":
    main()
