"""``artifact-plane demo``: run real intents across the four realms, then print the lineage."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from artifact_plane.cli._common import (
    EXIT_ERROR,
    AsOption,
    RealmOption,
    RolesOption,
    TenantOption,
    fail,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.cli._render import lineage_tree
from artifact_plane.demo import DEMO_REALMS, DemoGraph, build_demo
from artifact_plane.executions import INVOCATION_TYPE
from artifact_plane.models import LineageGraph
from artifact_plane.plane import ArtifactPlane

DEPTH = 10  # the demo's longest chain is 8 artifact hops


def without_invocations(graph: LineageGraph) -> LineageGraph:
    """The graph minus the invocation records (params and input refs) each execution consumes."""
    hidden = {n.id for n in graph.nodes if n.artifact_type == INVOCATION_TYPE}
    return graph.model_copy(
        update={
            "nodes": tuple(n for n in graph.nodes if n.id not in hidden),
            "edges": tuple(e for e in graph.edges if e.source_id not in hidden and e.target_id not in hidden),
        }
    )


def steps_table(graph: DemoGraph) -> Table:
    table = Table(title=f"demo {graph.run!r}: one execution per step")
    for column in ("step", "realm", "operator", "status", "execution", "outputs"):
        table.add_column(column, no_wrap=column in {"execution", "operator"})
    assert graph.pipeline is not None
    for step, result in graph.pipeline.runs.items():
        execution = result.execution
        outputs = ", ".join(f"{k}={v}" for k, v in result.outputs.items())
        table.add_row(
            step,
            execution.realm or "",
            execution.operator or "",
            execution.status.value,
            execution.execution_id,
            outputs,
        )
    return table


def demo(
    ctx: typer.Context,
    run: Annotated[
        str,
        typer.Option("--run", help="Name of this demo run (its outputs are artifact://<realm>/…/<run>.*)."),
    ] = "demo",
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Run the realm intents from a raw dataset to a solution and a workflow; print their lineage."""
    viewer = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> tuple[DemoGraph, LineageGraph | None, LineageGraph | None]:
        graph = await build_demo(plane, tenant=viewer.tenant, run=run)
        if graph.pipeline is None or not graph.pipeline.ok:
            return graph, None, None
        me = plane.for_subject(viewer)
        upstream = await me.lineage(graph.solution, direction="upstream", depth=DEPTH)
        downstream = await me.lineage(graph.dataset, direction="downstream", depth=DEPTH)
        return graph, upstream, downstream

    graph, upstream, downstream = with_plane(settings_of(ctx), work)
    console = out()
    console.print(steps_table(graph))
    pipeline = graph.pipeline
    if pipeline is None or not pipeline.ok or upstream is None or downstream is None:
        failed = pipeline.runs[pipeline.failed_step or ""] if pipeline else None
        error = failed.execution.error if failed else "no step ran"
        fail(
            f"demo step {pipeline.failed_step if pipeline else '?'} failed: {error}",
            "run `artifact-plane operator validate` to find the broken operator",
            EXIT_ERROR,
        )
    console.print(
        f"ran {len(graph.executions)} intents across {', '.join(DEMO_REALMS)} in tenant {graph.tenant!r}",
        markup=False,
        soft_wrap=True,
    )
    console.print("\nfrom the raw dataset to the solution (upstream of the solution):", markup=False)
    console.print(lineage_tree(without_invocations(upstream), "upstream"))
    console.print("\neverything derived from the dataset (downstream):", markup=False)
    console.print(lineage_tree(without_invocations(downstream), "downstream"))
    console.print(
        f"solution: {graph.solution}  dataset: {graph.dataset}  "
        f"(try: artifact-plane regenerate {graph.solution} --check)",
        markup=False,
        soft_wrap=True,
    )
