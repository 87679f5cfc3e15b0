"""Archive indexing and tracking on Ray; the only module that imports Ray.

A pool of plain actors (`SegmentWorker`), each loading its OpenVINO models once, takes video segments; paths
travel, frames never go through the object store. The driver keeps two segments in flight per worker, gathers
reports as they finish, and resubmits a segment whose worker died (the actor is restarted by Ray, on another node
if its node is gone). Input errors (a corrupt video) come back as values and are reported by file name.

Indexing writes sightings from the workers straight into a PostgreSQL gallery (COPY), or hands them to the
driver for an embedded SQLite gallery. Sightings are keyed by (source, frame, box), so a retried segment never
stores a sighting twice. Tracking returns tracklets; the driver stitches and links them (`scale.stitch`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from reidkit.errors import ConfigError, ReidkitError
from reidkit.scale.segments import Segment
from reidkit.scale.work import SegmentReport

PASSED_ENV = ("REIDKIT_MODELS", "REIDKIT_DATA", "REIDKIT_CACHE")
MAX_RETRIES = 5  # per segment, after its worker died
RETRY_WAIT_S = 1.0  # a worker that just failed gets no new segment for this long (doubling per failure)


def _ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError("--ray needs Ray: pip install 'reidkit[ray]'") from None
    return ray


@contextlib.contextmanager
def connected(address: str | None = None, num_cpus: int | None = None):
    """Ray for a run: an existing connection is used as it is; "local" (or None) starts a local Ray for the
    run and stops it after; "auto" or "ray://host:port" joins an existing cluster."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    if address not in (None, "", "local", "auto"):
        _reachable(address)
    env = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
    kwargs = {"include_dashboard": False, "log_to_driver": False, "runtime_env": {"env_vars": env}}
    try:
        if address in (None, "", "local"):
            ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except Exception as exc:  # Ray's own errors: no cluster there, version mismatch, ...
        raise ConfigError(f"cannot connect to Ray at {address or 'a local cluster'}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse at once a cluster address nobody answers on (Ray itself would wait for minutes)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ConfigError(f"--ray needs local, auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address}: {exc.strerror or exc}") from None


class SegmentWorker:
    """One worker of the pool: models loaded on first use, kept for every segment after."""

    def __init__(self, task: str, settings: dict) -> None:
        self.task, self.settings = task, settings
        self._tool = None
        self._store = None

    def _index_tool(self):
        from reidkit.attributes import AttributeRecognizer
        from reidkit.detect import Detector
        from reidkit.embed import Embedder
        from reidkit.gallery.ops import PersonFinder

        s = self.settings
        attributes = AttributeRecognizer() if s.get("attributes", True) else None
        finder = PersonFinder(Embedder(s.get("model"), s.get("precision")), Detector(s.get("detector"), confidence=0.5))
        finder.attributes = attributes
        return finder

    def _track_tool(self):
        from reidkit.pipeline import Pipeline

        return Pipeline(self.settings["config"])

    def run(self, segment: Segment) -> SegmentReport:
        from reidkit.scale.work import index_segment, track_segment, worker_name

        try:
            if self._tool is None:
                self._tool = self._index_tool() if self.task == "index" else self._track_tool()
            if self.task == "index":
                db = self.settings.get("db")
                if db and self._store is None and db.startswith(("postgresql://", "postgres://")):
                    from reidkit.gallery import open_gallery

                    self._store = open_gallery(db)
                return index_segment(self._tool, segment, self.settings.get("stride", 10), self._store)
            return track_segment(self._tool, segment)
        except ReidkitError as exc:  # a bad model or gallery: every segment would fail the same way
            return SegmentReport(segment, worker_name(), error=f"worker: {exc}")


def default_threads(cpus_per_worker: float, free_share: float = 1.0) -> int:
    """Inference threads per worker: twice its CPUs on an idle machine, times the share of CPUs free (at least
    one)."""
    return max(1, int(round(2 * cpus_per_worker * min(max(free_share, 0.0), 1.0))))


def cpu_busy_share(before: list[int], after: list[int]) -> float:
    """The share of CPU time spent busy between two readings of /proc/stat's `cpu` line (user … steal)."""
    spent = [b - a for a, b in zip(before, after)]
    total = sum(spent)
    idle = spent[3] + (spent[4] if len(spent) > 4 else 0)  # idle + iowait
    return 1.0 - idle / total if total > 0 else 0.0


def _free_share(sample_s: float = 0.5) -> float:
    """The share of this machine's CPUs not busy over `sample_s` (1.0 where /proc/stat cannot be read)."""

    def reading() -> list[int]:
        with open("/proc/stat", encoding="ascii") as fh:
            return [int(v) for v in fh.readline().split()[1:9]]

    try:
        before = reading()
        time.sleep(sample_s)
        return 1.0 - cpu_busy_share(before, reading())
    except (OSError, ValueError):
        return 1.0


def _one_machine(ray) -> bool:
    """Whether the Ray cluster is this machine alone (then its load is what the workers share)."""
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return len(nodes) == 1 and nodes[0].get("NodeManagerAddress") == ray.util.get_node_ip_address()
    except Exception:  # an older or remote API: assume a cluster of its own
        return False


def run_pool(
    ray,
    segments: list[Segment],
    task: str,
    settings: dict,
    workers: int | None = None,
    on_report: Callable[[SegmentReport], None] | None = None,
    progress: bool = True,
    cpus_per_worker: float = 1.0,
    threads: int | None = None,
) -> dict:
    """Run every segment on a pool of actors; returns {"retried", "failed", "workers": {...}}. Each actor asks
    Ray for `cpus_per_worker` CPUs and runs inference on `threads` threads, by default twice its CPUs (one
    worker's decoding and pre-processing then overlap another's inference: on 2 quiet cores 0.95–1.09 of a
    single process against 0.80 with one thread per CPU), scaled down by the share of this machine's CPUs other
    programs keep busy when the pool starts, on a one-machine cluster (threads that wait for a core slow every
    worker's inference: on 2 cores beside a busy process 0.79 of a single process, 0.89 with one thread each;
    docs/benchmarks.md)."""
    from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError
    from tqdm import tqdm

    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
    threads = str(threads or default_threads(cpus_per_worker, _free_share() if _one_machine(ray) else 1.0))
    actor = ray.remote(SegmentWorker).options(
        num_cpus=cpus_per_worker,
        max_restarts=-1,
        max_task_retries=0,
        runtime_env={"env_vars": {"REIDKIT_THREADS": threads}},
    )
    pool = [actor.remote(task, settings) for _ in range(min(workers, max(1, len(segments))))]
    total = sum(s.frames or 0 for s in segments) or None
    bar = tqdm(total=total, unit="frame", desc=f"{task} on {len(pool)} workers", disable=not progress or None)
    todo = list(range(len(segments)))
    tries = {k: 0 for k in todo}
    running: dict = {}  # object ref -> (segment number, actor)
    load = {id(a): 0 for a in pool}
    resting = {id(a): (0.0, 0) for a in pool}  # actor -> (until when, failures in a row)
    stats: dict = {"retried": 0, "failed": [], "workers": {}, "threads": int(threads)}
    try:
        while todo or running:
            now = time.monotonic()
            ready = [a for a in pool if load[id(a)] < 2 and resting[id(a)][0] <= now]
            while todo and ready:
                a = min(ready, key=lambda x: load[id(x)])
                k = todo.pop(0)
                running[a.run.remote(segments[k])] = (k, a)
                load[id(a)] += 1
                ready = [a for a in ready if load[id(a)] < 2]
            if not running:  # every worker is resting after a failure
                time.sleep(min(resting[id(a)][0] for a in pool) - now)
                continue
            done, _ = ray.wait(list(running), num_returns=1, timeout=RETRY_WAIT_S)
            if not done:
                continue
            ref = done[0]
            k, a = running.pop(ref)
            load[id(a)] -= 1
            try:
                report = ray.get(ref)
            except (RayActorError, WorkerCrashedError, RayTaskError) as exc:  # the worker died: try again
                failures = resting[id(a)][1] + 1
                resting[id(a)] = (time.monotonic() + RETRY_WAIT_S * 2 ** min(failures - 1, 5), failures)
                tries[k] += 1
                if tries[k] > MAX_RETRIES:
                    stats["failed"].append({"file": segments[k].path, "segment": segments[k].index, "reason": str(exc)})
                else:
                    stats["retried"] += 1
                    todo.append(k)
                bar.set_postfix(retried=stats["retried"], failed=len(stats["failed"]))
                continue
            resting[id(a)] = (0.0, 0)
            w = stats["workers"].setdefault(report.worker, {"segments": 0, "frames": 0, "seconds": 0.0})
            w["segments"] += 1
            w["frames"] += report.frames
            w["seconds"] += report.seconds
            if on_report is not None:
                on_report(report)
            bar.update(report.segment.frames or report.frames)
            bar.set_postfix(retried=stats["retried"], failed=len(stats["failed"]))
    finally:
        bar.close()
        for a in pool:
            with contextlib.suppress(Exception):
                ray.kill(a)
    for w in stats["workers"].values():
        w["seconds"] = round(w["seconds"], 2)
        w["frames_per_second"] = round(w["frames"] / max(w["seconds"], 1e-9), 2)
    return stats


def ray_index(
    paths,
    db: str,
    address: str | None = None,
    stride: int = 10,
    camera: str | None = None,
    model: str | None = None,
    detector: str | None = None,
    attributes: bool = True,
    segment_s: float = 600.0,
    workers: int | None = None,
    progress: bool = True,
    cpus_per_worker: float = 1.0,
    threads: int | None = None,
) -> dict:
    """`reidkit gallery index --ray`: the same sightings as a single-process index, made by a worker pool."""
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import media_files
    from reidkit.scale.work import media_segments

    files = media_files(paths)
    segments, skipped = media_segments(files, camera, segment_s)
    started = time.perf_counter()
    counts = {"frames": 0, "sightings": 0, "found": 0}
    postgres = db.startswith(("postgresql://", "postgres://"))
    warnings: list[str] = []
    with open_gallery(db, create=True) as store:
        if model is None:
            model = store.model_of("person")
        before = store.count()

        def take(report: SegmentReport) -> None:
            if report.error:
                skipped.append({"file": report.segment.path, "reason": report.error})
                return
            counts["frames"] += report.frames
            counts["sightings"] += report.stored
            if report.payload is not None:
                batch = report.payload
                counts["sightings"] += len(store.add_sightings(batch.vectors, batch.model, batch.infos, batch.thumbs))
                counts["found"] += len(batch.infos)

        settings = {
            "db": db if postgres else None,
            "stride": stride,
            "model": model,
            "detector": detector,
            "attributes": attributes,
        }
        with connected(address) as ray:
            stats = run_pool(ray, segments, "index", settings, workers, take, progress, cpus_per_worker, threads)
        if postgres and stats["retried"]:
            # a worker that died after its COPY committed reported nothing, and its segment's second run stored
            # only what was missing: the gallery itself says how many sightings this job added
            counts["sightings"] = store.count() - before
    bad = {s["file"] for s in skipped}
    return {
        "files": len({s.path for s in segments} - bad),
        "frames": counts["frames"],
        "sightings": counts["sightings"],
        "skipped": skipped + stats["failed"],
        "warnings": warnings,
        "segments": len(segments),
        "retried": stats["retried"],
        "workers": stats["workers"],
        "threads_per_worker": stats["threads"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def ray_track(
    sources,
    out_dir,
    config,
    cameras: list[str] | None = None,
    layout=None,
    address: str | None = None,
    segment_s: float = 600.0,
    overlap_s: float = 5.0,
    workers: int | None = None,
    progress: bool = True,
    reassociate: bool = True,
) -> dict:
    """`reidkit track FILES --ray`: segments tracked by a worker pool, stitched and linked on the driver with the
    same fusion rules as the single-machine runtime, then (`reassociate`, the default for files) re-associated
    as a single-machine run is; writes `<camera>.txt`, `events.jsonl` (with the zone and line events of the
    cameras file's zones, replayed on the final ids), `summary.json` with the final ids."""
    import json

    from reidkit.files import atomic_write, make_dir
    from reidkit.pipeline import new_fusion
    from reidkit.reassociate import relabel_events, rewrite_mot
    from reidkit.scale.stitch import book_of, link, stitch
    from reidkit.scale.work import media_segments
    from reidkit.sources import camera_names, is_live

    if any(is_live(str(s)) for s in sources):
        raise ConfigError("--ray tracks files; live cameras on Ray take a cameras file (--cameras) instead")
    out = make_dir(Path(out_dir))
    names = camera_names(sources, cameras)
    segments: list[Segment] = []
    skipped: list[dict] = []
    for source, name in zip(sources, names):
        found, bad = media_segments([source], name, segment_s, overlap_s)
        segments += found
        skipped += bad
    tracklets = []
    started = time.perf_counter()

    def take(report: SegmentReport) -> None:
        if report.error:
            skipped.append({"file": report.segment.path, "reason": report.error})
        elif report.payload:
            tracklets.extend(report.payload)

    with connected(address) as ray:
        stats = run_pool(ray, segments, "track", {"config": config}, workers, take, progress)
    fusion = new_fusion(config, layout)
    tracks = stitch(tracklets)
    ids, events = link(tracks, fusion)
    events.sort(key=lambda e: e["time_s"])
    book = book_of(tracks, ids)
    labels = {t.key: t.online_id for t in book.tracklets.values()}
    result = None
    if reassociate:
        from reidkit.reassociate import ReassociationConfig
        from reidkit.reassociate import reassociate as reassociate_book

        result = reassociate_book(book, fusion.gallery.calibration, layout, ReassociationConfig())
        labels = result.labels
        events = relabel_events([*events, *result.events, {"event": "reassociated", **result.summary()}], labels)
    if layout is not None and layout.has_zones:  # zone visits and line crossings of the stitched tracks
        from reidkit.reassociate import interleaved
        from reidkit.zones import replay_book

        fps = {s.camera: s.fps or 25.0 for s in segments}  # the workers' clock (work.track_segment)
        events = interleaved(events, replay_book(layout, book, labels, names, fps))
    rewrite_mot(out, book, labels, names)
    with atomic_write(out / "events.jsonl") as fh:
        fh.writelines(json.dumps(event) + "\n" for event in events)
    rows = {name: sum(len(t.rows) for t in book.tracklets.values() if t.camera == name) for name in names}
    seconds = time.perf_counter() - started
    frames = int(sum(w["frames"] for w in stats["workers"].values()))
    summary = {
        "sources": [
            {"source": str(s), "camera": n, "results": str(out / f"{n}.txt"), "rows": rows[n]}
            for s, n in zip(sources, names)
        ],
        "identities": len(set(labels.values())),
        "segments": len(segments),
        "tracklets": len(tracklets),
        "retried": stats["retried"],
        "skipped": skipped + stats["failed"],
        "workers": stats["workers"],
        "frames": frames,
        "seconds": round(seconds, 2),
        "frames_per_second": round(frames / max(seconds, 1e-9), 2),
        "warnings": [f"skipped {s['file']}: {s['reason']}" for s in skipped + stats["failed"]],
    }
    if result is not None:
        summary["online_identities"] = len(set(ids.values()))
        summary["reassociation"] = result.summary()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary
