"""``artifact-plane regenerate ID``: re-run what produced ID; ``--check`` only says why it is stale."""

from __future__ import annotations

from typing import Annotated

import typer

from artifact_plane.cli._common import (
    AsOption,
    JsonOption,
    RealmOption,
    RolesOption,
    TenantOption,
    emit_json,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.cli.run import report
from artifact_plane.executions import Executions, RunResult
from artifact_plane.plane import ArtifactPlane
from artifact_plane.staleness import StaleCause

EXIT_STALE = 3


def regenerate(
    ctx: typer.Context,
    artifact_id: Annotated[str, typer.Argument(metavar="ID", help="An artifact an operator produced.")],
    check: Annotated[
        bool, typer.Option("--check", help=f"Only print why ID is stale (exit {EXIT_STALE} when it is).")
    ] = False,
    upstream: Annotated[
        bool, typer.Option("--upstream", help="Regenerate stale inputs first, so the whole chain is fresh.")
    ] = False,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Re-run the execution that produced ID with the newest inputs and operator version."""
    subject = make_subject(tenant, subject_id, roles, realm)

    if check:

        async def causes(plane: ArtifactPlane) -> list[StaleCause]:
            return await Executions.from_plane(plane).for_subject(subject).stale_causes(artifact_id)

        found = with_plane(settings_of(ctx), causes)
        if as_json:
            emit_json(
                {"artifact_id": artifact_id, "stale": bool(found), "causes": [c.as_dict() for c in found]}
            )
        elif found:
            out().print(f"{artifact_id} is stale:", markup=False)
            for cause in found:
                out().print(f"  {cause.kind}: {cause.detail}", markup=False, soft_wrap=True)
            out().print(f"refresh it with: artifact-plane regenerate {artifact_id} --upstream", markup=False)
        else:
            out().print(f"{artifact_id} is fresh", markup=False)
        if found:
            raise typer.Exit(EXIT_STALE)
        return

    async def work(plane: ArtifactPlane) -> RunResult:
        runner = Executions.from_plane(plane).for_subject(subject)
        return await runner.regenerate(artifact_id, upstream=upstream)

    report(with_plane(settings_of(ctx), work), as_json)
