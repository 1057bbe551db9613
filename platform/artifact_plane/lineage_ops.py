"""Lineage operations of the scoped handle: register edges, walk and present them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.ids import validate_id
from artifact_plane.lineage_view import present
from artifact_plane.models import EdgeKind, Execution, LineageEdge, LineageGraph, NodeKind, Subject
from artifact_plane.ports.lineage import Direction

if TYPE_CHECKING:
    from artifact_plane.plane import ArtifactPlane


class LineageOps:
    """Mixed into ScopedPlane; needs its ``_plane``, ``subject`` and ``tenant``."""

    _plane: ArtifactPlane
    subject: Subject
    tenant: str

    def _edge(self, kind: EdgeKind, source: str, target: str, at: datetime) -> LineageEdge:
        return LineageEdge(
            tenant_id=self.tenant, kind=kind, source_id=source, target_id=target, created_at=at
        )

    async def register_lineage(
        self,
        execution_id: str,
        *,
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        intent: str | None = None,
        operator: str | None = None,
    ) -> Execution:
        """Record that ``execution_id`` consumed ``inputs`` and produced ``outputs``.

        Raises:
            InvalidInputError: bad IDs.
            NotFoundError: an input or output is not an artifact of this tenant.
            PolicyDeniedError: you may not read an input, or not register
                lineage on an output.
        """
        validate_id(execution_id, "execution_id")
        ids = list(dict.fromkeys([*inputs, *outputs]))
        for value in ids:
            validate_id(value)
        records = await self._plane.registry.get_many(self.tenant, ids)
        missing = [value for value in ids if value not in records]
        if missing:
            raise NotFoundError("artifact", ", ".join(missing))
        # Consuming needs read access; claiming to have produced needs lineage.register.
        if inputs:
            await self._plane.authz.require(self.subject, "read", [records[i].resource() for i in inputs])
        if outputs:
            await self._plane.authz.require(
                self.subject,
                "lineage.register",
                [{**records[o].resource(), "execution_id": execution_id} for o in outputs],
            )
        now = self._plane.clock()
        try:
            previous: Execution | None = await self._plane.registry.get_execution(self.tenant, execution_id)
        except NotFoundError:
            previous = None
        execution = Execution(
            execution_id=execution_id,
            tenant_id=self.tenant,
            realm=previous.realm if previous else self.subject.realm,
            intent=intent or (previous.intent if previous else None),
            operator=operator or (previous.operator if previous else None),
            inputs=tuple(dict.fromkeys([*(previous.inputs if previous else ()), *inputs])),
            outputs=tuple(dict.fromkeys([*(previous.outputs if previous else ()), *outputs])),
            started_at=previous.started_at if previous else now,
            finished_at=now,
        )
        # Classification first: if the edges then fail, artifacts are over-classified, never under.
        await self._plane.classifier.link(self.tenant, execution_id, [records[i] for i in inputs], outputs)
        await self._plane.registry.put_execution(execution)
        edges = [self._edge(EdgeKind.CONSUMED_BY, i, execution_id, now) for i in inputs]
        edges += [self._edge(EdgeKind.PRODUCED, execution_id, o, now) for o in outputs]
        await self._plane.lineage.add_edges(edges)
        return execution

    async def lineage(
        self,
        node: str,
        *,
        direction: str | Direction = Direction.DOWNSTREAM,
        depth: int = 3,
        max_nodes: int | None = None,
        fanout_limit: int | None = None,
        as_of: datetime | None = None,
    ) -> LineageGraph:
        """The lineage around an artifact or execution.

        ``depth`` counts artifact hops. Nodes you may not read come back
        redacted (kind and depth kept, ID and names hidden).

        Raises:
            InvalidInputError: bad direction or limits.
            NotFoundError: no such artifact or execution.
            PolicyDeniedError: you may not read the lineage of ``node``.
        """
        settings = self._plane.settings
        try:
            way = Direction(direction)
        except ValueError:
            raise InvalidInputError(
                "direction", f"{direction!r} is not upstream, downstream or both"
            ) from None
        if not 0 <= depth <= settings.max_lineage_depth:
            raise InvalidInputError("depth", f"{depth} must be between 0 and {settings.max_lineage_depth}")
        budget = settings.max_lineage_nodes if max_nodes is None else max_nodes
        if not 1 <= budget <= settings.max_lineage_nodes:
            raise InvalidInputError(
                "max_nodes", f"{budget} must be between 1 and {settings.max_lineage_nodes}"
            )
        if fanout_limit is not None and fanout_limit < 1:
            raise InvalidInputError("fanout_limit", "must be >= 1")
        validate_id(node, "node")
        kind, resource = await self._node(node)
        await self._plane.authz.require(self.subject, "lineage.read", [resource])
        graph = await self._plane.lineage.traverse(
            self.tenant,
            node,
            way,
            depth=depth,
            max_nodes=budget,
            fanout_limit=fanout_limit,
            as_of=as_of,
            start_kind=kind,
            timeout=settings.lineage_timeout_seconds,
        )
        return await present(self._plane, self.subject, graph)

    async def _node(self, node: str) -> tuple[NodeKind, dict[str, Any]]:
        try:
            record = await self._plane.registry.get_artifact(self.tenant, node)
            return NodeKind.ARTIFACT, record.resource()
        except NotFoundError:
            pass
        try:
            execution = await self._plane.registry.get_execution(self.tenant, node)
            realm = execution.realm
        except NotFoundError:
            # An execution named only by create_artifact(execution_id=...) has edges but no record.
            found = await self._plane.lineage.neighbors(
                self.tenant, [node], Direction.DOWNSTREAM, limit_per_node=1
            )
            if not any(edge.kind is EdgeKind.PRODUCED for edge in found):
                raise NotFoundError("artifact or execution", node) from None
            realm = None
        return NodeKind.EXECUTION, {"tenant_id": self.tenant, "execution_id": node, "realm": realm}
