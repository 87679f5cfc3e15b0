"""FastAPI app: embed, verify, enrol, search, browse identities; serves the web page.

`create_app` opens the gallery and the model once and mounts the routers of `routes.py`; errors of the
`ReidkitError` family answer JSON with the status of their class (404 not found, 409 conflict, 403 read-only,
503 busy, 400 bad input), never a 500 for a bad request.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from reidkit.errors import ReidkitError, http_status
from reidkit.service import routes
from reidkit.service.state import MAX_UPLOAD, ServiceState

STATIC = Path(__file__).with_name("static")


def create_app(
    db: Union[str, Path],
    model: Optional[str] = None,
    precision: Optional[str] = None,
    api_key: Optional[str] = None,
    max_upload: int = MAX_UPLOAD,
    track: Optional[list[str]] = None,
    track_output: Union[str, Path] = "reidkit-live",
    cameras: Optional[Union[str, Path]] = None,
) -> FastAPI:
    """The ASGI app over one gallery and one re-id model (`model`, else the one the gallery holds, else the
    catalog's default person re-id model). With `track` (sources, or a `cameras` file with sources) a tracking
    run stores its people in the gallery in the background and shows them live under /live."""
    from reidkit import __version__
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.store import is_url
    from reidkit.verify import ReId

    store = open_gallery(db)
    try:
        embedder = Embedder(model or store.model_of("person"), precision)
    except BaseException:
        store.close()
        raise
    service = ServiceState(
        store=store,
        embedder=embedder,
        reid=ReId(embedder=embedder),
        backend="postgresql" if is_url(db) else "sqlite",
        api_key=api_key or None,
        max_upload=max_upload,
    )

    tracking = None
    if track or cameras:
        from reidkit.service.live import start_tracking

        try:
            tracking = start_tracking(str(db), list(track or []), track_output, embedder.name, cameras)
        except BaseException:
            store.close()
            raise

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if tracking is not None:
            tracking.close()
        with service.lock:
            store.close()

    app = FastAPI(
        title="reidkit",
        version=__version__,
        lifespan=lifespan,
        description="Person re-identification: embed, verify, enrol and search a gallery.",
    )
    app.state.reidkit = service
    app.state.live = tracking
    _add_error_handling(app, max_upload)
    from reidkit.service.live import live

    for router in (routes.health, routes.models, routes.gallery, routes.faces, live):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


def _add_error_handling(app: FastAPI, max_upload: int) -> None:
    @app.middleware("http")
    async def limit_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_upload + 64 * 1024:
            return JSONResponse({"detail": f"request larger than {max_upload} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(ReidkitError)
    async def reidkit_error(_: Request, exc: ReidkitError):
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=http_status(exc))
