"""The service's gate: every route behind a key or a session, roles, the keys file, sessions and TLS."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from reidkit.cli.main import main
from reidkit.errors import ConfigError, ConflictError, InputError, NotFoundError
from reidkit.service.auth import KeyRing, Sessions, add_key, key_digest, read_keys

MODEL = "person-reidentification-retail-0288"
OPEN = {("GET", "/healthz"), ("HEAD", "/healthz"), ("GET", "/login"), ("POST", "/login")}


@pytest.fixture()
def keys(tmp_path) -> tuple[Path, str, str]:
    path = tmp_path / "keys.toml"
    return path, add_key(path, "desk", "viewer"), add_key(path, "ops", "admin")


@pytest.fixture()
def app(tmp_path, keys, models_root):
    from reidkit.service.app import create_app

    return create_app(tmp_path / "g.db", MODEL, keys=keys[0])


def _routes(routes, prefix: str = "") -> list[tuple[str, str]]:
    """(method, concrete path) of every route in a route table, included routers walked into (FastAPI keeps
    them as lazy branches), path parameters filled in."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += _routes(route.original_router.routes, prefix + route.include_context.prefix)
            continue
        assert isinstance(route, (APIRoute, Route)), f"a route of a kind the walk does not know: {route!r}"
        path = prefix + re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods or {"GET"}):
            found.append((method, path))
    return found


def test_every_route_needs_a_key(app):
    """Walk the whole route table (REST, page, live view, MJPEG, history, frames, thumbnails, docs): without a
    key or a session nothing but liveness and the login form answers, and a key in the URL is no key."""
    from fastapi.testclient import TestClient

    routes = _routes(app.routes)
    paths = {p for _, p in routes}
    for expected in (
        "/docs",
        "/openapi.json",
        "/live",
        "/live/stream/1.mjpg",
        "/live/history/1.json",
        "/",
        "/report",
        "/report.json",
    ):
        assert expected in paths, f"{expected} is not in the route table: the walk would miss it"
    with TestClient(app, follow_redirects=False) as client:
        for method, path in routes:
            if (method, path) in OPEN:
                continue
            for query in ("", "?key=anything"):
                r = client.request(method, path + query)
                if method == "GET" and path in ("/", "/live", "/report"):
                    assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
                else:
                    assert r.status_code == 401, f"{method} {path}{query} answered {r.status_code} without a key"
        assert client.get("/healthz").json() == {"status": "ok"}  # liveness says nothing more to a stranger


def test_roles(app, keys, pku):
    from fastapi.testclient import TestClient

    _, viewer, admin = keys
    crop = sorted((pku / "query").glob("*.png"))[0].read_bytes()
    with TestClient(app) as client:
        as_viewer, as_admin = {"X-API-Key": viewer}, {"X-API-Key": admin}
        assert client.get("/identities", headers={"X-API-Key": "wrong"}).status_code == 401
        enrol = {"files": {"image": ("a.png", crop)}, "data": {"name": "alice"}}
        r = client.post("/gallery/enroll", headers=as_viewer, **enrol)
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        assert client.post("/gallery/enroll", headers=as_admin, **enrol).status_code == 200
        assert client.get("/identities", headers=as_viewer).json()["identities"][0]["name"] == "alice"
        r = client.post("/gallery/search", headers=as_viewer, files={"image": ("q.png", crop)}, data={"k": "1"})
        assert r.status_code == 200 and r.json()["matches"][0]["name"] == "alice"
        assert client.post("/faces/enroll", headers=as_viewer, **enrol).status_code == 403
        assert client.delete("/identities/1", headers=as_viewer).status_code == 403
        assert client.delete("/identities/1", headers=as_admin).status_code == 200
        assert "sightings" in client.get("/healthz", headers=as_viewer).json()
    from reidkit.gallery import open_gallery

    with open_gallery(app.state.reidkit.store.location, read_only=True) as store:  # the audit log, newest first
        log = [(e.actor, e.action, e.target.get("identity")) for e in store.audit()]
    assert log == [("ops", "delete", 1), ("desk", "search", None), ("ops", "enroll", 1)]


def test_service_audits_views_and_applies_retention(tmp_path, keys, pku, models_root):
    from fastapi.testclient import TestClient

    from reidkit.gallery.retention import RetentionPolicy
    from reidkit.service.app import create_app

    _, viewer, admin = keys
    crop = sorted((pku / "query").glob("*.png"))[0].read_bytes()
    db = tmp_path / "r.db"
    with TestClient(create_app(db, MODEL, keys=keys[0])) as client:
        r = client.post(
            "/gallery/enroll", headers={"X-API-Key": admin}, files={"image": ("a.png", crop)}, data={"name": "a"}
        )
        sighting = r.json()["sightings"][0]
        assert client.get("/identities/1", headers={"X-API-Key": viewer}).status_code == 200
        assert client.get(f"/sightings/{sighting}/frame", headers={"X-API-Key": viewer}).status_code in (200, 404)
        found = client.get("/gallery/find?where=backpack=yes", headers={"X-API-Key": viewer})
        assert found.status_code == 200
    policy = RetentionPolicy(0.0, keep_enrolled=False, every_s=3600)
    with TestClient(create_app(db, MODEL, keys=keys[0], retention=policy)) as client:
        deadline = time.monotonic() + 10
        while not client.app.state.retention.runs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/identities", headers={"X-API-Key": viewer}).json()["identities"] == []
    from reidkit.gallery import open_gallery

    with open_gallery(db, read_only=True) as store:
        actions = [(e.actor, e.action) for e in store.audit()]
    assert actions[0] == ("retention", "prune")
    assert {("desk", "view"), ("desk", "frame"), ("desk", "find"), ("ops", "enroll")} <= set(actions)


def test_page_session_cookie(app, keys):
    from fastapi.testclient import TestClient

    _, viewer, _ = keys
    with TestClient(app, follow_redirects=False) as client:
        r = client.post("/login", data={"key": "wrong", "next": "/live"})
        assert r.status_code == 303 and "failed" in r.headers["location"] and "set-cookie" not in r.headers
        r = client.post("/login", data={"key": viewer, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # never a redirect off the site
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and viewer.lower() not in cookie
        assert client.get("/identities").status_code == 200  # the cookie alone is enough
        assert client.get("/").status_code == 200
        assert client.post("/logout").status_code == 204
        assert client.get("/identities").status_code == 401


def test_keys_file(tmp_path):
    path = tmp_path / "k.toml"
    key = add_key(path, "cam-desk", "viewer")
    text = path.read_text()
    assert key not in text and key_digest(key) in text and (path.stat().st_mode & 0o777) == 0o600
    assert read_keys(path) == {"cam-desk": ("viewer", key_digest(key))}
    with pytest.raises(ConflictError):
        add_key(path, "cam-desk")
    with pytest.raises(ConfigError):
        add_key(path, "x", "root")
    with pytest.raises(InputError):
        add_key(path, "bad name")
    ring = KeyRing.from_options("plain", path)
    assert ring.identify(key).role == "viewer" and ring.identify("plain").admin and ring.identify("nope") is None
    assert KeyRing.from_options(None, None) is None
    with pytest.raises(NotFoundError):
        read_keys(tmp_path / "missing.toml")
    for broken in ("[keys.a]\nrole = 'admin'\n", "[keys.a]\nsha256 = 'abc'\n", "not toml [", "[keys.a]\nrole='x'\n"):
        path.write_text(broken + ("sha256 = '" + "0" * 64 + "'\n" if "role='x'" in broken else ""))
        with pytest.raises((InputError, ConfigError)):
            read_keys(path)


def test_sessions_expire():
    from reidkit.service.auth import Principal

    sessions = Sessions(lifetime_s=0.05, limit=2)
    who = Principal("a", "viewer")
    token = sessions.open(who)
    assert sessions.get(token) == who and sessions.get("forged") is None
    time.sleep(0.1)
    assert sessions.get(token) is None
    first, _, _ = sessions.open(who), sessions.open(who), sessions.open(who)
    assert sessions.get(first) is None  # the oldest made room


def test_keys_cli(tmp_path, capsys):
    path = tmp_path / "keys.toml"
    assert main(["keys", "add", "ops", "--role", "admin", "--file", str(path)]) == 0
    key = capsys.readouterr().out.strip()
    assert read_keys(path)["ops"] == ("admin", key_digest(key))
    assert main(["keys", "add", "ops", "--file", str(path)]) == 2
    assert "already has" in capsys.readouterr().err
    assert main(["keys", "list", "--file", str(path)]) == 0
    assert capsys.readouterr().out.split() == ["ops", "admin"]


def test_serve_refuses_half_a_tls_setting(tmp_path, capsys):
    assert main(["serve", "--db", str(tmp_path / "g.db"), "--certfile", str(tmp_path / "c.pem"), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--keyfile" in err and not (tmp_path / "g.db").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tls_with_curl(tmp_path, models_root):
    """`reidkit serve --certfile --keyfile` answers HTTPS (curl on loopback, self-signed certificate)."""
    cert, private = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-keyout", str(private), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    command = [sys.executable, "-m", "reidkit.cli.main", "serve", "--db", str(tmp_path / "g.db"), "--model", MODEL]
    command += ["--port", str(port), "--api-key", "k", "--certfile", str(cert), "--keyfile", str(private)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        url = f"https://127.0.0.1:{port}"
        for _ in range(200):
            r = subprocess.run(["curl", "-sk", "--max-time", "2", url + "/healthz"], capture_output=True, text=True)
            if r.returncode == 0:
                break
            assert server.poll() is None, server.stderr.read().decode()
            time.sleep(0.1)
        assert '"status":"ok"' in r.stdout
        r = subprocess.run(
            ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url + "/identities"], capture_output=True
        )
        assert r.stdout == b"401"
        r = subprocess.run(["curl", "-sk", "-H", "X-API-Key: k", url + "/identities"], capture_output=True, text=True)
        assert '"identities":[]' in r.stdout
        plain = subprocess.run(
            ["curl", "-s", "--max-time", "2", f"http://127.0.0.1:{port}/healthz"], capture_output=True
        )
        assert b'"status"' not in plain.stdout  # no plain HTTP beside it
    finally:
        server.terminate()
        server.wait(10)


def test_track_preview_needs_a_key_when_given_keys(tmp_path, keys, data_root, models_root, capsys):
    """`reidkit track --serve` with --keys: the preview page, streams and JSON answer 401 (with a Basic
    challenge a browser shows) unless a key is sent as X-API-Key or as the Basic password; never one in the
    URL. Without keys it refuses to serve anywhere but loopback."""
    import base64
    import urllib.error
    import urllib.request

    video = data_root / "PETS09-S2L1" / "vtest.mp4"
    port = _free_port()
    command = [sys.executable, "-m", "reidkit.cli.main", "track", str(video), "-o", str(tmp_path / "out")]
    command += ["--no-video", "--no-attributes", "--realtime", "--max-frames", "300", "--keys", str(keys[0])]
    run = subprocess.Popen([*command, "--serve", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get(path: str, headers: dict | None = None) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            assert exc.code != 401 or "Basic" in exc.headers.get("WWW-Authenticate", "")
            return exc.code

    try:
        for _ in range(300):
            try:
                if get("/identities.json") == 401:
                    break
            except urllib.error.URLError:
                assert run.poll() is None, run.stderr.read().decode()
                time.sleep(0.1)
        basic = base64.b64encode(f"me:{keys[1]}".encode()).decode()
        for path in ("/", "/identities.json", "/history/1.json", "/snapshot/vtest.jpg"):
            assert get(path) == 401 and get(f"{path}?key={keys[1]}") == 401, path
        assert get("/", {"X-API-Key": keys[1]}) == 200
        assert get("/identities.json", {"Authorization": f"Basic {basic}"}) == 200
        assert get("/identities.json", {"X-API-Key": "wrong"}) == 401
    finally:
        run.terminate()
        run.wait(30)
    open_wide = ["track", str(video), "-o", str(tmp_path / "o2"), "--no-video", "--serve", f"0.0.0.0:{_free_port()}"]
    assert main(open_wide) == 2
    assert "give --keys or --api-key" in capsys.readouterr().err
