"""``artifact-plane demo``: build the multi-realm demo graph and print its lineage."""

from __future__ import annotations

from typing import Annotated

import typer

from artifact_plane.cli._common import (
    AsOption,
    RealmOption,
    RolesOption,
    TenantOption,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.cli._render import lineage_tree
from artifact_plane.demo import DEMO_REALMS, DemoGraph, build_demo
from artifact_plane.models import LineageGraph
from artifact_plane.plane import ArtifactPlane

DEPTH = 10  # the demo's longest chain is 7 artifact hops


def demo(
    ctx: typer.Context,
    run: Annotated[
        str, typer.Option("--run", help="Name of this demo graph (same name: same artifacts).")
    ] = "demo",
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Create a small lineage graph across the realms, then print it downstream from the dataset."""
    viewer = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> tuple[DemoGraph, LineageGraph]:
        graph = await build_demo(plane, tenant=viewer.tenant, run=run)
        lineage = await plane.for_subject(viewer).lineage(graph.dataset, direction="downstream", depth=DEPTH)
        return graph, lineage

    graph, lineage = with_plane(settings_of(ctx), work)
    console = out()
    console.print(
        f"built demo {graph.run!r} in tenant {graph.tenant!r}: {len(graph.artifacts)} artifacts, "
        f"{len(graph.executions)} executions across {', '.join(DEMO_REALMS)}",
        markup=False,
        soft_wrap=True,
    )
    console.print(lineage_tree(lineage, "downstream"))
    console.print(
        f"dataset: {graph.dataset}  (try: artifact-plane lineage {graph.dataset} --depth {DEPTH})",
        markup=False,
        soft_wrap=True,
    )
