"""`reidkit report OUT/`: the site analytics of a tracking run folder (reidkit.analytics) as an HTML page a
manager reads (charts and tables, one self-contained file), JSON or CSV. Reads the folder while a live run
still writes it (run.json, the growing MOT files), so the service's Report tab is the same page, refreshed."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from reidkit.analytics import SiteTracks, site_report
from reidkit.errors import InputError, NotFoundError

FORMATS = (".html", ".json", ".csv")


def load_run(out: str | os.PathLike, cameras_file: str | os.PathLike | None = None) -> tuple[SiteTracks, bool]:
    """The run folder's tracks (MOT files, frame rates, start time, layout: `cameras_file`, else the run's own
    cameras.toml) and whether its identities are online ones over several cameras (visitor counts are then an
    upper bound)."""
    from reidkit.cameras import CameraLayout, load_layout

    out = Path(out)
    info_file = out / "run.json"
    if not out.is_dir():
        raise NotFoundError(f"run folder not found: {out}")
    if not info_file.is_file():
        raise NotFoundError(f"{out} is not a tracking run folder: run.json not found (written by `reidkit track`)")
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        cameras, fps = list(info["cameras"]), {c: float(v) for c, v in info["video_fps"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{info_file} is damaged: {exc}") from None
    rows = {}
    for camera in cameras:
        path = out / f"{camera}.txt"
        rows[camera] = _mot_rows(path) if path.is_file() else np.zeros((0, 6))
    layout_file = Path(cameras_file) if cameras_file else out / "cameras.toml"
    layout = load_layout(layout_file) if cameras_file or layout_file.is_file() else CameraLayout()
    summary = out / "summary.json"
    reassociated = info.get("reassociate") or (summary.is_file() and "reassociation" in _json(summary))
    return SiteTracks(rows, fps, layout, info.get("started_at")), len(cameras) > 1 and not reassociated


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def _mot_rows(path: Path) -> np.ndarray:
    """A MOT results file as rows; a last line still being written is left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            values = [float(v) for v in line.split(",")[:6]]
        except ValueError:
            values = []
        if len(values) < 6:
            if number == len(lines) or not line.strip():
                continue
            raise InputError(f"{path}:{number} is not a MOT row: {line[:60]!r}")
        parsed.append(values)
    return np.array(parsed, np.float64).reshape(-1, 6)


def report_run(out, cameras_file=None) -> dict:
    """The site report of a run folder."""
    tracks, upper = load_run(out, cameras_file)
    return site_report(tracks, upper_bound=upper)


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write a report as HTML, JSON or CSV (by the file's suffix)."""
    from reidkit.files import atomic_write, check_output_file

    path = check_output_file(Path(path), FORMATS)
    text = {".html": render_html, ".json": lambda r: json.dumps(r, indent=2), ".csv": render_csv}[path.suffix.lower()]
    with atomic_write(path) as fh:
        fh.write(text(report))
    return path


# -- CSV: one row per figure ------------------------------------------------------------------------------------
def flat_rows(report: dict) -> list[tuple[str, str, str, object]]:
    """(section, item, measure, value) rows: the report's figures without its charts' raw data."""
    rows: list[tuple[str, str, str, object]] = [("run", "", "duration_s", report["duration_s"])]
    v = report["visitors"]
    rows.append(("visitors", "all", "people", v["total"]))
    rows += [("visitors", f"camera {c}", "people", n) for c, n in v["per_camera"].items()]
    rows += [("visitors", h, "people", n) for h, n in v["per_hour"].items()]
    rows += [("dwell", "all", k, val) for k, val in report["dwell"].items() if k not in ("histogram", "per_identity")]
    rows += [("dwell", b["bin"], "people", b["count"]) for b in report["dwell"]["histogram"]]
    for name, z in report["zones"].items():
        rows += [("zone", name, k, z[k]) for k in ("visits", "visitors", "peak_occupancy")]
        rows += [("zone", name, f"dwell {k}", val) for k, val in z["dwell"].items()]
    for name, line in report["lines"].items():
        rows += [("line", name, k, line[k]) for k in ("in", "out", "people")]
    for a, row in report["transitions"]["matrix"].items():
        rows += [("transition", f"{a} -> {b}", "moves", n) for b, n in row.items() if a != b]
    for pair, t in report["transitions"]["transit_s"].items():
        rows += [("transit", pair, k, val) for k, val in t.items() if k != "values"]
    return rows


def render_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["section", "item", "measure", "value"])
    writer.writerows(flat_rows(report))
    return buffer.getvalue()


# -- HTML -----------------------------------------------------------------------------------------------------
def _figure(draw, width: float = 6.0, height: float = 3.0) -> str:
    """A matplotlib drawing as an inline PNG <img>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    draw(ax)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _bars(labels, values, xlabel: str, ylabel: str):
    def draw(ax):
        ax.bar(range(len(values)), values, color="#3b6ea8")
        ax.set_xticks(range(len(values)), labels, rotation=30 if len(labels) > 6 else 0, ha="right", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)

    return draw


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _charts(report: dict) -> list[tuple[str, str]]:
    v, d, occ = report["visitors"], report["dwell"], report["occupancy"]
    sections = [
        (
            "People per camera",
            _figure(_bars(list(v["per_camera"]), list(v["per_camera"].values()), "camera", "people")),
        ),
        ("People per hour", _figure(_bars(list(v["per_hour"]), list(v["per_hour"].values()), "hour", "people"))),
        (
            "How long people stayed",
            _figure(_bars([b["bin"] for b in d["histogram"]], [b["count"] for b in d["histogram"]], "stay", "people")),
        ),
    ]
    if occ["people"]:

        def draw_occupancy(ax):
            t = np.arange(len(occ["people"])) * occ["bin_s"]
            ax.step(t, occ["people"], where="post", color="#3b6ea8")
            ax.set_xlabel("seconds into the run")
            ax.set_ylabel("people visible")

        sections.append(("People present over time", _figure(draw_occupancy)))
    transit = report["transitions"]["transit_s"]
    if transit:

        def draw_transit(ax):
            for pair, t in transit.items():
                ax.hist(t["values"], bins=20, alpha=0.6, label=pair)
            ax.set_xlabel("transit time (s; negative: views overlap)")
            ax.set_ylabel("moves")
            ax.legend(fontsize=7)

        sections.append(("Transit times between cameras", _figure(draw_transit)))
    heat = report["heatmap"]
    if heat["counts"]:

        def draw_heat(ax):
            ax.imshow(
                np.array(heat["counts"]),
                origin="upper" if heat["space"].startswith("image") else "lower",
                extent=[heat["x"][0], heat["x"][1], heat["y"][1], heat["y"][0]]
                if heat["space"].startswith("image")
                else [heat["x"][0], heat["x"][1], heat["y"][0], heat["y"][1]],
                cmap="magma",
                aspect="auto",
            )
            ax.set_title(f"where people stood ({heat['space']})", fontsize=9)

        sections.append(("Heatmap", _figure(draw_heat, 5, 4)))
    return sections


def render_html(report: dict, refresh_s: int | None = None) -> str:
    """The report page: headline figures, charts, zone / line / transition tables (one self-contained file)."""
    v, d = report["visitors"], report["dwell"]
    caveat = (
        "<p class=warn>These identities are the online ones of several cameras: one person may have several, so "
        "visitor counts are an upper bound. Track recorded files without <code>--online</code> (re-association "
        "is their default) for counts near the truth.</p>"
        if report.get("visitors_are_upper_bound")
        else ""
    )
    tiles = [
        ("different people", v["total"]),
        ("cameras", len(report["cameras"])),
        ("median stay", f"{d.get('median_s', 0):.0f} s"),
        ("footage", f"{report['duration_s'] / 60:.1f} min"),
    ]
    parts = ["<div class=tiles>" + "".join(f"<div><b>{html.escape(str(n))}</b>{t}</div>" for t, n in tiles) + "</div>"]
    parts.append(caveat)
    for title, chart in _charts(report):
        parts.append(f"<section><h2>{title}</h2>{chart}</section>")
    if report["zones"]:
        rows = [
            [n, z["visits"], z["visitors"], z["dwell"].get("median_s", "-"), z["peak_occupancy"]]
            for n, z in report["zones"].items()
        ]
        parts.append("<h2>Zones</h2>" + _table(["zone", "visits", "people", "median stay s", "most at once"], rows))
    if report["lines"]:
        rows = [[n, line["in"], line["out"], line["people"]] for n, line in report["lines"].items()]
        parts.append("<h2>Lines</h2>" + _table(["line", "in", "out", "people"], rows))
    matrix = report["transitions"]["matrix"]
    if len(matrix) > 1:
        cams = list(matrix)
        rows = [[a] + [matrix[a][b] if a != b else "-" for b in cams] for a in cams]
        parts.append("<h2>Moves between cameras (from row to column)</h2>" + _table(["from \\ to", *cams], rows))
    meta = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    return f"""<!doctype html><html><head><meta charset="utf-8">{meta}<title>reidkit site report</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}}
.tiles{{display:flex;gap:16px}}.tiles div{{background:#f1f4f8;padding:12px 18px;border-radius:6px}}
.tiles b{{display:block;font-size:26px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}
.warn{{background:#fff4d6;padding:8px}}img{{max-width:100%}}</style></head>
<body><h1>Site report</h1><p>cameras: {html.escape(", ".join(report["cameras"]))}</p>{"".join(parts)}</body></html>"""
