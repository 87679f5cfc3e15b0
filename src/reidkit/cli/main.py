"""Assemble the `reidkit` command groups and run them with user errors turned into exit code 2."""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from reidkit import __version__
from reidkit.cli import (
    calibrate,
    cameras,
    data,
    embed,
    eval,
    faces,
    gallery,
    keys,
    models,
    report,
    serve,
    track,
    train,
    verify,
)
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
app.add_typer(keys.app, name="keys")
app.add_typer(cameras.app, name="cameras")
app.command("embed")(embed.embed)
app.command("verify")(verify.verify)
app.command("calibrate")(calibrate.calibrate)
app.command("track")(track.track)
app.command("serve")(serve.serve)
app.command("train")(train.train)
app.command("export")(train.export)
app.command("adapt")(train.adapt)
app.command("report")(report.report)
eval.app.command("mot")(track.eval_mot)
eval.app.command("mtmc")(track.eval_mtmc)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reidkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Re-identify people and faces across cameras and video frames."""


def _click_classes(name: str) -> tuple[type, ...]:
    """A click exception class, from click and from the copy of click that recent Typer releases vendor."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


NO_ARGS, USAGE, ABORT = (_click_classes(n) for n in ("NoArgsIsHelpError", "ClickException", "Abort"))


def _one_line(message: str) -> int:
    err.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    return 2


def _is_ray_address(text: str) -> bool:
    import re

    return text in ("local", "auto") or text.startswith("ray://") or re.fullmatch(r"[\w.-]+:\d+", text) is not None


def optional_ray_address(argv: list[str]) -> list[str]:
    """`--ray` may come without its ADDRESS (a local Ray for the run): give it "local" then."""
    out = []
    for k, arg in enumerate(argv):
        out.append(arg)
        if arg == "--ray" and (k + 1 == len(argv) or not _is_ray_address(argv[k + 1])):
            out.append("local")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; every failure becomes one line on stderr and exit code 2.

    ReidkitErrors carry their own message. An operating-system error (a disk full, a permission refused) is
    worded from its errno. Anything else is a bug in reidkit: one line says so, and REIDKIT_DEBUG=1 shows the
    traceback.
    """
    try:
        argv = optional_ray_address(list(sys.argv[1:] if argv is None else argv))
        result = app(args=argv, prog_name="reidkit", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except NO_ARGS as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except USAGE as exc:  # usage errors: a bad option value, a missing argument
        where = f" (see: {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
        _one_line(f"{exc.format_message()}{where}")
        return exc.exit_code or 2
    except ABORT:
        err.print("aborted")
        return 130
    except ReidkitError as exc:
        return _one_line(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _one_line(f"{exc.strerror or exc}{where}")
    except MemoryError:
        return _one_line("out of memory: the input is too large for this machine")
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback for a user
        if os.environ.get("REIDKIT_DEBUG"):
            raise
        return _one_line(f"unexpected {type(exc).__name__}: {exc} (a reidkit bug; REIDKIT_DEBUG=1 shows where)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
