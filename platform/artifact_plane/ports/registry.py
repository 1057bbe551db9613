"""The registry port: artifact metadata, names and versions, executions."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.models import (
    ArtifactFilter,
    ArtifactRecord,
    ArtifactStatus,
    DecisionRecord,
    Execution,
    LineageEdge,
    scanned_fields,
)
from artifact_plane.ports.decisions import DecisionLog

# The statuses whose retention may still change: expired and failed are final.
RETAINABLE = frozenset({ArtifactStatus.PENDING, ArtifactStatus.READY})
# The longest TTL a registry stores (a 32-bit SQL integer, about 68 years).
MAX_TTL_SECONDS = 2**31 - 1


def check_ttl(ttl: object) -> None:
    """A TTL is None or whole seconds from 0 to :data:`MAX_TTL_SECONDS`.

    Raises:
        InvalidInputError: it is not.
    """
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS
    ):
        raise InvalidInputError(
            "ttl", f"{ttl!r} must be a whole number of seconds from 0 to {MAX_TTL_SECONDS}, or None"
        )


def check_retention(ttl: int | None, expires_at: datetime | None) -> None:
    """What every registry refuses in :meth:`Registry.update_retention` before it writes.

    Raises:
        InvalidInputError: a bad ``ttl`` (:func:`check_ttl`), or ``expires_at`` without
            ``ttl`` (or the reverse).
    """
    check_ttl(ttl)
    if (ttl is None) != (expires_at is None):
        raise InvalidInputError("expires_at", "give expires_at (created_at + ttl) exactly when ttl is given")


@dataclass(frozen=True)
class ResourcePage:
    """One page of :meth:`Registry.scan_resources`: resource documents and where the next page starts."""

    resources: list[dict[str, Any]]
    # The sort key (created_at, artifact_id) of the last resource; None when the page is empty.
    after: tuple[datetime, str] | None


class Registry(abc.ABC):
    """Where artifact records live (SQLite, PostgreSQL, memory).

    Every method is scoped by ``tenant`` except the system sweeps
    (:meth:`expire_due`, :meth:`referenced_digests`), which the plane runs on
    behalf of the operator.
    """

    @abc.abstractmethod
    async def initialize(self) -> None:
        """Create or migrate the schema; safe to call on every start.

        Raises:
            BackendUnavailableError: the database cannot be reached.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Check the backend answers.

        Raises:
            BackendUnavailableError: it does not.
        """

    @abc.abstractmethod
    async def insert_artifact(
        self,
        record: ArtifactRecord,
        edges: Sequence[LineageEdge] = (),
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        """Insert a record and its lineage edges in one transaction.

        The edges go to the registry's own edge table (or, when lineage lives
        in another database, its outbox) in the same transaction, so a record
        never exists without its edges. Edges already present are skipped.
        ``decisions`` (the decisions that allowed this write) are appended to
        the decision log this registry holds in that same transaction — only
        when :meth:`holds_decisions_of` says it holds that log — so an
        acknowledged write always has its audit entries, at one commit.

        Raises:
            ConflictError: ``(tenant, artifact_id)`` or ``(tenant, uri, version)``
                exists already (versions compare by semver precedence, so build
                metadata does not tell two versions apart). Nothing is written,
                not even the decisions.
            InvalidInputError: an edge or decision belongs to another tenant than
                the record, or decisions are given to a registry that holds no log.
            BackendUnavailableError: the database cannot be reached.
        """

    async def insert_artifacts(
        self,
        items: Sequence[tuple[ArtifactRecord, Sequence[LineageEdge]]],
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        """Insert many records with their edges; adapters make this one transaction.

        Raises:
            ConflictError: one of them exists already (the default inserts one by
                one, so earlier ones stay; transactional adapters write none).
        """
        if decisions:
            raise InvalidInputError("decisions", f"{type(self).__name__} cannot commit decisions in a batch")
        for record, edges in items:
            await self.insert_artifact(record, edges)

    def holds_decisions_of(self, log: DecisionLog) -> bool:
        """True when ``decisions`` given to the inserts land in ``log``, in the record's transaction."""
        return False

    @abc.abstractmethod
    async def claim_name(self, tenant: str, uri: str, *, exclusive: bool) -> bool:
        """Register ``uri`` as a name of ``tenant``; True when it was new.

        A name exists once claimed or once any version of it was inserted.
        With ``exclusive`` an existing name raises instead; this is the one
        place where concurrent ``failIfExists`` writers are told apart.

        Raises:
            ConflictError: ``exclusive`` and the name exists.
        """

    @abc.abstractmethod
    async def release_name(self, tenant: str, uri: str) -> None:
        """Forget a claimed name that has no versions (a failed first write)."""

    @abc.abstractmethod
    async def get_artifact(self, tenant: str, artifact_id: str) -> ArtifactRecord:
        """One record.

        Raises:
            NotFoundError: no such artifact in this tenant.
        """

    @abc.abstractmethod
    async def get_many(self, tenant: str, artifact_ids: Sequence[str]) -> dict[str, ArtifactRecord]:
        """The records that exist among ``artifact_ids`` (missing ones left out)."""

    @abc.abstractmethod
    async def list_artifacts(
        self,
        tenant: str,
        query: ArtifactFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ArtifactRecord]:
        """Up to ``limit`` records matching ``query``, ordered by ``(created_at, artifact_id)``.

        ``after`` is the sort key of the last record of the previous page.

        Raises:
            InvalidInputError: a bad ``min_version`` or URI glob (a ``self``
                glob must be resolved by the caller: the registry has no realm).
        """

    async def scan_resources(
        self,
        tenant: str,
        query: ArtifactFilter,
        *,
        fields: Iterable[str] | None,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> ResourcePage:
        """The policy resource documents of :meth:`list_artifacts`'s page, holding only what is asked.

        Each document is ``record.resource()`` restricted to
        :func:`~artifact_plane.models.scanned_fields` of ``fields`` (every field
        when None): what a policy audit reads by the million. SQL adapters
        select just those columns and build no record; this default goes
        through :meth:`list_artifacts`. The contract suite checks both give
        ``record.resource()``'s values exactly.

        Raises:
            InvalidInputError: as :meth:`list_artifacts`.
        """
        records = await self.list_artifacts(tenant, query, limit=limit, after=after)
        keep = None if fields is None else scanned_fields(fields)
        last = (records[-1].created_at, records[-1].artifact_id) if records else None
        return ResourcePage([record.resource(keep) for record in records], last)

    @abc.abstractmethod
    async def list_versions(self, tenant: str, uri: str) -> list[ArtifactRecord]:
        """Every version of ``uri``, oldest (lowest semver) first; empty when unknown."""

    @abc.abstractmethod
    async def update_status(
        self,
        tenant: str,
        artifact_id: str,
        expected: Sequence[ArtifactStatus],
        new: ArtifactStatus,
        at: datetime,
    ) -> ArtifactRecord:
        """Compare-and-set the status; return the updated record.

        Only the compare-and-set: which transitions are allowed is the plane's rule.

        Raises:
            NotFoundError: no such artifact.
            ConflictError: the current status is not one of ``expected``.
        """

    @abc.abstractmethod
    async def update_retention(
        self,
        tenant: str,
        artifact_id: str,
        *,
        retention_policy: str | None,
        ttl: int | None,
        expires_at: datetime | None,
        at: datetime,
        expected_updated_at: datetime,
    ) -> ArtifactRecord:
        """Set a record's retention (``retention_policy``, ``ttl``, ``expires_at``); return it.

        A compare-and-set: it applies only while the record is ``pending`` or
        ``ready`` and still has ``updated_at == expected_updated_at`` (the
        record the caller read and had policy decide on); ``updated_at``
        becomes ``at``. ``expires_at`` is the caller's ``created_at + ttl``
        (None exactly when ``ttl`` is None).

        Raises:
            NotFoundError: no such artifact in this tenant.
            ConflictError: it is expired or failed, or it changed since
                ``expected_updated_at``; nothing is written.
            InvalidInputError: ``ttl`` is negative or over ``MAX_TTL_SECONDS``, or
                ``expires_at`` and ``ttl`` disagree on being None; nothing is written.
        """

    @abc.abstractmethod
    async def delete_artifacts(
        self, tenant: str, artifact_ids: Sequence[str], at: datetime
    ) -> list[ArtifactRecord]:
        """Delete records and close their open edges in one transaction; return what was deleted."""

    @abc.abstractmethod
    async def find_by_execution(self, tenant: str, execution_id: str) -> list[ArtifactRecord]:
        """Every record produced by ``execution_id`` (in no particular order)."""

    @abc.abstractmethod
    async def add_inherited_tags(
        self, tenant: str, artifact_ids: Sequence[str], tags: Sequence[str], at: datetime
    ) -> list[str]:
        """Add ``tags`` to the ``inherited_tags`` of ``tenant``'s records among ``artifact_ids``.

        One transaction; a union, so repeating it (or racing another) is
        harmless. Records that had every tag already are left alone; IDs that
        are not records of ``tenant`` are ignored. Returns the IDs changed,
        whose ``updated_at`` becomes ``at``.

        Raises:
            BackendUnavailableError: the registry cannot be written.
        """

    @abc.abstractmethod
    async def expire_due(self, now: datetime, limit: int) -> list[ArtifactRecord]:
        """Mark up to ``limit`` ready records whose ``expires_at`` passed as expired; return them."""

    @abc.abstractmethod
    async def fail_abandoned_executions(
        self, started_before: datetime, error: str, at: datetime, limit: int
    ) -> list[Execution]:
        """Mark up to ``limit`` executions of any tenant still running since before ``started_before``
        as failed (with ``error``, finished ``at``); return them, oldest first.

        A system sweep: a process that died inside a handler leaves its
        execution running forever. Only executions still running are touched
        (a compare-and-set against one that finishes meanwhile).
        """

    @abc.abstractmethod
    async def referenced_digests(
        self, tenant: str, digests: Sequence[str], expired_before: datetime
    ) -> set[str]:
        """Which ``digests`` a record still needs.

        A record needs its payload unless it is expired and its last update
        (the moment it expired) is before ``expired_before`` — the GC grace.
        Failed records keep theirs: a failed artifact is kept for diagnosis
        until it is deleted.
        """

    @abc.abstractmethod
    async def put_execution(self, execution: Execution) -> None:
        """Insert or replace an execution record."""

    @abc.abstractmethod
    async def get_execution(self, tenant: str, execution_id: str) -> Execution:
        """One execution.

        Raises:
            NotFoundError: no such execution in this tenant.
        """

    async def get_executions(self, tenant: str, execution_ids: Sequence[str]) -> dict[str, Execution]:
        """The executions that exist among ``execution_ids`` (adapters may batch this)."""
        found: dict[str, Execution] = {}
        for execution_id in execution_ids:
            try:
                found[execution_id] = await self.get_execution(tenant, execution_id)
            except NotFoundError:
                continue
        return found

    async def __aenter__(self) -> Registry:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
