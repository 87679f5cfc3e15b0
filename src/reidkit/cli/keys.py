"""`reidkit keys add | list`: the keys file of `reidkit serve --keys`."""

from __future__ import annotations

from pathlib import Path

import typer

from reidkit.cli.common import JsonOption, out, print_json

app = typer.Typer(
    help="API keys of the service (named, with a viewer or admin role, stored hashed).", no_args_is_help=True
)
KeysFile = typer.Option(Path("keys.toml"), "--file", "-f", help="The keys file.")


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Who or what the key is for (shown in the audit log)."),
    role: str = typer.Option("viewer", "--role", help="viewer (search, live view) or admin (also enrol, delete)."),
    file: Path = KeysFile,
) -> None:
    """Create a random key, store its SHA-256 in the keys file and print the key (shown this once only)."""
    from reidkit.service.auth import add_key

    key = add_key(file, name, role)
    typer.echo(key)
    typer.echo(f"added {role} key {name!r} to {file}; store the key now, it is not shown again", err=True)


@app.command("list")
def list_keys(file: Path = KeysFile, as_json: bool = JsonOption) -> None:
    """The keys' names and roles (never the keys)."""
    from reidkit.service.auth import read_keys

    rows = [{"name": n, "role": role} for n, (role, _) in read_keys(file).items()]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']}\t{row['role']}", highlight=False)
