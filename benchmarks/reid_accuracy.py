"""Accuracy table: every held person re-id model × precision on PKU-Reid-dev, CUHK03-dev (test split) and
PETS09-reid.

Plain (resize, no flip, no re-ranking), +flip, +re-ranking (k1=20, k2=6, λ=0.3), both, and ensembles of
the strongest models. PETS09-reid is built first from ../shared/data/PETS09-S2L1 with the documented recipe.
Prints a Markdown table; each row can be reproduced with the `reidkit eval reid` command printed under it.
Usage: python benchmarks/reid_accuracy.py [--best-precision] [--sets PKU-Reid-dev,CUHK03-dev,PETS09-reid]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.data.market import read_split  # noqa: E402
from reidkit.data.mot import MotRecipe, build_from_mot  # noqa: E402
from reidkit.embed import Embedder  # noqa: E402
from reidkit.metrics.reid import cosine_distance, evaluate_rank, re_ranking  # noqa: E402
from reidkit.models.catalog import list_specs  # noqa: E402
from reidkit.models.store import ModelStore  # noqa: E402
from reidkit.preprocess import l2_normalize  # noqa: E402

PETS_RECIPE = MotRecipe(stride=5, min_height=32, segments=2, block_frames=100, train_ids=0.3, scale=0.625)
PETS_COMMAND = (
    "reidkit data from-mot $REIDKIT_DATA/PETS09-S2L1/vtest.mp4 $REIDKIT_DATA/PETS09-S2L1/gt/gt.txt "
    "-o PETS09-reid --scale 0.625 --stride 5 --min-height 32 --segments 2 --block-frames 100 --train-ids 0.3"
)
ENSEMBLE_MEMBERS = [
    "person-reidentification-retail-0277",
    "person-reidentification-retail-0286",
    "person-reidentification-retail-0287",
    "person-reidentification-retail-0267",
]


def short(name: str) -> str:
    return name.replace("person-reidentification-retail-", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pets-dir", type=Path, help="reuse a built PETS09-reid folder")
    parser.add_argument("--best-precision", action="store_true", help="only each model's best precision held")
    parser.add_argument("--sets", default="PKU-Reid-dev,CUHK03-dev,PETS09-reid", help="comma-separated")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    pets = args.pets_dir or Path(tempfile.mkdtemp()) / "PETS09-reid"
    if not (pets / "query").is_dir():
        seq = data_root() / "PETS09-S2L1"
        build_from_mot(seq / "vtest.mp4", seq / "gt/gt.txt", pets, PETS_RECIPE, progress=False)
    every = {
        "PKU-Reid-dev": data_root() / "PKU-Reid-dev",
        "CUHK03-dev": data_root() / "CUHK03-dev",
        "PETS09-reid": pets,
    }
    sets = {k: every[k] for k in args.sets.split(",")}
    splits = {k: (read_split(v, "query"), read_split(v, "bounding_box_test")) for k, v in sets.items()}
    store = ModelStore()
    embeddings: dict[tuple, dict[str, np.ndarray]] = {}
    configs = []
    for spec in list_specs("person-reid"):
        for prec in store.local_precisions(spec)[: 1 if args.best_precision else None]:
            configs.append((spec.name, prec))
    start = time.perf_counter()
    for name, prec in configs:
        for flip in (False, True):
            emb = Embedder(name, prec, flip=flip)
            for ds, (q, g) in splits.items():
                embeddings[(name, prec, flip, ds)] = {
                    "q": emb.embed([str(p) for p in q.paths]),
                    "g": emb.embed([str(p) for p in g.paths]),
                }

    def score(qv, gv, ds, rerank):
        q, g = splits[ds]
        dist = cosine_distance(qv, gv)
        if rerank:
            dist = re_ranking(dist, cosine_distance(qv, qv), cosine_distance(gv, gv))
        return evaluate_rank(dist, q.pids, g.pids, q.camids, g.camids)

    print("| model | precision | flip | re-rank | " + " | ".join(f"{ds} R1 | mAP" for ds in sets) + " |")
    print("|---|---|---|---|" + "---|---|" * len(sets))
    rows = []
    for name, prec in configs:
        for flip, rerank in itertools.product((False, True), (False, True)):
            res = {
                ds: score(embeddings[(name, prec, flip, ds)]["q"], embeddings[(name, prec, flip, ds)]["g"], ds, rerank)
                for ds in sets
            }
            rows.append((name, prec, flip, rerank, res))
            print(
                f"| {short(name)} | {prec} | {'yes' if flip else ''} | {'yes' if rerank else ''} | "
                + " | ".join(f"{res[ds].rank(1):.3f} | {res[ds].mAP:.3f}" for ds in sets)
                + " |",
                flush=True,
            )
    # ensembles of the strongest models at their best precision held, every combination of 2+ members
    best_prec = {n: next(p for m, p in configs if m == n) for n in ENSEMBLE_MEMBERS if any(m == n for m, _ in configs)}
    members = list(best_prec)
    for size in range(2, len(members) + 1):
        for combo in itertools.combinations(members, size):
            for flip, rerank in itertools.product((False, True), (False, True)):
                res = {}
                for ds in sets:
                    qv = l2_normalize(np.concatenate([embeddings[(m, best_prec[m], flip, ds)]["q"] for m in combo], 1))
                    gv = l2_normalize(np.concatenate([embeddings[(m, best_prec[m], flip, ds)]["g"] for m in combo], 1))
                    res[ds] = score(qv, gv, ds, rerank)
                label = "+".join(short(m) for m in combo)
                rows.append((label, "+".join(best_prec[m] for m in combo), flip, rerank, res))
                print(
                    f"| {label} | {'+'.join(best_prec[m] for m in combo)} | {'yes' if flip else ''} | "
                    f"{'yes' if rerank else ''} | "
                    + " | ".join(f"{res[ds].rank(1):.3f} | {res[ds].mAP:.3f}" for ds in sets)
                    + " |",
                    flush=True,
                )
    print(f"\n{len(rows)} configurations in {time.perf_counter() - start:.0f} s")
    print(f"PETS09-reid: {PETS_COMMAND}")
    print("row command: reidkit eval reid --data DIR --model A[,B...] [--precision P] [--flip] [--rerank]")


if __name__ == "__main__":
    main()
