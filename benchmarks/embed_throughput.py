"""reidkit `Embedder.embed` throughput vs. the raw compiled model, measured in the same run.

For each person re-id model (and precision) held, embeds N real crops (PETS09 ground-truth boxes,
decoded in memory, various sizes) and compares with the raw model compiled the same way (batch B,
THROUGHPUT hint, AsyncInferQueue) fed ready-made float tensors: no resize, no colour or layout work.
The ratio is reidkit / raw. Usage: python benchmarks/embed_throughput.py [--crops 2000] [--models ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, pets_crops  # noqa: E402

from reidkit.embed import Embedder  # noqa: E402
from reidkit.models.catalog import list_specs  # noqa: E402
from reidkit.models.store import ModelStore  # noqa: E402


def raw_throughput(path: Path, height: int, width: int, n: int, batch: int) -> float:
    """Images/s of the bare model: batch-B THROUGHPUT compile, async queue, random float input."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape([batch, 3, height, width])
    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    queue = ov.AsyncInferQueue(compiled, max(2, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    tensors = [np.random.default_rng(i).uniform(0, 255, (batch, 3, height, width)).astype(np.float32) for i in range(4)]
    for i in range(8):
        queue.start_async({0: tensors[i % 4]})
    queue.wait_all()
    steps = n // batch
    start = time.perf_counter()
    for i in range(steps):
        queue.start_async({0: tensors[i % 4]})
    queue.wait_all()
    return steps * batch / (time.perf_counter() - start)


def ours_throughput(embedder: Embedder, crops: list[np.ndarray]) -> float:
    """Images/s of Embedder.embed on decoded crops of assorted sizes (resize + inference)."""
    embedder.embed(crops[: 4 * embedder.engine.batch_size])  # compile and warm up
    start = time.perf_counter()
    embedder.embed(crops)
    return len(crops) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs each")
    parser.add_argument("--models", nargs="*", help="catalog names (default: every person-reid model held)")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    crops = pets_crops(args.crops)
    sizes = np.array([c.shape[:2] for c in crops])
    print(f"{len(crops)} real PETS09 crops, heights {sizes[:, 0].min()}-{sizes[:, 0].max()} px, batch {args.batch}\n")
    store = ModelStore()
    print(f"{'model':40s} {'prec':9s} {'reidkit img/s':>14s} {'raw img/s':>10s} {'ratio':>6s}")
    for spec in list_specs("person-reid"):
        if args.models and spec.name not in args.models:
            continue
        for prec in store.local_precisions(spec):
            emb = Embedder(spec.name, prec, batch_size=args.batch)
            ours = max(ours_throughput(emb, crops) for _ in range(args.repeats))
            raw = max(
                raw_throughput(emb.resolved.path, spec.input.height, spec.input.width, len(crops), args.batch)
                for _ in range(args.repeats)
            )
            print(f"{spec.name:40s} {prec:9s} {ours:14.1f} {raw:10.1f} {ours / raw:6.2f}", flush=True)


if __name__ == "__main__":
    main()
