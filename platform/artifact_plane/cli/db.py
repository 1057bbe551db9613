"""``artifact-plane db upgrade``: migrate the SQL registry."""

from __future__ import annotations

from typing import Annotated

import typer

from artifact_plane.cli._common import out, plane_errors, settings_of
from artifact_plane.cli._plane import redact_url, upgrade_database

app = typer.Typer(help="The registry database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "head",
) -> None:
    """Apply the registry's migrations (safe to run again; replicas may race, one waits)."""
    settings = settings_of(ctx)
    with plane_errors():
        at = upgrade_database(settings, revision)
    shown = redact_url(settings.resolved_registry_url())
    message = f"{shown}: nothing to migrate" if at is None else f"{shown}: at revision {at}"
    out().print(message, markup=False, soft_wrap=True)
