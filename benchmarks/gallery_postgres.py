"""The PostgreSQL + pgvector gallery at scale: enrol throughput, exact and HNSW search latency, HNSW recall@10.

Same gallery-shaped data as gallery_scale.py (identity directions × 10 sightings at cosine 0.8), stored
through `PostgresGallery` (every batch one transaction), then the HNSW index built in bulk by the server. The server
is `--url`, or a local PostgreSQL 16 + pgvector started from the pgserver wheel in a temporary folder. Usage:
    python benchmarks/gallery_postgres.py [--n 100000] [--queries 200] [--url postgresql://...] [--build-memory 4GB]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402
from gallery_scale import latencies, sightings_of, unit_rows  # noqa: E402

from reidkit.gallery.postgres import PostgresGallery  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", default=None)
    parser.add_argument("--build-memory", default="1GB", help="maintenance_work_mem for the HNSW build")
    parser.add_argument("--ef", type=int, nargs="*", default=[40, 100, 256])
    args = parser.parse_args()
    url = args.url
    if url is None:
        import pgserver

        url = pgserver.get_server(tempfile.mkdtemp(), cleanup_mode="delete").get_uri()
    print(
        f"machine: {machine()}\n{args.n:,} vectors of {args.dim} dims, PostgreSQL + pgvector "
        f"(HNSW m=16, ef_construction=200)\n"
    )
    rng = np.random.default_rng(0)
    exact = PostgresGallery(url, index="exact")
    hnsw = PostgresGallery(url, index="hnsw", build_memory=args.build_memory)
    version = exact._db.execute(
        "SELECT version(), (SELECT extversion FROM pg_extension WHERE extname='vector')"
    ).fetchone()
    print(f"server: {version[0].split(' on ')[0]}, pgvector {version[1]}")
    centres = unit_rows(rng, max(1, args.n // 10), args.dim)
    batch = 5_000
    start = time.perf_counter()
    for lo in range(0, args.n, batch):
        n = min(batch, args.n - lo)
        exact.add_sightings(sightings_of(rng, centres[(lo + np.arange(n)) // 10]), "random", [{"camera": "bench"}] * n)
    t_enrol = time.perf_counter() - start
    print(f"enrol: {args.n / t_enrol:,.0f} sightings/s by COPY, transactions of {batch:,} ({t_enrol:.0f} s)")
    start = time.perf_counter()
    hnsw.build_index()
    print(f"HNSW index built by the server in {time.perf_counter() - start:.0f} s")
    exact._db.execute("ANALYZE sightings")
    queries = sightings_of(rng, centres[rng.integers(0, len(centres), args.queries)])
    lat_exact = latencies(lambda q: exact.search(q, "random", 10), queries)
    truth = [{m.sighting.sighting_id for m in exact.search(q, "random", 10)} for q in queries]
    print(f"exact search: p50 {np.percentile(lat_exact, 50):.1f} ms, p99 {np.percentile(lat_exact, 99):.1f} ms")
    for ef in args.ef:
        hnsw.ef_search = ef
        lat_hnsw = latencies(lambda q: hnsw.search(q, "random", 10), queries)
        recall = np.mean(
            [
                len({m.sighting.sighting_id for m in hnsw.search(q, "random", 10)} & t) / 10
                for q, t in zip(queries, truth)
            ]
        )
        print(
            f"HNSW ef_search {ef}: p50 {np.percentile(lat_hnsw, 50):.2f} ms, p99 {np.percentile(lat_hnsw, 99):.2f} ms, "
            f"recall@10 {recall:.3f} vs exact"
        )
    exact.close()
    hnsw.close()


if __name__ == "__main__":
    main()
