"""`reidkit models list | info | pull`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

import typer
from rich.table import Table

from reidkit.cli.common import JsonOption, out, print_json
from reidkit.models.catalog import get_spec, list_specs
from reidkit.models.store import ModelStore

app = typer.Typer(help="List, inspect and download models.", no_args_is_help=True)


@app.command("list")
def list_models(
    task: Optional[str] = typer.Option(None, "--task", help="Only this task, e.g. person-reid."),
    as_json: bool = JsonOption,
) -> None:
    """List catalogued models and which precisions are on disk."""
    store = ModelStore()
    rows = [
        {
            "name": s.name,
            "task": s.task,
            "input": f"{s.input.width}x{s.input.height} {s.input.color.upper()}",
            "precisions": list(s.precisions),
            "local": store.local_precisions(s),
        }
        for s in list_specs(task)
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("model", "task", "input W×H", "precisions", "on disk")
    for r in rows:
        table.add_row(r["name"], r["task"], r["input"], ", ".join(r["precisions"]), ", ".join(r["local"]) or "-")
    out.print(table)


@app.command("info")
def info(name: str = typer.Argument(..., help="Catalog name."), as_json: bool = JsonOption) -> None:
    """Show everything the catalog knows about a model, and where its files are."""
    spec = get_spec(name)
    store = ModelStore()
    data = asdict(spec)
    data["files"] = [asdict(f) for f in spec.files]
    data["local"] = {p: str(store.find_local(spec, p)) for p in store.local_precisions(spec)}
    if as_json:
        print_json(data)
        return
    out.print(f"[bold]{spec.name}[/] ({spec.task}) — {spec.description}")
    i = spec.input
    out.print(
        f"input   {', '.join(i.names)}: 1×3×{i.height}×{i.width} {i.color.upper()} {i.layout}"
        + (f", mean {list(i.mean)} std {list(i.std)}" if i.normalised else ", raw 0-255")
    )
    out.print(f"output  {', '.join(spec.output.names)}" + (f": {spec.output.size} values" if spec.output.size else ""))
    if spec.published:
        out.print("published " + ", ".join(f"{k} {v}" for k, v in spec.published.items()))
    if spec.calibration:
        c = spec.calibration
        out.print(f"calibration scale {c.scale:.4f} bias {c.bias:.4f} (p=0.5 at cosine {c.threshold:.3f}; {c.source})")
    out.print(f"precisions {', '.join(spec.precisions)}")
    for prec, path in data["local"].items():
        out.print(f"  {prec}: {path}")
    for f in spec.files:
        out.print(f"  file {f.path} sha256 {f.sha256[:16]}… {f.size} B")


@app.command("pull")
def pull(
    name: str = typer.Argument(..., help="Catalog name."),
    precision: Optional[str] = typer.Option(None, "--precision", "-p", help="Precision to fetch."),
) -> None:
    """Download a model into the user cache (sha256-checked), unless it is already there."""
    path = ModelStore().pull(name, precision)
    out.print(f"{name}: {path}")
