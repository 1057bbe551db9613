"""DataLoaders: a page of artifacts with their lineage costs a few batched calls, not one per row.

Each loader gathers the keys asked for in one tick of the event loop and
answers them with one registry or lineage call plus one policy batch, the
same checks the single-item plane calls make: the tenant scopes every read,
and policy decides each item (what the caller may not read comes back as
None or is left out, never as an error that would reveal it exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from artifact_plane.models import ArtifactRecord, EdgeKind, Execution, Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.lineage import Direction


class Loaders:
    """The loaders of one request, for one subject."""

    def __init__(self, plane: ArtifactPlane, subject: Subject) -> None:
        self._plane = plane
        self._subject = subject
        self.artifact = DataLoader[str, ArtifactRecord | None](load_fn=self._artifacts)
        self.execution = DataLoader[str, Execution | None](load_fn=self._executions)
        self.consumers = DataLoader[str, list[str]](load_fn=self._consumers)
        self.producers = DataLoader[str, list[str]](load_fn=self._producers)

    async def _allowed(self, action: str, resources: Sequence[dict[str, Any]]) -> list[bool]:
        decisions = await self._plane.authz.decide(self._subject, action, resources)
        return [d.allow for d in decisions]

    async def _artifacts(self, ids: list[str]) -> list[ArtifactRecord | None]:
        found = await self._plane.registry.get_many(self._subject.tenant, ids)
        records = [found[i] for i in ids if i in found]
        allowed = await self._allowed("read", [r.resource() for r in records])
        readable = {r.artifact_id: r for r, ok in zip(records, allowed, strict=True) if ok}
        return [readable.get(i) for i in ids]

    async def _executions(self, ids: list[str]) -> list[Execution | None]:
        tenant = self._subject.tenant
        found = await self._plane.registry.get_executions(tenant, ids)
        runs = [found[i] for i in ids if i in found]
        resources = [{"tenant_id": tenant, "execution_id": e.execution_id, "realm": e.realm} for e in runs]
        allowed = await self._allowed("read", resources)
        readable = {e.execution_id: e for e, ok in zip(runs, allowed, strict=True) if ok}
        return [readable.get(i) for i in ids]

    async def _consumers(self, ids: list[str]) -> list[list[str]]:
        return await self._neighbours(ids, Direction.DOWNSTREAM, EdgeKind.CONSUMED_BY)

    async def _producers(self, ids: list[str]) -> list[list[str]]:
        return await self._neighbours(ids, Direction.UPSTREAM, EdgeKind.PRODUCED)

    async def _neighbours(self, ids: list[str], direction: Direction, kind: EdgeKind) -> list[list[str]]:
        """Execution IDs one hop from each artifact, for artifacts whose lineage the caller may read."""
        tenant = self._subject.tenant
        records = await self._plane.registry.get_many(tenant, ids)
        known = [i for i in ids if i in records]
        allowed = await self._allowed("lineage.read", [records[i].resource() for i in known])
        visible = [i for i, ok in zip(known, allowed, strict=True) if ok]
        edges = await self._plane.lineage.neighbors(tenant, visible, direction) if visible else []
        by_artifact: dict[str, list[str]] = {i: [] for i in ids}
        for edge in edges:
            if edge.kind is not kind:
                continue
            artifact, execution = (
                (edge.source_id, edge.target_id)
                if kind is EdgeKind.CONSUMED_BY
                else (edge.target_id, edge.source_id)
            )
            if artifact in by_artifact and execution not in by_artifact[artifact]:
                by_artifact[artifact].append(execution)
        return [by_artifact[i] for i in ids]
