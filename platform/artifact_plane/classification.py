"""Classification tags (``pii``, …) propagate downstream along lineage.

An artifact derived from a ``pii`` input is ``pii`` too: its record's
``inherited_tags`` hold the classification tags (``AP_CLASSIFICATION_TAGS``)
of everything upstream of it, and policies read ``tags`` and
``inherited_tags`` together (e.g. deny ``export`` of pii-derived data).

The invariant: for every lineage path ``A → … → B``, A's classification
(own and inherited tags among the classification tags) is in B's
``inherited_tags``. Each lineage change keeps it:

* a create with an ``execution_id`` inherits, in its own record insert, the
  classification of its ``inputs`` and of whatever that execution consumed
  before;
* registering lineage later (``register_lineage``, a content-addressed
  re-create that adds edges) first adds the classification to every
  artifact downstream — in one registry transaction — and only then writes
  the edges.

Propagation is a set union: repeating it is harmless, and a failure
between the two steps leaves artifacts *over*-classified (the safe side),
never an edge whose downstream lacks its tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from artifact_plane.errors import ConfigurationError, InvalidInputError
from artifact_plane.models import ArtifactRecord, EdgeKind
from artifact_plane.ports.lineage import Direction
from artifact_plane.records import check_tags

if TYPE_CHECKING:
    from artifact_plane.plane import ArtifactPlane

__all__ = ["Classifier"]


class Classifier:
    """Computes and propagates the classification tags of one plane.

    Raises:
        ConfigurationError: a classification tag is not a valid tag.
    """

    def __init__(self, plane: ArtifactPlane, tags: Sequence[str]) -> None:
        try:
            self.tags = frozenset(check_tags(list(tags), "AP_CLASSIFICATION_TAGS"))
        except InvalidInputError as exc:
            raise ConfigurationError("AP_CLASSIFICATION_TAGS", exc.reason) from exc
        self._plane = plane

    def of(self, records: Iterable[ArtifactRecord]) -> tuple[str, ...]:
        """The classification tags ``records`` carry (own or inherited), sorted."""
        if not self.tags:
            return ()
        found = {tag for r in records for tag in (*r.tags, *r.inherited_tags) if tag in self.tags}
        return tuple(sorted(found))

    async def consumed_by(self, tenant: str, execution_id: str) -> tuple[str, ...]:
        """The classification of what ``execution_id`` consumed so far (lineage edges)."""
        if not self.tags:
            return ()
        edges = await self._plane.lineage.neighbors(tenant, [execution_id], Direction.UPSTREAM)
        sources = [e.source_id for e in edges if e.kind is EdgeKind.CONSUMED_BY]
        if not sources:
            return ()
        return self.of((await self._plane.registry.get_many(tenant, sources)).values())

    async def for_output(
        self, tenant: str, execution_id: str | None, inputs: Iterable[ArtifactRecord]
    ) -> tuple[str, ...]:
        """What a new output of ``execution_id`` consuming ``inputs`` inherits (reads only)."""
        if not self.tags or execution_id is None:
            return ()
        earlier = await self.consumed_by(tenant, execution_id)
        return tuple(sorted({*self.of(inputs), *earlier}))

    async def reach_outputs_of(self, tenant: str, execution_id: str, tags: Sequence[str]) -> list[str]:
        """Before new inputs of ``execution_id`` are recorded: its outputs so far (and on) get ``tags``."""
        if not tags:
            return []
        return await self.propagate(tenant, await self._produced_by(tenant, execution_id), tags)

    async def _produced_by(self, tenant: str, execution_id: str) -> list[str]:
        edges = await self._plane.lineage.neighbors(tenant, [execution_id], Direction.DOWNSTREAM)
        return [e.target_id for e in edges if e.kind is EdgeKind.PRODUCED]

    async def propagate(self, tenant: str, start: Sequence[str], tags: Sequence[str]) -> list[str]:
        """Add ``tags`` to ``start`` and every artifact downstream of them; return the IDs changed.

        Walks the lineage store level by level (no depth or node budget: a
        cut would leave artifacts unclassified) and applies the union in one
        registry transaction.
        """
        if not tags or not start:
            return []
        reached = dict.fromkeys(start)
        frontier = list(reached)
        seen_executions: set[str] = set()
        while frontier:
            consumed = await self._plane.lineage.neighbors(tenant, frontier, Direction.DOWNSTREAM)
            executions = [e.target_id for e in consumed if e.target_id not in seen_executions]
            seen_executions.update(executions)
            if not executions:
                break
            produced = await self._plane.lineage.neighbors(
                tenant, list(dict.fromkeys(executions)), Direction.DOWNSTREAM
            )
            frontier = [e.target_id for e in produced if e.target_id not in reached]
            reached.update(dict.fromkeys(frontier))
        return await self._plane.registry.add_inherited_tags(
            tenant, list(reached), list(tags), self._plane.clock()
        )

    async def link(
        self, tenant: str, execution_id: str, inputs: Iterable[ArtifactRecord], outputs: Sequence[str]
    ) -> None:
        """Before edges ``inputs → execution_id → outputs`` are written: classify what they will reach.

        The new inputs' classification reaches the execution's earlier and
        new outputs; what the execution consumed before reaches the new
        outputs. Both flow on downstream.
        """
        if not self.tags:
            return
        fresh = self.of(inputs)
        earlier = await self.consumed_by(tenant, execution_id) if outputs else ()
        if fresh:
            before = await self._produced_by(tenant, execution_id)
            await self.propagate(tenant, [*before, *outputs], fresh)
        if set(earlier) - set(fresh):
            await self.propagate(tenant, outputs, earlier)
