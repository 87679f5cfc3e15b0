"""`reidkit serve --track SOURCE...`: tracking runs in the service's background, storing sightings in the served
gallery, and its live preview is mounted under /live (every camera's annotated MJPEG stream, who is visible
now, each person linked to their gallery history)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from reidkit.errors import NotFoundError

live = APIRouter(tags=["live"])


@dataclass
class LiveTracking:
    """A tracking run in a background thread, its preview hub and how to stop it."""

    hub: object
    thread: threading.Thread
    output: Path = Path("reidkit-live")
    stop: threading.Event = field(default_factory=threading.Event)
    error: list = field(default_factory=list)

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.thread.join(timeout)


def start_tracking(
    db: str, sources: list[str], output: str | Path, model: str | None, cameras_file=None, blur: str = "none"
) -> LiveTracking:
    """Start `run_videos` on the sources in a thread, storing sightings in the gallery `db` (its own connection)
    with the gallery's re-id model, and feeding a preview hub."""
    from reidkit.gallery import open_gallery
    from reidkit.pipeline import PipelineConfig, RunOptions, run_videos
    from reidkit.preview import PreviewHub
    from reidkit.sources import camera_names
    from reidkit.track.plan import plan_cameras

    sources, names, layout = plan_cameras(list(sources), [], cameras_file)
    store = open_gallery(db, create=True)
    reid = model or store.model_of("person")
    hub = PreviewHub(camera_names(sources, names))
    tracking = LiveTracking(hub, threading.Thread(), Path(output))
    options = RunOptions(
        write_video=False, progress=False, gallery=store, realtime=True, hub=hub, stop=tracking.stop, blur=blur
    )

    def run() -> None:
        try:
            run_videos(sources, output, PipelineConfig(reid=reid), names, layout, options)
        except Exception as exc:  # shown on the page's JSON, the service keeps serving the gallery
            tracking.error.append(str(exc))
        finally:
            store.close()

    tracking.thread = threading.Thread(target=run, name="reidkit-live-tracking", daemon=True)
    tracking.thread.start()
    return tracking


def _tracking(request: Request) -> LiveTracking:
    tracking = getattr(request.app.state, "live", None)
    if tracking is None:
        raise NotFoundError("no live tracking here: start the service with `reidkit serve --track SOURCE`")
    return tracking


@live.get("/live", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> HTMLResponse:
    return HTMLResponse(_tracking(request).hub.page("/live", report="/report"))


@live.get("/live/identities.json")
def visible(request: Request) -> JSONResponse:
    """The people visible now in each camera: global id, box, gallery identity."""
    tracking = _tracking(request)
    body = dict(tracking.hub.visible)
    if tracking.error:
        return JSONResponse({"error": tracking.error[0], "cameras": body}, status_code=500)
    return JSONResponse(body)


@live.get("/live/history/{identity}.json")
def history(identity: str, request: Request) -> JSONResponse:
    """One person's events in this run."""
    from reidkit.service.state import audited, state

    found = _tracking(request).hub.history_of(identity)
    if found is None:
        raise NotFoundError(f"no identity {identity} in this run")
    with state(request).lock:
        audited(request, "history", person=identity, events=len(found))
    return JSONResponse(found)


@live.get("/live/stream/{camera}.mjpg")
def stream(camera: str, request: Request) -> StreamingResponse:
    """A camera's annotated frames as MJPEG (at most 10 frames/s)."""
    hub = _tracking(request).hub
    if camera not in hub.cameras:
        raise NotFoundError(f"no camera {camera!r}")
    return StreamingResponse(hub.mjpeg(camera), media_type="multipart/x-mixed-replace; boundary=frame")


@live.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report_page(request: Request) -> HTMLResponse:
    """The live run's site report (visitors, dwell, zones, lines, moves), refreshed every 30 s."""
    from reidkit.site_report import render_html, report_run

    return HTMLResponse(render_html(report_run(_tracking(request).output), refresh_s=30))


@live.get("/report.json")
def report_json(request: Request) -> JSONResponse:
    """The live run's site report as JSON."""
    from reidkit.site_report import report_run

    return JSONResponse(report_run(_tracking(request).output))
