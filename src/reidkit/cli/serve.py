"""`reidkit serve`: the REST service and web page."""

from __future__ import annotations

import os
from typing import Optional

import typer


def serve(
    db: str = typer.Option("gallery.db", "--db", help="Gallery file or postgresql://URL."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    model: str = typer.Option("person-reidentification-retail-0287", "--model", "-m"),
    precision: Optional[str] = typer.Option(None, "--precision", "-p"),
    api_key: Optional[str] = typer.Option(None, "--api-key", help="Require this X-API-Key (or $REIDKIT_API_KEY)."),
) -> None:
    """Serve embed / verify / gallery endpoints and the search page (OpenAPI at /docs)."""
    import uvicorn

    from reidkit.service.app import create_app

    app = create_app(db, model, precision, api_key or os.environ.get("REIDKIT_API_KEY"))
    uvicorn.run(app, host=host, port=port, log_level="info")
