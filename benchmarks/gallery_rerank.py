"""Re-ranked gallery search (`gallery search --rerank`) against plain search, on the shared re-id sets, and its
cost at 10^5 sightings.

1. Accuracy: the test split of PKU-Reid-dev and CUHK03-dev is stored as sightings (default person model, each
   crop tagged with its identity and camera), every query searches it (top 100), and the Market-1501 protocol
   scores the ranked list (gallery items of the query's identity seen by the query's own camera are left out).
   Plain order vs the same 100 candidates reordered by k-reciprocal re-ranking (k1 20, k2 6, λ 0.3).
2. Cost: 100,000 gallery-shaped distractor sightings (unit vectors at cosine 0.8 to random identity centres,
   as in gallery_scale.py) are added to the PKU gallery; p50 latency of plain and re-ranked searches.

    python benchmarks/gallery_rerank.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402
from gallery_scale import latencies, sightings_of, unit_rows  # noqa: E402

from reidkit.data.market import read_split  # noqa: E402
from reidkit.embed import Embedder  # noqa: E402
from reidkit.gallery import open_gallery  # noqa: E402
from reidkit.gallery.ops import RERANK_POOL, model_key, rerank_matches  # noqa: E402


def market_scores(ranked: list[list[int]], q_pids, q_cams, g_pids, g_cams) -> tuple[float, float]:
    """(rank-1, mAP) of ranked gallery indices per query under the Market-1501 protocol."""
    hits1, aps = [], []
    for qi, order in enumerate(ranked):
        order = [g for g in order if not (g_pids[g] == q_pids[qi] and g_cams[g] == q_cams[qi])]
        good = np.array([g_pids[g] == q_pids[qi] for g in order])
        total = int(((g_pids == q_pids[qi]) & (g_cams != q_cams[qi])).sum())
        if not total:
            continue
        hits1.append(bool(good[:1].any()))
        precision = np.cumsum(good) / np.arange(1, len(good) + 1)
        aps.append(float((precision * good).sum() / total))
    return float(np.mean(hits1)), float(np.mean(aps))


def evaluate(store, embedder: Embedder, root: Path) -> dict:
    query, gallery = read_split(root, "query"), read_split(root, "bounding_box_test")
    g_vecs = embedder.embed([str(p) for p in gallery.paths])
    ids = store.add_sightings(g_vecs, model_key(embedder), [{"camera": str(c)} for c in gallery.camids])
    row = {sid: k for k, sid in enumerate(ids)}
    q_vecs = embedder.embed([str(p) for p in query.paths])
    plain, reranked, t_plain, t_rerank = [], [], [], []
    for q in q_vecs:
        start = time.perf_counter()
        matches = store.search(q, model_key(embedder), RERANK_POOL)
        t_plain.append(time.perf_counter() - start)
        reordered = rerank_matches(store, q, matches)
        t_rerank.append(time.perf_counter() - start)
        plain.append([row[m.sighting.sighting_id] for m in matches])
        reranked.append([row[m.sighting.sighting_id] for m in reordered])
    args = (query.pids, query.camids, gallery.pids, gallery.camids)
    return {
        "plain": market_scores(plain, *args),
        "rerank": market_scores(reranked, *args),
        "queries": len(query),
        "gallery": len(gallery),
        "ms": (np.median(t_plain) * 1e3, np.median(t_rerank) * 1e3),
    }


def main() -> None:
    print(f"machine: {machine()}\n")
    embedder = Embedder()
    print(f"model: {embedder.name} {embedder.precision}; candidates re-ranked: {RERANK_POOL}\n")
    print("| set | queries | gallery | plain R1 | mAP@100 | re-ranked R1 | mAP@100 | p50 ms plain | re-ranked |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("PKU-Reid-dev", "CUHK03-dev"):
        with tempfile.TemporaryDirectory() as tmp, open_gallery(Path(tmp) / "g.db") as store:
            r = evaluate(store, embedder, data_root() / name)
        (p1, pm), (r1, rm) = r["plain"], r["rerank"]
        print(
            f"| {name} | {r['queries']} | {r['gallery']} | {p1:.3f} | {pm:.3f} | {r1:.3f} | {rm:.3f} | "
            f"{r['ms'][0]:.1f} | {r['ms'][1]:.1f} |",
            flush=True,
        )
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp, open_gallery(Path(tmp) / "big.db") as store:
        centres = unit_rows(rng, 10_000, embedder.dim)
        distractors = sightings_of(rng, centres[rng.integers(0, len(centres), 100_000)])
        for start in range(0, len(distractors), 20_000):
            chunk = distractors[start : start + 20_000]
            store.add_sightings(chunk, model_key(embedder), [{}] * len(chunk))
        queries = embedder.embed([str(p) for p in read_split(data_root() / "PKU-Reid-dev", "query").paths])
        store.search(queries[0], model_key(embedder), 1)  # build the index
        plain = latencies(lambda q: store.search(q, model_key(embedder), RERANK_POOL), queries)
        both = latencies(lambda q: rerank_matches(store, q, store.search(q, model_key(embedder), RERANK_POOL)), queries)
        print(
            f"\n{store.count():,} sightings: p50 {np.median(plain):.1f} ms plain, {np.median(both):.1f} ms re-ranked "
            f"(+{np.median(both) - np.median(plain):.1f} ms: fetching the 100 candidates' vectors and re-ranking them)"
        )


if __name__ == "__main__":
    main()
