"""Live cameras on Ray: one restartable actor per camera (`max_restarts=-1`) and one fusion actor holding the
run's identities.

A camera actor reads its source, detects, embeds and tracks, and asks the fusion actor for identity decisions
frame by frame (the same `IdentityFusion` as the single-machine runtime). If a camera actor's process dies, Ray
starts it again: the new incarnation tells the fusion actor, which ends that camera's old tracks, and the stream
resumes; people still in view are re-identified under their old global ids (no id reset). Each camera actor
appends to `OUT/<camera>.txt`; the fusion actor writes `OUT/events.jsonl`. On a cluster of several machines OUT
must be storage every node sees.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from reidkit.errors import ConfigError


class FusionActor:
    """The run's identities; every camera actor's frames go through `update` in arrival order."""

    def __init__(self, config, layout, out_dir: str) -> None:
        from reidkit.pipeline import new_fusion

        self.fusion = new_fusion(config, layout)
        self.events = open(Path(out_dir) / "events.jsonl", "a", encoding="utf-8")
        self.frames: dict[str, int] = {}
        self.restarts: dict[str, int] = {}

    def update(self, camera, time_s, frame, events, tracks, embeddings):
        result = self.fusion.update(camera, time_s, frame, events, tracks, embeddings)
        self.frames[camera] = self.frames.get(camera, 0) + 1
        self.log(result.events)
        return result

    def log(self, events: list[dict]) -> None:
        for event in events:
            self.events.write(json.dumps(event) + "\n")
        self.events.flush()

    def camera_restarted(self, camera: str) -> None:
        """A camera actor came back: its old tracks end; the people stay known."""
        self.restarts[camera] = self.restarts.get(camera, 0) + 1
        ended = self.fusion.forget_camera(camera)
        self.log([{"event": "camera_restarted", "camera": camera, "ended_tracks": ended}])

    def camera_resized(self, camera: str) -> None:
        """A camera's stream came back at another resolution: its tracker started over."""
        ended = self.fusion.forget_camera(camera)
        self.log([{"event": "camera_resized", "camera": camera, "ended_tracks": ended}])

    def stats(self) -> dict:
        return {"identities": self.fusion.count, "frames": dict(self.frames), "restarts": dict(self.restarts)}

    def close(self) -> None:
        self.events.close()


class CameraActor:
    """One camera: its source, tracker and models; frames processed so far survive in the fusion actor."""

    def __init__(self, camera: str, source: str, config, fusion, out_dir: str, max_retries=None) -> None:
        import ray

        from reidkit.pipeline import Pipeline
        from reidkit.sources import open_camera

        self.camera, self.config, self.fusion = camera, config, fusion
        self.pipeline = Pipeline(config)
        if ray.get_runtime_context().was_current_actor_reconstructed:
            ray.get(fusion.camera_restarted.remote(camera))
        self.source = open_camera(source, camera, config.stride, realtime=True, max_retries=max_retries)
        self.mot = open(Path(out_dir) / f"{camera}.txt", "a", encoding="utf-8")

    def pid(self) -> int:
        import os

        return os.getpid()

    def run(self, frames: int | None, offset: int = 0) -> int:
        """Track until `frames` frames were processed (None: until the source ends); returns how many."""
        import ray

        from reidkit.data.mot import mot_line
        from reidkit.sources import Frame

        done = 0
        try:
            for _, image in self.source:
                if frames is not None and done >= frames:
                    break
                frame_no = offset + done
                now = Frame(self.camera, frame_no, time.time(), image, time.monotonic())
                _, tracker, tracks, emb, restarted, _ = self.pipeline.observe([now], {self.camera: self.source.fps})[0]
                if restarted:
                    ray.get(self.fusion.camera_resized.remote(self.camera))
                events, tracks_now = slim_tracks(tracker.events, tracker.tracks)
                decision = ray.get(self.fusion.update.remote(self.camera, now.time, frame_no, events, tracks_now, emb))
                if decision.ended:
                    tracker.end(decision.ended)
                stream = self.source.events()
                if stream:
                    for e in stream:
                        e["camera"] = self.camera
                    self.fusion.log.remote(stream)
                for t in tracks:
                    if t.track_id in decision.ids:
                        self.mot.write(mot_line(frame_no + 1, decision.ids[t.track_id], t.xyxy, t.score) + "\n")
                self.mot.flush()
                done += 1
        finally:
            self.mot.flush()
        return done

    def close(self) -> None:
        self.source.close()
        self.mot.close()


def slim_tracks(events, tracks):
    """What the fusion actor needs of a frame's tracks, small enough to send 10 times a second per camera: every
    track's id, state and box, and appearance only for tracks confirmed this frame (about 0.3 KB a track
    instead of 33 KB)."""
    from dataclasses import replace

    confirmed = {t.track_id for kind, t in events if kind == "confirmed"}

    def slim(t):
        if t.track_id in confirmed:
            return t
        return replace(t, features=[], feature=None, cov=_NO_COV, last_mean=None)

    return [(kind, slim(t)) for kind, t in events], [slim(t) for t in tracks]


_NO_COV = np.zeros((0, 0))


def ray_live(
    sources,
    out_dir,
    config,
    cameras: list[str] | None = None,
    layout=None,
    address: str | None = None,
    max_frames: int | None = None,
    max_retries: int | None = None,
    progress: bool = True,
) -> dict:
    """`reidkit track --cameras FILE --ray ADDRESS` with live sources: until every camera has processed
    `max_frames` frames (None: until Ctrl-C), restarting camera actors that die."""
    from ray.exceptions import RayActorError, WorkerCrashedError

    from reidkit.files import make_dir
    from reidkit.scale.ray_jobs import connected
    from reidkit.sources import camera_names

    out = make_dir(Path(out_dir))
    names = camera_names(sources, cameras)
    for name in names:
        (out / f"{name}.txt").write_text("")
    (out / "events.jsonl").write_text("")
    started = time.perf_counter()
    with connected(address) as ray:
        fusion = ray.remote(FusionActor).options(num_cpus=0, max_restarts=0).remote(config, layout, str(out))
        actor = ray.remote(CameraActor)
        restartable = {"num_cpus": 1, "max_restarts": -1, "max_task_retries": 0, "max_concurrency": 2}
        camera_actors = {
            name: actor.options(name=f"reidkit-camera-{name}", **restartable).remote(
                name, str(src), config, fusion, str(out), max_retries
            )
            for src, name in zip(sources, names)
        }
        running = {a.run.remote(max_frames, 0): name for name, a in camera_actors.items()}
        errors: dict[str, str] = {}
        try:
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                name = running.pop(done[0])
                try:
                    ray.get(done[0])
                except (RayActorError, WorkerCrashedError):  # restarted by Ray: carry on where it stopped
                    so_far = ray.get(fusion.stats.remote())["frames"].get(name, 0)
                    left = None if max_frames is None else max(0, max_frames - so_far)
                    running[camera_actors[name].run.remote(left, so_far)] = name
                except Exception as exc:  # the camera gave up (a stream that never came back)
                    errors[name] = str(exc).strip().splitlines()[-1]
        except KeyboardInterrupt:
            pass
        finally:
            stats = ray.get(fusion.stats.remote())
            for a in camera_actors.values():
                try:
                    ray.get(a.close.remote(), timeout=10)
                except Exception:
                    pass
                ray.kill(a)
            ray.get(fusion.close.remote())
            ray.kill(fusion)
    if errors and not any(stats["frames"].values()):
        raise ConfigError(f"camera {next(iter(errors))}: {next(iter(errors.values()))}")
    rows = {n: len((out / f"{n}.txt").read_text().splitlines()) for n in names}
    summary = {
        "sources": [
            {
                "source": str(s),
                "camera": n,
                "results": str(out / f"{n}.txt"),
                "rows": rows[n],
                "frames": stats["frames"].get(n, 0),
            }
            for s, n in zip(sources, names)
        ],
        "identities": stats["identities"],
        "restarts": stats["restarts"],
        "seconds": round(time.perf_counter() - started, 2),
        "warnings": [f"{n}: {e}" for n, e in errors.items()],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
