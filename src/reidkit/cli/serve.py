"""`reidkit serve`: the REST service and web page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer


def serve(
    db: str = typer.Option("gallery.db", "--db", help="Gallery file or postgresql://URL."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Re-id model (default: the catalog's)."),
    precision: Optional[str] = typer.Option(None, "--precision", "-p"),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", help="Require this admin X-API-Key (or $REIDKIT_API_KEY) on every route."
    ),
    keys: Optional[Path] = typer.Option(
        None, "--keys", help="Keys file of named viewer/admin keys (hashed; `reidkit keys add` writes it)."
    ),
    certfile: Optional[Path] = typer.Option(None, "--certfile", help="TLS certificate (PEM): serve HTTPS."),
    keyfile: Optional[Path] = typer.Option(None, "--keyfile", help="TLS private key (PEM) for --certfile."),
    track: Optional[list[str]] = typer.Option(
        None, "--track", help="Also track this source (file, URL, webcam) into the gallery; live view at /live."
    ),
    cameras: Optional[Path] = typer.Option(None, "--cameras", help="Cameras TOML for --track (sources and rules)."),
    track_output: Path = typer.Option(
        Path("reidkit-live"), "--track-output", help="Folder for the tracking run's MOT files and events."
    ),
    blur: str = typer.Option(
        "none", "--blur", help="With --track: mask people in /live and thumbnails: faces, people."
    ),
    settings: Optional[Path] = typer.Option(
        None, "--settings", help='Service settings TOML: [retention] older_than = "30d", keep_enrolled, every.'
    ),
    retention: Optional[str] = typer.Option(
        None,
        "--retention",
        help="Prune sightings older than this (30d, 12h) at start and hourly; overrides --settings.",
    ),
) -> None:
    """Serve embed / verify / gallery endpoints and the search page (OpenAPI at /docs); with --track, a live
    tracking run fills the gallery and shows every camera at /live. With --api-key or --keys every route needs a
    key (X-API-Key) or a page session (sign in at /login); --certfile/--keyfile serve HTTPS. --retention or a
    settings file's [retention] prunes old sightings; every search and view is kept in `reidkit gallery audit`."""
    import socket

    import uvicorn

    from reidkit.errors import ConflictError
    from reidkit.gallery.retention import RetentionPolicy
    from reidkit.masking import checked_kind
    from reidkit.service.app import create_app, tls_options

    tls = tls_options(certfile, keyfile)
    policy = RetentionPolicy.from_file(settings) if settings else None
    if retention:
        policy = RetentionPolicy.parse({"older_than": retention}, "--retention")
    # the port first: a busy port must not leave a new, empty gallery behind
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise ConflictError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    app = create_app(
        db,
        model,
        precision,
        api_key or os.environ.get("REIDKIT_API_KEY"),
        keys=keys,
        track=list(track or []),
        track_output=track_output,
        cameras=cameras,
        retention=policy,
        blur=checked_kind(blur),
    )
    uvicorn.run(app, host=host, port=port, log_level="info", **tls)
