"""Assemble the `reidkit` command groups and run them with user errors turned into exit code 2."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from reidkit import __version__
from reidkit.cli import calibrate, data, embed, eval, faces, gallery, models, serve, track, train, verify
from reidkit.cli.common import err
from reidkit.errors import ReidkitError

app = typer.Typer(
    name="reidkit",
    help="Re-identify people and faces across cameras and video frames.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(eval.app, name="eval")
app.add_typer(data.app, name="data")
app.add_typer(faces.app, name="faces")
app.add_typer(gallery.app, name="gallery")
app.command("embed")(embed.embed)
app.command("verify")(verify.verify)
app.command("calibrate")(calibrate.calibrate)
app.command("track")(track.track)
app.command("serve")(serve.serve)
app.command("train")(train.train)
app.command("export")(train.export)
eval.app.command("mot")(track.eval_mot)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reidkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Re-identify people and faces across cameras and video frames."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; a ReidkitError becomes one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="reidkit")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ReidkitError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
