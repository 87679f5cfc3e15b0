"""Live preview of a tracking run: a page with every camera's annotated stream (MJPEG, at most 10 frames/s per
camera) and the identities visible now, each linked to its history in this run. Standard library HTTP server in a
thread; the tracker only hands it frames (`PreviewSink`), JPEG encoding is throttled so it costs little.

    GET /                      the page
    GET /stream/<camera>.mjpg  multipart/x-mixed-replace JPEG stream
    GET /snapshot/<camera>.jpg the latest annotated frame
    GET /identities.json       {camera: [{"id", "box", "since_s"}]}
    GET /history/<id>.json     the events of one identity in this run (newest last, at most 200); an id merged
                               into another by a live correction answers with the survivor's
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import OrderedDict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from reidkit.errors import ConfigError
from reidkit.reassociate import survivor
from reidkit.sinks import Sink

MAX_FPS = 10.0
MAX_HISTORIES = 2000  # identities whose events are kept (the most recently active): a run that never ends stays bounded

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>reidkit live</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }}
.cams {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; }} img {{ max-width: 48vw; border: 1px solid #444; }}
a {{ color: #8cf; }} li {{ margin: 0.2rem 0; }}
</style></head><body>
<h1>reidkit — live</h1>{report}
<div class="cams">{cameras}</div>
<h2>Visible now</h2><ul id="visible"></ul>
<h2>History</h2><pre id="history"></pre>
<script>
const BASE = '{base}';
async function refresh() {{
  try {{
    const r = await fetch(BASE + '/identities.json'); const data = await r.json();
    const ul = document.getElementById('visible'); ul.innerHTML = '';
    for (const [cam, people] of Object.entries(data)) for (const p of people) {{
      const li = document.createElement('li'); const a = document.createElement('a');
      a.href = '#'; a.textContent = 'person ' + p.id; a.dataset.id = p.id;
      a.onclick = async (e) => {{ e.preventDefault();
        const h = await (await fetch(BASE + '/history/' + p.id + '.json')).json();
        document.getElementById('history').textContent = h.map(
          x => x.event + ' ' + x.camera + ' frame ' + x.frame).join('\\n'); }};
      li.appendChild(a); li.appendChild(document.createTextNode(' in ' + cam));
      if (p.gallery != null) {{ const g = document.createElement('a'); g.className = 'gallery';
        g.href = '/identities/' + p.gallery; g.textContent = ' (gallery history)'; li.appendChild(g); }}
      ul.appendChild(li);
    }}
  }} catch (e) {{}}
}}
setInterval(refresh, 1000); refresh();
</script></body></html>
"""


class PreviewHub:
    """The latest JPEG per camera, who is visible, and each identity's recent events; thread-safe."""

    def __init__(self, cameras: list[str], max_fps: float = MAX_FPS, gallery_ids: dict | None = None) -> None:
        self.cameras = list(cameras)
        self.gallery_ids = gallery_ids if gallery_ids is not None else {}  # global id -> gallery identity
        self.min_interval = 1.0 / max_fps
        self.cond = threading.Condition()
        self.jpeg: dict[str, bytes] = {}
        self.version: dict[str, int] = {c: 0 for c in cameras}
        self.visible: dict[str, list[dict]] = {c: [] for c in cameras}
        self.history: OrderedDict[int, deque] = OrderedDict()  # least recently active first
        self.alias: dict[int, int] = {}  # an id merged away by a live correction -> the id it was merged into
        self._last: dict[str, float] = {}
        self.closed = False

    def frame(self, result) -> None:
        import cv2

        from reidkit.annotate import draw_tracks

        now = time.monotonic()
        ids = [self.root(int(i)) for i in result.ids]
        self.visible[result.camera] = [
            {"id": i, "box": [round(float(v), 1) for v in b], "gallery": self.gallery_ids.get(i)}
            for i, b in zip(ids, result.boxes)
        ]
        if now - self._last.get(result.camera, 0.0) < self.min_interval or result.shown is None:
            return
        self._last[result.camera] = now
        image = draw_tracks(result.shown.copy(), result.boxes, ids)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75])
        if ok:
            with self.cond:
                self.jpeg[result.camera] = data.tobytes()
                self.version[result.camera] = self.version.get(result.camera, 0) + 1
                self.cond.notify_all()

    def event(self, event: dict) -> None:
        """Keep an identity's event; a live `identity_merged` folds the merged ids into the survivor: their history
        joins its history and their tracks show its id from then on."""
        if "id" not in event:
            return
        survivor = self.root(int(event["id"]))
        if event.get("event") == "identity_merged" and event.get("live"):
            for merged in {self.root(int(i)) for i in event.get("merged", [])} - {survivor}:
                self.alias[merged] = survivor
                older = self.history.pop(merged, ())
                mine = self.history.get(survivor, ())
                joined = sorted([*older, *mine], key=lambda e: e.get("time_s", 0.0))
                self.history[survivor] = deque(joined, maxlen=200)
        self.history.setdefault(survivor, deque(maxlen=200)).append(event)
        self.history.move_to_end(survivor)
        while len(self.history) > MAX_HISTORIES:
            self.history.popitem(last=False)

    def root(self, identity: int) -> int:
        """The id an identity shows as now (itself unless a live correction merged it into another)."""
        return survivor(self.alias, identity)

    def wait(self, camera: str, seen: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        with self.cond:
            self.cond.wait_for(lambda: self.closed or self.version.get(camera, 0) != seen, timeout=timeout)
            return self.version.get(camera, 0), self.jpeg.get(camera)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def page(self, base: str = "", report: str | None = None) -> str:
        """The preview page, its URLs under `base`; with `report`, a link to the site report there."""
        cams = "".join(
            f'<figure><img src="{base}/stream/{html.escape(c)}.mjpg" alt="{html.escape(c)}">'
            f"<figcaption>{html.escape(c)}</figcaption></figure>"
            for c in self.cameras
        )
        link = (
            f'<p><a href="{html.escape(report)}">Site report</a> (visitors, stays, zones, lines)</p>' if report else ""
        )
        return PAGE.format(cameras=cams, base=base, report=link)

    def history_of(self, key: str) -> list | None:
        if not key.isdigit():
            return None
        try:  # the tracking thread may drop a long-idle identity's history meanwhile
            return list(self.history[self.root(int(key))])
        except KeyError:
            return None

    def mjpeg(self, camera: str):
        """multipart/x-mixed-replace chunks of a camera's annotated frames, until the run ends."""
        seen = -1
        while not self.closed:
            version, data = self.wait(camera, seen)
            if data is None or version == seen:
                continue
            seen = version
            yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n"
            yield data + b"\r\n"


def presented_key(headers) -> str | None:
    """The key a request to the preview carries: X-API-Key, or the password of HTTP Basic auth (what a browser
    asks for after a 401); never a key in the URL."""
    key = headers.get("X-API-Key")
    if key:
        return key
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "basic" and value:
        import base64
        import binascii

        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _handler(hub: PreviewHub, authorize=None):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _allowed(self) -> bool:
            """Without `authorize` (loopback only) everyone; else a key it accepts (401 and a Basic challenge)."""
            if authorize is None or authorize(presented_key(self.headers)):
                return True
            body = b'{"error": "missing or wrong key: send X-API-Key, or sign in (any user name, the key as password)"}'
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="reidkit preview", charset="UTF-8"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return False

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, data, status: int = 200) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._allowed():
                return
            path = unquote(self.path.split("?")[0])
            if path == "/":
                return self._send(200, hub.page().encode(), "text/html; charset=utf-8")
            if path == "/identities.json":
                return self._json(hub.visible)
            if path.startswith("/history/") and path.endswith(".json"):
                key = path[len("/history/") : -len(".json")]
                found = hub.history_of(key)
                if found is None:
                    return self._json({"error": f"no identity {key} in this run"}, 404)
                return self._json(found)
            for prefix, suffix, stream in (("/stream/", ".mjpg", True), ("/snapshot/", ".jpg", False)):
                if path.startswith(prefix) and path.endswith(suffix):
                    camera = path[len(prefix) : -len(suffix)]
                    if camera not in hub.cameras:
                        return self._json({"error": f"no camera {camera!r}"}, 404)
                    return self._stream(camera) if stream else self._snapshot(camera)
            return self._json({"error": f"not found: {path}"}, 404)

        def _snapshot(self, camera: str) -> None:
            data = hub.jpeg.get(camera)
            if data is None:
                return self._json({"error": f"no frame from {camera} yet"}, 404)
            self._send(200, data, "image/jpeg")

        def _stream(self, camera: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                for chunk in hub.mjpeg(camera):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_serve(value: str) -> tuple[str, int]:
    """PORT or HOST:PORT (the host defaults to 127.0.0.1)."""
    host, _, port = str(value).rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--serve needs PORT or HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


class HubSink(Sink):
    """Feeds a PreviewHub that something else serves (`reidkit serve --track`)."""

    def __init__(self, hub: PreviewHub) -> None:
        self.hub = hub

    def frame(self, result) -> None:
        self.hub.frame(result)

    def event(self, event: dict) -> None:
        self.hub.event(event)

    def close(self) -> None:
        self.hub.close()


class PreviewSink(HubSink):
    """Feeds a PreviewHub and serves it over HTTP while the run lasts."""

    def __init__(self, serve: int | str, cameras: list[str], gallery_ids: dict | None = None, authorize=None) -> None:
        host, port = parse_serve(str(serve))
        if authorize is None and not _loopback(host):
            raise ConfigError(
                f"--serve {host}:{port} would show every camera to the network: give --keys or --api-key, "
                "or serve on 127.0.0.1"
            )
        super().__init__(PreviewHub(cameras, gallery_ids=gallery_ids))
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(self.hub, authorize))
        except OSError as exc:
            raise ConfigError(f"--serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="reidkit-preview", daemon=True)
        self._thread.start()

    def close(self) -> None:
        super().close()
        self.server.shutdown()
        self.server.server_close()

    def stats(self) -> dict:
        return {"url": self.url}
