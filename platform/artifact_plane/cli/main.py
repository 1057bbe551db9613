"""The ``artifact-plane`` command: composes one module per command, nothing else."""

from __future__ import annotations

import typer

from artifact_plane.cli import audit, db, demo, gc, get, lineage, lineage_relay, ls, put, schema, serve, token
from artifact_plane.cli import operator as operator_cli
from artifact_plane.cli import regenerate as regenerate_cli
from artifact_plane.cli import retention as retention_cli
from artifact_plane.cli import run as run_cli
from artifact_plane.cli._common import plane_errors
from artifact_plane.settings import Settings

app = typer.Typer(
    name="artifact-plane",
    help="Artifact Plane: artifacts, lineage and policy. Settings come from AP_* variables (or .env).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(ctx: typer.Context) -> None:
    """Build the settings once; a caller (a test) may inject them as ``obj``."""
    if ctx.obj is None:
        with plane_errors():
            ctx.obj = Settings()


app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("put")(put.put)
app.command("get")(get.get)
app.command("ls")(ls.ls)
app.add_typer(lineage_relay.lineage_app(lineage.lineage), name="lineage")  # `lineage ID`, `lineage relay`
app.command("gc")(gc.gc)
app.add_typer(audit.app, name="audit")  # audit run | verify | seal
app.add_typer(retention_cli.app, name="retention")  # retention set
app.command("token")(token.token)
app.add_typer(schema.app, name="schema")
app.add_typer(db.app, name="db")
app.command("run")(run_cli.run)
app.command("regenerate")(regenerate_cli.regenerate)
app.add_typer(operator_cli.app, name="operator")
