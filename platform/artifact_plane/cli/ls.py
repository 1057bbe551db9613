"""``artifact-plane ls``: one page of the artifacts you may read, and the cursor of the next."""

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
from artifact_plane.cli._render import artifacts_table
from artifact_plane.models import ArtifactRecord, ArtifactStatus, Page
from artifact_plane.plane import ArtifactPlane


def ls(
    ctx: typer.Context,
    artifact_type: Annotated[str | None, typer.Option("--type", help="Only this artifact type.")] = None,
    status: Annotated[
        list[ArtifactStatus] | None, typer.Option("--status", help="Only these statuses.")
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Only artifacts with this tag (repeatable).")
    ] = None,
    uri: Annotated[
        str | None,
        typer.Option("--uri", metavar="GLOB", help="Names matching artifact://realm/glob (*, **)."),
    ] = None,
    min_version: Annotated[
        str | None, typer.Option("--min-version", help="Versions at or above this.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Page size.")] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after a previous page.")] = None,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """List artifacts, oldest first; prints the cursor of the next page when there is one."""
    subject = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> Page[ArtifactRecord]:
        return await plane.for_subject(subject).list_artifacts(
            realm=realm,
            artifact_type=artifact_type,
            status=[s.value for s in status or ()],
            tags=tags or (),
            uri=uri,
            min_version=min_version,
            limit=limit,
            cursor=cursor,
        )

    page = with_plane(settings_of(ctx), work)
    if as_json:
        items = [r.model_dump(mode="json", exclude={"payload_key", "version_key"}) for r in page.items]
        emit_json({"items": items, "next_cursor": page.next_cursor})
        return
    console = out()
    console.print(artifacts_table(page.items))
    if page.next_cursor is not None:
        console.print(f"next page: --cursor {page.next_cursor}", markup=False, soft_wrap=True)
