"""FastAPI app: embed, verify, enrol, search, browse identities; serves the web page.

`create_app` opens the gallery and the model once and mounts the routers of `routes.py`; errors of the
`ReidkitError` family answer JSON with the status of their class (404 not found, 409 conflict, 403 read-only,
503 busy, 400 bad input), never a 500 for a bad request.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from reidkit.errors import ReidkitError, http_status
from reidkit.service import routes
from reidkit.service.state import MAX_UPLOAD, STATIC, ServiceState


def create_app(
    db: Union[str, Path],
    model: Optional[str] = None,
    precision: Optional[str] = None,
    api_key: Optional[str] = None,
    max_upload: int = MAX_UPLOAD,
    keys: Optional[Union[str, Path]] = None,
    track: Optional[list[str]] = None,
    track_output: Union[str, Path] = "reidkit-live",
    cameras: Optional[Union[str, Path]] = None,
    retention=None,
    blur: str = "none",
) -> FastAPI:
    """The ASGI app over one gallery and one re-id model (`model`, else the one the gallery holds, else the
    catalog's default person re-id model). With `api_key` (an admin key) or `keys` (a keys file of named keys with
    roles, see auth.py) every route but /healthz and /login needs a key or a page session. With `track` (sources, or a `cameras` file with sources) a tracking
    run stores its people in the gallery in the background and shows them live under /live. With `retention` (a
    RetentionPolicy) sightings older than it are pruned at start and then periodically. Searches, views of a
    person, frames, enrolments and deletions go to the gallery's audit log under the key's name."""
    from reidkit import __version__
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.store import is_url
    from reidkit.service.auth import KeyRing
    from reidkit.verify import ReId

    keyring = KeyRing.from_options(api_key, keys)  # before the gallery: a bad keys file leaves nothing open
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
        keys=keyring,
        max_upload=max_upload,
    )

    tracking = None
    if track or cameras:
        from reidkit.service.live import start_tracking

        try:
            tracking = start_tracking(str(db), list(track or []), track_output, embedder.name, cameras, blur)
        except BaseException:
            store.close()
            raise

    if store.read_only:
        logging.getLogger("reidkit.service").warning(
            "%s is read-only: the audit log cannot be written while it is served", store.location
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from reidkit.gallery.retention import RetentionLoop

        app.state.retention = RetentionLoop(store, retention, service.lock).start() if retention else None
        yield
        if app.state.retention is not None:
            app.state.retention.close()
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
    _add_authentication(app)
    from reidkit.service.live import live

    for router in (routes.health, routes.login, routes.models, routes.gallery, routes.faces, live):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


# Routes anyone may call: liveness (which says more only to a key holder) and the login page.
PUBLIC = frozenset({("GET", "/healthz"), ("HEAD", "/healthz"), ("GET", "/login"), ("POST", "/login")})
PAGES = ("/", "/live", "/report")  # a browser without a session is sent to the login page instead of a 401


def _add_authentication(app: FastAPI) -> None:
    """The gate in front of every route, the OpenAPI docs and streams included (fail closed: a route added
    later is protected too): a request needs a key or a session unless it is in PUBLIC."""
    from urllib.parse import quote

    from fastapi.responses import RedirectResponse

    from reidkit.service.state import authenticate

    @app.middleware("http")
    async def gate(request: Request, call_next):
        who = authenticate(request)
        if who is None and (request.method, request.url.path) not in PUBLIC:
            if request.method == "GET" and request.url.path in PAGES:
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return JSONResponse(
                {"detail": "missing or wrong API key: send X-API-Key, or sign in at /login", "error": "Unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": "X-API-Key"},
            )
        request.state.principal = who
        return await call_next(request)


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


def tls_options(certfile: Optional[Path], keyfile: Optional[Path]) -> dict:
    """uvicorn's TLS arguments for `--certfile/--keyfile`, checked: both or neither, both readable PEM files."""
    from reidkit.errors import ConfigError, NotFoundError

    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        raise ConfigError("--certfile and --keyfile go together: give both to serve HTTPS")
    for flag, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if not Path(path).is_file():
            raise NotFoundError(f"{flag} {path} does not exist")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(certfile), str(keyfile))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"--certfile/--keyfile cannot be used: {exc}") from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
