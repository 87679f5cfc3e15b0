"""Scale-out costs, every figure measured in the same run on this machine (docs/scaling.md uses them).

1. Indexing 8 copies of the shared videos (`data/videos`: an MP4 of 1,394 frames and a raw H.264 stream) with
   `--stride 10`: single process vs a local Ray pool (one worker per core, one inference thread each), wall time
   including model loading on both sides; sighting counts must be identical.
2. Unit costs: frames/s per core for detect + embed (+ attributes) when indexing, and for detect + track + embed
   when tracking; bytes per sighting in SQLite and PostgreSQL; sightings/s written into PostgreSQL (COPY).

    python benchmarks/ray_scale.py [--copies 8]
    python benchmarks/ray_scale.py --only-pools     # plain actors vs Ray Data (pip install 'ray[data]' first)
    python benchmarks/ray_scale.py --only-postgres  # the database figures
    python benchmarks/ray_scale.py --busy 1 --copies 4  # pool settings beside a busy-loop process (a busy machine)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import data_root, machine  # noqa: E402


def single(files, db: str) -> tuple[dict, float]:
    from reidkit.attributes import AttributeRecognizer
    from reidkit.detect import Detector
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import PersonFinder, index_media

    start = time.perf_counter()
    finder = PersonFinder(Embedder(), Detector(confidence=0.5), attributes=AttributeRecognizer())
    with open_gallery(db, create=True) as store:
        summary = index_media(store, finder, files, 10, progress=False)
    return summary, time.perf_counter() - start


def on_ray(files, db: str, **pool) -> tuple[dict, float, float]:
    import ray

    from reidkit.scale.ray_jobs import ray_index

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    up = time.perf_counter() - start
    try:
        start = time.perf_counter()
        summary = ray_index(files, db, stride=10, progress=False, **pool)
        took = time.perf_counter() - start
    finally:
        ray.shutdown()
    return summary, took, up


def _spin() -> None:
    while True:
        pass


def under_load(files, tmp: Path, busy: int) -> None:
    """Single process vs Ray pool settings while `busy` other processes each keep a core busy (a shared machine)."""
    import multiprocessing

    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        a, t_single = single(files, str(tmp / "single.db"))
        rows = [("single process", t_single, a["sightings"])]
        for label, pool in (
            ("Ray default (workers = CPUs, threads from the free CPUs)", {}),
            ("Ray 2 workers × 2 threads (the default on an idle machine)", {"workers": 2, "threads": 2}),
            ("Ray 2 workers × 1 thread", {"workers": 2, "threads": 1}),
            ("Ray 1 worker × 2 threads", {"workers": 1, "threads": 2}),
        ):
            b, took, _ = on_ray(files, str(tmp / f"ray{len(rows)}.db"), **pool)
            rows.append((f"{label}: {len(b['workers'])} × {b.get('threads_per_worker', '?')}", took, b["sightings"]))
    finally:
        for p in spinners:
            p.terminate()
    print(f"### Indexing {len(files)} files with {busy} busy-loop process(es) beside it\n")
    print("| run | seconds | sightings | × single process |\n|---|---|---|---|")
    for label, took, count in rows:
        print(f"| {label} | {took:.1f} | {count} | {t_single / took:.2f} |")


def pools(files) -> None:
    """Plain actors (the library's pool) against Ray Data's map_batches with an actor pool, both writing into
    PostgreSQL from the workers; the same segments, the same worker count and threads."""
    try:
        import pgserver
    except ModuleNotFoundError:
        print("pgserver missing: pool comparison skipped")
        return
    import ray

    from reidkit.gallery import open_gallery
    from reidkit.scale.ray_jobs import SegmentWorker, run_pool
    from reidkit.scale.work import media_segments

    segments, _ = media_segments(files, None, 600.0)
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        try:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            import psycopg

            admin = server.get_uri()
            urls = {}
            for name in ("actors", "data"):
                with psycopg.connect(admin, autocommit=True) as con:
                    con.execute(f"CREATE DATABASE {name}")
                urls[name] = re.sub(r"/postgres(\?|$)", rf"/{name}\1", admin)
                open_gallery(urls[name], create=True).close()
            settings = {"stride": 10, "attributes": True}
            start = time.perf_counter()
            run_pool(ray, segments, "index", {**settings, "db": urls["actors"]}, workers, progress=False)
            t_actors = time.perf_counter() - start

            class Index:
                def __init__(self):
                    self.worker = SegmentWorker("index", {**settings, "db": urls["data"]})

                def __call__(self, batch):
                    reports = [self.worker.run(segments[int(k)]) for k in batch["k"]]
                    return {"k": batch["k"], "stored": np.array([r.stored for r in reports])}

            start = time.perf_counter()
            rows = (
                ray.data.from_items([{"k": k} for k in range(len(segments))], override_num_blocks=len(segments))
                .map_batches(
                    Index,
                    batch_size=1,
                    concurrency=workers,
                    num_cpus=1,
                    runtime_env={"env_vars": {"REIDKIT_THREADS": "2"}},
                )
                .take_all()
            )
            t_data = time.perf_counter() - start
            counts = []
            for name in ("actors", "data"):
                with open_gallery(urls[name], read_only=True) as store:
                    counts.append(store.count())
        finally:
            ray.shutdown()
            server.cleanup()
    print(f"\n### Pool: plain actors vs Ray Data ({len(segments)} segments, {workers} workers, PostgreSQL)\n")
    print("| pool | seconds | sightings |\n|---|---|---|")
    print(f"| plain actors (reidkit's) | {t_actors:.1f} | {counts[0]} |")
    print(f"| Ray Data map_batches, actor pool | {t_data:.1f} | {counts[1]} ({len(rows)} segments) |")


def tracking_rate(video: Path, frames: int = 300) -> float:
    from reidkit.pipeline import Pipeline, PipelineConfig
    from reidkit.video import read_frames

    p = Pipeline(PipelineConfig())
    items = list(read_frames(video, limit=frames))
    p.embed(items[0][1], p.detect(items[0][1]))
    start = time.perf_counter()
    for _ in p.process(items, "cam", 10.0):
        pass
    return len(items) / (time.perf_counter() - start)


def postgres_costs(n: int = 20000) -> dict | None:
    try:
        import pgserver
    except ModuleNotFoundError:
        return None
    from reidkit.gallery import open_gallery

    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        try:
            url = server.get_uri()
            rng = np.random.default_rng(0)
            vectors = rng.normal(size=(n, 256)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            thumb = rng.bytes(3500)  # as large as a 64-px-high JPEG thumbnail, and as incompressible
            infos = [{"source": "bench.mp4", "camera": "c", "frame": k, "box": [0, 0, 10, 20]} for k in range(n)]
            with open_gallery(url, create=True) as store:
                start = time.perf_counter()
                for k in range(0, n, 2000):
                    store.add_sightings(vectors[k : k + 2000], "m", infos[k : k + 2000], [thumb] * 2000)
                took = time.perf_counter() - start
            import psycopg

            with psycopg.connect(url) as con:
                size = con.execute("SELECT pg_total_relation_size('sightings')").fetchone()[0]
        finally:
            server.cleanup()
    return {"rows_per_s": n / took, "bytes_per_sighting": size / n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--only-postgres", action="store_true", help="only the PostgreSQL write costs")
    parser.add_argument("--only-pools", action="store_true", help="only plain actors vs Ray Data")
    parser.add_argument("--busy", type=int, default=None, help="only the pool settings beside N busy-loop processes")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    if args.only_postgres:
        print_postgres()
        return
    if args.only_pools or args.busy is not None:
        videos = [p for p in sorted((data_root() / "videos").iterdir()) if p.suffix in (".mp4", ".264")]
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for k in range(args.copies):
                for v in videos:
                    files.append(Path(tmp) / f"copy{k}-{v.name}")
                    files[-1].symlink_to(v)
            pools(files) if args.only_pools else under_load(files, Path(tmp), args.busy)
        return
    videos = [p for p in sorted((data_root() / "videos").iterdir()) if p.suffix in (".mp4", ".264")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = []
        for k in range(args.copies):
            for v in videos:
                link = tmp / "footage" / f"copy{k}-{v.name}"
                link.parent.mkdir(exist_ok=True)
                link.symlink_to(v)
                files.append(link)
        a, t_single = single(files, str(tmp / "single.db"))
        b, t_ray, up = on_ray(files, str(tmp / "ray.db"))
        print(f"### Indexing {len(files)} files ({a['frames']} frames at stride 10)\n")
        print("| run | seconds | frames/s | sightings | × single process |\n|---|---|---|---|---|")
        print(f"| single process | {t_single:.1f} | {a['frames'] / t_single:.1f} | {a['sightings']} | 1.00 |")
        print(
            f"| local Ray, {len(b['workers'])} workers | {t_ray:.1f} | {b['frames'] / t_ray:.1f} | {b['sightings']} | "
            f"{t_single / t_ray:.2f} |"
        )
        print(
            f"\nRay start-up (not in the figure above): {up:.1f} s; identical count: {a['sightings'] == b['sightings']}"
        )
        for name, w in b["workers"].items():
            print(f"- worker {name}: {w['segments']} segments, {w['frames_per_second']} frames/s")
        size = (tmp / "single.db").stat().st_size
        print(f"\nSQLite: {size / max(a['sightings'], 1):.0f} bytes per sighting (index, thumbnails, attributes)")
    cores = os.cpu_count() or 1
    print(f"indexing: {a['frames'] / t_single / cores:.1f} frames/s per core (detect + embed + attributes)")
    rate = tracking_rate(data_root() / "PETS09-S2L1/vtest.mp4")
    print(f"tracking: {rate / cores:.1f} frames/s per core (detect + track + embed, PETS09 480×360)")
    print_postgres()


def print_postgres() -> None:
    pg = postgres_costs()
    if pg:
        print(
            f"PostgreSQL: {pg['rows_per_s']:.0f} sightings/s written (COPY, 2,000 per transaction), "
            f"{pg['bytes_per_sighting']:.0f} bytes per sighting (table + HNSW-less indexes)"
        )


if __name__ == "__main__":
    main()
