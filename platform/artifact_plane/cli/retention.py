"""``artifact-plane retention set ID``: change how long an artifact is kept (stewards only)."""

from __future__ import annotations

from types import EllipsisType
from typing import Annotated

import typer

from artifact_plane.cli._common import (
    EXIT_USAGE,
    AsOption,
    JsonOption,
    RealmOption,
    RolesOption,
    TenantOption,
    emit_json,
    fail,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.cli._render import record_table
from artifact_plane.models import ArtifactRecord
from artifact_plane.plane import ArtifactPlane

app = typer.Typer(help="Retention: `retention set` changes an artifact's retention policy and TTL.")


@app.command("set")
def set_retention(
    ctx: typer.Context,
    artifact_id: Annotated[str, typer.Argument(metavar="ID", help="Artifact ID.")],
    policy: Annotated[
        str | None, typer.Option("--policy", help="Retention policy name (letters, digits, '_', '-').")
    ] = None,
    clear_policy: Annotated[bool, typer.Option("--clear-policy", help="Remove the policy.")] = False,
    ttl: Annotated[
        int | None, typer.Option("--ttl", help="Seconds from creation until it expires.", min=0)
    ] = None,
    no_ttl: Annotated[bool, typer.Option("--no-ttl", help="Never expire (clear the TTL).")] = False,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "steward",
    realm: RealmOption = None,
) -> None:
    """Set or clear an artifact's retention policy and/or TTL; what is not given is kept."""
    if policy is not None and clear_policy:
        fail("--policy and --clear-policy exclude each other", "give one of them", EXIT_USAGE)
    if ttl is not None and no_ttl:
        fail("--ttl and --no-ttl exclude each other", "give one of them", EXIT_USAGE)
    new_policy: str | EllipsisType | None = None if clear_policy else (... if policy is None else policy)
    new_ttl: int | EllipsisType | None = None if no_ttl else (... if ttl is None else ttl)
    subject = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> ArtifactRecord:
        return await plane.for_subject(subject).set_retention(
            artifact_id, retention_policy=new_policy, ttl=new_ttl
        )

    record = with_plane(settings_of(ctx), work)
    if as_json:
        emit_json(record.model_dump(mode="json", exclude={"payload_key", "version_key"}))
    else:
        out().print(record_table(record))
