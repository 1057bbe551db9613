"""``artifact-plane lineage ID``: the lineage around an artifact as a tree."""

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
from artifact_plane.cli._render import lineage_tree
from artifact_plane.models import LineageGraph
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.lineage import Direction


def lineage(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(metavar="ID", help="Artifact (or execution) ID.")],
    direction: Annotated[
        Direction, typer.Option("--direction", help="Which way to walk.")
    ] = Direction.DOWNSTREAM,
    depth: Annotated[int, typer.Option("--depth", help="Artifact hops to walk.")] = 3,
    max_nodes: Annotated[int | None, typer.Option("--max-nodes", help="Node budget.")] = None,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Print the lineage of ID as a tree (nodes you may not read come back redacted)."""
    subject = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> LineageGraph:
        return await plane.for_subject(subject).lineage(
            node, direction=direction, depth=depth, max_nodes=max_nodes
        )

    graph = with_plane(settings_of(ctx), work)
    if as_json:
        emit_json(graph.model_dump(mode="json"))
        return
    out().print(lineage_tree(graph, direction.value))
