"""`reidkit cameras learn OUT/ -o cameras.toml`: a cameras file whose links are learned from a run."""

from __future__ import annotations

from pathlib import Path

import typer

from reidkit.cli.common import JsonOption, out, print_json

app = typer.Typer(help="Camera layouts: learn how cameras connect from a run.", no_args_is_help=True)


@app.command("learn")
def learn(
    run: Path = typer.Argument(
        ..., help="A `reidkit track` output folder (best one re-associated: the default for files)."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="The cameras file to write (.toml)."),
    min_moves: int = typer.Option(3, "--min-moves", min=1, help="Moves between two cameras needed to link them."),
    penalty: float = typer.Option(
        0.2, "--penalty", min=0.0, max=1.0, help="outside_window of the file: learned windows are estimates."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    as_json: bool = JsonOption,
) -> None:
    """Estimate which cameras connect (overlapping views, or a transit window) from the people a run followed
    between them; keeps the run's cameras, sources and homographies, and writes a cameras file for the next run."""
    from dataclasses import replace

    from reidkit.analytics import learn_links
    from reidkit.cameras import Camera, Link, layout_toml
    from reidkit.errors import ConflictError
    from reidkit.files import atomic_write, check_output_file
    from reidkit.site_report import load_run

    output = check_output_file(output, (".toml",))
    if output.exists() and not force:
        raise ConflictError(f"{output} exists: choose another name, or --force")
    tracks, online = load_run(run)
    learned = learn_links(tracks, min_moves)
    cameras = {c: tracks.layout.cameras.get(c, Camera(c)) for c in tracks.rows}
    links = tuple(Link(x.a, x.b, x.min_s, x.max_s, x.overlap) for x in learned)
    layout = replace(tracks.layout, cameras=cameras, links=links, outside_penalty=penalty)
    with atomic_write(output) as fh:
        fh.write(layout_toml(layout))
    result = {
        "cameras": sorted(cameras),
        "links": [x.__dict__ for x in learned],
        "from_online_ids": online,
        "file": str(output),
    }
    if as_json:
        print_json(result)
        return
    for x in learned:
        kind = "overlap" if x.overlap else f"{x.min_s:g}-{x.max_s:g} s"
        out.print(f"{x.a} <-> {x.b}: {kind} ({x.moves} moves)")
    note = " (from online ids: a re-associated run, the default for files, gives better estimates)" if online else ""
    out.print(f"{len(learned)} links between {len(cameras)} cameras written to {output}{note}")
