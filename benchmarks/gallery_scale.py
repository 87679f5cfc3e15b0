"""Gallery at scale: 1,000,000 random 256-d unit vectors in the embedded store (SQLite + FAISS).

Measures enrol throughput (batched sightings into SQLite), index build, search latency p50/p99 for exact
inner-product search and HNSW, recall@10 of HNSW against exact, and a real-embedding sanity check (PKU-Reid-dev
crops hidden among the random vectors must still find their own identity).

Data like a real gallery: 100,000 random identity directions, 10 sightings each (direction × 0.8 + random
orthogonal noise × 0.6, unit norm: sightings of one identity have cosine ≈ 0.64 to each other, ≈ 0 to
others). Queries are new sightings of random identities; their exact top-10 are that identity's sightings.
Recall is also reported for i.i.d. random queries, whose "neighbours" among random 256-d vectors are barely
nearer than anything else (top-10 cosine ≈ 0.27 against ≈ 0.2 for the 1,000th): no graph index retrieves
those well, and no re-id workload asks for them. Usage:
python benchmarks/gallery_scale.py [--n 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.gallery.index import VectorIndex  # noqa: E402
from reidkit.gallery.sqlite import SqliteGallery  # noqa: E402


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def sightings_of(rng, centres: np.ndarray, cos: float = 0.8) -> np.ndarray:
    """Unit vectors at cosine `cos` to each given centre, in random orthogonal directions."""
    noise = unit_rows(rng, len(centres), centres.shape[1])
    noise -= (noise * centres).sum(1, keepdims=True) * centres
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (cos * centres + np.sqrt(1 - cos**2) * noise).astype(np.float32)


def latencies(fn, queries) -> np.ndarray:
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="*", default=[64, 128, 256, 512])
    parser.add_argument("--m", type=int, default=16, help="HNSW graph degree")
    parser.add_argument("--ef-construction", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {machine()}\n{args.n:,} vectors of {args.dim} dims\n")
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    store = SqliteGallery(tmp / "scale.db", index="exact")
    batch = 20_000
    per_identity = 10
    centres = unit_rows(rng, args.n // per_identity, args.dim)
    start = time.perf_counter()
    for lo in range(0, args.n, batch):
        n = min(batch, args.n - lo)
        v = sightings_of(rng, centres[(lo + np.arange(n)) // per_identity])
        store.add_sightings(v, "random", [{"camera": "bench"}] * n)
    t_enrol = time.perf_counter() - start
    print(f"enrol: {args.n / t_enrol:,.0f} sightings/s into SQLite ({t_enrol:.0f} s, {args.n // batch} transactions)")

    # real-embedding sanity check: 24 PKU-Reid-dev people, camera-1 crops enrolled among the random rows
    from reidkit.data.market import read_split
    from reidkit.embed import Embedder

    emb = Embedder("person-reidentification-retail-0287")
    gal = read_split(data_root() / "PKU-Reid-dev", "bounding_box_test")
    qry = read_split(data_root() / "PKU-Reid-dev", "query")

    start = time.perf_counter()
    store._sync()
    t_build = time.perf_counter() - start
    print(f"exact index (NumPy/BLAS inner product) built from SQLite in {t_build:.1f} s")
    queries = sightings_of(rng, centres[rng.integers(0, len(centres), args.queries)])
    random_queries = unit_rows(rng, args.queries, args.dim)
    exact = latencies(lambda q: store._index.search(q, 10), queries)
    print(f"exact search: p50 {np.percentile(exact, 50):.1f} ms, p99 {np.percentile(exact, 99):.1f} ms")
    truth = [store._index.search(q, 10)[1] for q in queries]
    truth_random = [store._index.search(q, 10)[1] for q in random_queries]

    vectors = np.frombuffer(
        b"".join(r[0] for r in store._db.execute("SELECT embedding FROM sightings ORDER BY id")), np.float32
    ).reshape(-1, args.dim)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    start = time.perf_counter()
    hnsw = VectorIndex(args.dim, "hnsw", hnsw_m=args.m, ef_construction=args.ef_construction)
    hnsw.add(ids, vectors)
    t_hnsw = time.perf_counter() - start
    print(f"HNSW (M={args.m}, efConstruction={args.ef_construction}) built in {t_hnsw:.0f} s")
    for ef in args.ef:
        hnsw.set_ef_search(ef)
        lat = latencies(lambda q: hnsw.search(q, 10), queries)
        recall = np.mean([len(set(hnsw.search(q, 10)[1]) & set(t)) / 10 for q, t in zip(queries, truth)])
        recall_r = np.mean(
            [len(set(hnsw.search(q, 10)[1]) & set(t)) / 10 for q, t in zip(random_queries, truth_random)]
        )
        print(
            f"HNSW efSearch {ef}: p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms, "
            f"recall@10 {recall:.3f} (pure random queries: {recall_r:.3f})"
        )

    gal_vec = emb.embed([str(p) for p in gal.paths])
    ids_real = store.add_sightings(
        gal_vec, "random", [{"camera": f"c{c}", "source": str(p)} for p, c in zip(gal.paths, gal.camids)]
    )
    pid_of = dict(zip(ids_real, gal.pids))
    q_vec = emb.embed([str(p) for p in qry.paths])
    hits = 0
    for v, pid in zip(q_vec, qry.pids):
        top = store.search(v, "random", k=1)[0]
        hits += pid_of.get(top.sighting.sighting_id) == pid
    print(
        f"real-embedding check: {hits}/{len(qry)} PKU-Reid-dev queries find their identity at rank 1 among "
        f"{store.count():,} stored vectors (plain rank-1 on the same gallery alone: 0.62 with cross-camera rules)"
    )
    store.close()


if __name__ == "__main__":
    main()
