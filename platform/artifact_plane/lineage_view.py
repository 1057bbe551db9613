"""Turn a raw lineage walk into the caller's answer: enriched, policy-checked, redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind, Subject

if TYPE_CHECKING:
    from artifact_plane.plane import ArtifactPlane


async def present(plane: ArtifactPlane, subject: Subject, graph: LineageGraph) -> LineageGraph:
    """Fill in node details and redact the nodes ``subject`` may not read.

    Every node is decided in one policy batch. A redacted node keeps its kind
    and depth and gets a placeholder ID, so the shape of the graph survives
    without leaking names.
    """
    tenant = subject.tenant
    artifact_ids = [n.id for n in graph.nodes if n.kind is NodeKind.ARTIFACT]
    execution_ids = [n.id for n in graph.nodes if n.kind is NodeKind.EXECUTION]
    records = await plane.registry.get_many(tenant, artifact_ids)
    executions = await plane.registry.get_executions(tenant, execution_ids)

    details: dict[str, dict[str, Any]] = {}
    resources: list[dict[str, Any]] = []
    for node in graph.nodes:
        if node.kind is NodeKind.ARTIFACT:
            record = records.get(node.id)
            resources.append(record.resource() if record else {"tenant_id": tenant, "artifact_id": node.id})
            details[node.id] = (
                {
                    "artifact_type": record.artifact_type,
                    "realm": record.realm,
                    "uri": record.uri,
                    "status": record.status.value,
                }
                if record
                else {"status": "deleted"}
            )
        else:
            execution = executions.get(node.id)
            realm = execution.realm if execution else None
            resources.append({"tenant_id": tenant, "execution_id": node.id, "realm": realm})
            details[node.id] = (
                {"realm": realm, "intent": execution.intent, "status": execution.status.value}
                if execution
                else {}
            )
    decisions = await plane.authz.decide(subject, "read", resources)

    renamed: dict[str, str] = {}
    nodes: list[LineageNode] = []
    for node, decision in zip(graph.nodes, decisions, strict=True):
        if decision.allow or node.id == graph.root:
            nodes.append(node.model_copy(update=details[node.id]))
        else:
            placeholder = f"redacted-{len(renamed) + 1}"
            renamed[node.id] = placeholder
            nodes.append(LineageNode(id=placeholder, kind=node.kind, depth=node.depth, redacted=True))
    edges: list[LineageEdge] = [
        edge.model_copy(
            update={
                "source_id": renamed.get(edge.source_id, edge.source_id),
                "target_id": renamed.get(edge.target_id, edge.target_id),
            }
        )
        for edge in graph.edges
    ]
    return graph.model_copy(update={"nodes": tuple(nodes), "edges": tuple(edges)})
