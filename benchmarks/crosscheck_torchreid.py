"""Cross-check reidkit's CMC/mAP and re-ranking against the `torchreid` package (pip install torchreid).

torchreid's evaluation and re-ranking modules are pure NumPy; they are loaded from the installed package's
files so that torch itself is not needed. Compares on random distance matrices (no ties: torchreid's sort is
not stable) and on real PKU-Reid-dev embeddings, and prints the largest differences.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root  # noqa: E402

from reidkit.metrics.reid import cosine_distance, evaluate_rank, re_ranking  # noqa: E402


def load_torchreid_module(relative: str):
    """Load one module file of the installed torchreid package without importing torchreid (and torch)."""
    spec = importlib.util.find_spec("torchreid")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchreid is not installed: pip install --no-deps torchreid")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    module_spec = importlib.util.spec_from_file_location(f"torchreid_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module_spec.loader.exec_module(module)
    return module


def compare(name, dist, q_pids, g_pids, q_cams, g_cams, tr_rank) -> tuple[float, float]:
    ours = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50)
    t0 = time.perf_counter()
    cmc, mAP = tr_rank.evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50, use_cython=False)
    t_theirs = time.perf_counter() - t0
    n = min(len(cmc), len(ours.cmc))
    d_cmc = float(np.abs(cmc[:n] - ours.cmc[:n]).max())
    d_map = abs(float(mAP) - ours.mAP)
    print(
        f"{name:38s} rank-1 {ours.rank(1):.4f} vs {cmc[0]:.4f}  mAP {ours.mAP:.4f} vs {mAP:.4f}  "
        f"max|ΔCMC| {d_cmc:.1e}  |ΔmAP| {d_map:.1e}  (torchreid {t_theirs:.2f}s)"
    )
    return d_cmc, d_map


def main() -> None:
    tr_rank = load_torchreid_module("reid/metrics/rank.py")
    tr_rerank = load_torchreid_module("reid/utils/rerank.py")
    worst = []
    rng = np.random.default_rng(0)
    for nq, ng, nids in [(50, 300, 20), (200, 1000, 100), (500, 3000, 300)]:
        dist = rng.random((nq, ng))
        case = (
            dist,
            rng.integers(0, nids, nq),
            rng.integers(0, nids, ng),
            rng.integers(0, 6, nq),
            rng.integers(0, 6, ng),
        )
        worst.append(compare(f"random {nq}x{ng}", *case, tr_rank))

    from reidkit.data.market import read_split
    from reidkit.embed import Embedder

    pku = data_root() / "PKU-Reid-dev"
    q, g = read_split(pku, "query"), read_split(pku, "bounding_box_test")
    emb = Embedder("person-reidentification-retail-0287")
    qv, gv = emb.embed([str(p) for p in q.paths]), emb.embed([str(p) for p in g.paths])
    qg, qq, gg = cosine_distance(qv, gv), cosine_distance(qv, qv), cosine_distance(gv, gv)
    worst.append(compare("PKU-Reid-dev 0287", qg.astype(np.float64), q.pids, g.pids, q.camids, g.camids, tr_rank))
    ours_rr = re_ranking(qg, qq, gg)
    theirs_rr = tr_rerank.re_ranking(qg, qq, gg, k1=20, k2=6, lambda_value=0.3)
    print(f"re-ranking distance max|Δ| {np.abs(ours_rr - theirs_rr).max():.1e}")
    worst.append(
        compare(
            "PKU-Reid-dev 0287 re-ranked (theirs)",
            theirs_rr.astype(np.float64),
            q.pids,
            g.pids,
            q.camids,
            g.camids,
            tr_rank,
        )
    )
    print(f"\nlargest differences: CMC {max(w[0] for w in worst):.1e}, mAP {max(w[1] for w in worst):.1e}")


if __name__ == "__main__":
    main()
