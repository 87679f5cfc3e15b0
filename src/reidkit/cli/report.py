"""`reidkit report OUT/ -o report.html`: site analytics of a tracking run (visitors, dwell, zones, lines,
camera-to-camera moves, heatmap) as HTML, JSON or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import JsonOption, out, print_json


def report(
    run: Path = typer.Argument(..., help="A `reidkit track` output folder (also while a live run writes it)."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="report.html, report.json or report.csv."),
    cameras: Optional[Path] = typer.Option(
        None, "--cameras", help="Cameras file with the zones and lines to count (default: the run's own)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """How many different people came, how long they stayed, which zones and lines they used and how they moved
    between cameras. Zones and lines are counted from the tracks, so ones drawn after the run count too."""
    from reidkit.site_report import report_run, write_report

    found = report_run(run, cameras)
    path = write_report(found, output)
    if as_json:
        print_json({"report": str(path), "visitors": found["visitors"]["total"], "dwell": found["dwell"]["count"]})
        return
    v = found["visitors"]
    bound = " (upper bound: online ids over several cameras)" if found["visitors_are_upper_bound"] else ""
    out.print(
        f"{v['total']} different people{bound} over {len(found['cameras'])} cameras, median stay "
        f"{found['dwell'].get('median_s', 0):.0f} s, {len(found['zones'])} zones, {len(found['lines'])} lines: {path}"
    )
