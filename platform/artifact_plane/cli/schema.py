"""``artifact-plane schema export``: the GraphQL schema as SDL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artifact_plane.cli._common import EXIT_USAGE, err, fail

app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print (or write) the GraphQL SDL that schema.graphql must equal."""
    from artifact_plane.api.graphql.schema import schema_sdl  # the GraphQL stack, only when asked

    sdl = schema_sdl()
    if output is None:
        typer.echo(sdl, nl=False)
        return
    try:
        output.write_text(sdl, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", "give a writable path", EXIT_USAGE)
    err().print(f"wrote {output}", markup=False)
