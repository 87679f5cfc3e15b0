"""Session fixtures: real models and data from ../shared (REIDKIT_MODELS / REIDKIT_DATA)."""

from __future__ import annotations

import itertools
import os
import re
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parent.parent / "shared"


def _root(var: str, sub: str) -> Path:
    path = Path(os.environ.get(var) or DEFAULT_SHARED / sub)
    if not path.is_dir():
        pytest.skip(f"{var} not set and {path} missing: real assets are needed for this test")
    return path


@pytest.fixture(scope="session")
def models_root() -> Path:
    """Folder of OMZ-layout models."""
    root = _root("REIDKIT_MODELS", "models")
    os.environ.setdefault("REIDKIT_MODELS", str(root))
    return root


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder of real evaluation data."""
    return _root("REIDKIT_DATA", "data")


@pytest.fixture(scope="session")
def pku(data_root: Path) -> Path:
    """PKU-Reid-dev in Market-1501 layout."""
    return data_root / "PKU-Reid-dev"


@pytest.fixture(scope="session")
def market_pair(data_root: Path) -> tuple[Path, Path]:
    """Two real Market-1501 crops of person 0001 from cameras 1 and 6."""
    q = data_root / "market1501-samples/query"
    return q / "0001_c1s1_001051_00.jpg", q / "0001_c6s1_009601_00.jpg"


@pytest.fixture(scope="session")
def reid(models_root: Path):
    """The default ReId (the catalog's person-reid default, best precision held)."""
    from reidkit.verify import ReId

    return ReId()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real cache from tests."""
    monkeypatch.setenv("REIDKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    """A real PostgreSQL 16 server with pgvector (the pgserver wheel), on a Unix socket, for the session."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver (test extra) provides the PostgreSQL + pgvector server")
    pytest.importorskip("psycopg")
    server = pgserver.get_server(str(tmp_path_factory.mktemp("pg")), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
def new_gallery(request, tmp_path):
    """A factory of fresh gallery locations: a file, or a new database on the PostgreSQL server."""
    counter = itertools.count()
    if request.param == "sqlite":
        return lambda: str(tmp_path / f"g{next(counter)}.db")
    admin = request.getfixturevalue("pg_url")
    return lambda: pg_database(admin)


def pg_database(admin: str) -> str:
    """A new, empty database on the test server; its URL."""
    import psycopg

    name = f"g_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return re.sub(r"/postgres(\?|$)", rf"/{name}\1", admin)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """Debian's headless Chromium through Playwright; skips the test (saying why) when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium is missing at {CHROMIUM} (`make test` installs it with apt-get as root)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
