"""k-reciprocal re-ranking of tracklet similarities, measured on the layouts of mtmc_layouts.py (their tracklets
re-used from its --work folder): the Jaccard similarity of two tracklets' k-reciprocal neighbour sets, added as
γ·(J − 0.5) to the calibrated log-odds, with today's hand-over bonus; cross-camera IDF1 mean, worst layout and
identity-count error per (γ, k, threshold). γ = 0 is the default re-association.

    python benchmarks/mtmc_layouts.py --work /tmp/mtl     # first: tracks and caches the layouts
    python benchmarks/mtmc_rerank.py --work /tmp/mtl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402
from mtmc_layouts import LAYOUTS, score, tracked  # noqa: E402

from reidkit import reassociate as R  # noqa: E402
from reidkit.cameras import load_layout  # noqa: E402
from reidkit.data.mot import read_mot_gt  # noqa: E402
from reidkit.models.catalog import get_spec, model_or_default  # noqa: E402
from reidkit.track.tracklets import load_book  # noqa: E402


def jaccard(features: np.ndarray, k: int) -> np.ndarray:
    """N×N Jaccard similarity of the k-reciprocal neighbour sets (each set holds its own item)."""
    s = features @ features.T
    s = np.where(np.isnan(s), -9.0, s)
    n = len(s)
    k = min(k, n - 1)
    nearest = np.argsort(-s, axis=1)[:, : k + 1]
    m = np.zeros((n, n), bool)
    m[np.arange(n)[:, None], nearest] = True
    mutual = m & m.T
    np.fill_diagonal(mutual, True)
    inter = mutual.astype(float) @ mutual.T.astype(float)
    size = mutual.sum(1)
    return inter / (size[:, None] + size[None, :] - inter)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True, help="mtmc_layouts' work folder (tracked layouts).")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    calibration = get_spec(model_or_default(None, "person-reid-tracking")).calibration
    config = R.ReassociationConfig()
    grid = [(0, 0, config.threshold)] + [(g, k, p) for g in (1, 2, 4) for k in (5, 10) for p in (0.98, 0.99)]
    results = {}
    for name, views in LAYOUTS.items():
        out = tracked(args.work, name, views)
        book, layout = load_book(out / "tracklets.npz"), load_layout(out.parent / "cameras.toml")
        gt = {p.stem: read_mot_gt(p, include_ignored=True) for p in sorted((out.parent / "gt").glob("*.txt"))}
        every = book.ordered()
        tr = [t for t in every if len(t.rows) >= config.min_rows]
        dim = next(len(t.feature()) for t in tr if t.has_appearance)
        features = np.array([t.feature() if t.has_appearance else np.full(dim, np.nan) for t in tr])
        odds = R.log_odds(features, calibration)
        cannot, must = R.pair_constraints(tr, layout, config)
        must = [*must, *R._online_pairs(tr)]
        bonus = config.handover_bonus * R.handovers(tr, layout, config.handover_s)

        def allowed(idx, tr=tr, layout=layout):
            return R.timeline_allowed([tr[k] for k in idx], layout, config.max_speed)

        row = {}
        for g, k, p in grid:
            similarity = odds + (g * (jaccard(features, k) - 0.5) if g else 0.0)
            labels = R.final_ids(tr, R.cluster(similarity, cannot, must, R.logit(p), allowed, bonus))
            labels.update(R._follow_online([t for t in every if t.key not in labels], tr, labels))
            cc = score(labels, book, gt)["cross_camera"]
            row[(g, k, p)] = (cc["IDF1"], cc["pred_identities"], cc["gt_identities"])
        results[name] = row
    print("| γ | k | P> | mean IDF1 | worst | ids off | " + " | ".join(LAYOUTS) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(LAYOUTS))
    for key in grid:
        v = [r[key][0] for r in results.values()]
        off = np.mean([abs(r[key][1] / r[key][2] - 1) for r in results.values()])
        cells = " | ".join(f"{r[key][0]:.3f}" for r in results.values())
        print(f"| {key[0]} | {key[1]} | {key[2]} | {np.mean(v):.3f} | {np.min(v):.3f} | ±{off:.0%} | {cells} |")


if __name__ == "__main__":
    main()
