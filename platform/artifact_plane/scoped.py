"""The caller's handle on the plane: every operation, scoped to one subject.

This is the one place that orders a write or a read (DESIGN "The write path"):
validate → ask policy (and log it) → store the payload → record + edges in one
transaction → return the ID.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import ValidationError

from artifact_plane.errors import (
    ArtifactPlaneError,
    ConflictError,
    DeadlineExceededError,
    InvalidInputError,
    NotFoundError,
)
from artifact_plane.ids import (
    REF_KEY,
    URI_SCHEME,
    ArtifactUri,
    SemVer,
    compute_artifact_id,
    is_artifact_ref,
    validate_id,
)
from artifact_plane.lineage_ops import LineageOps
from artifact_plane.models import (
    ALLOWED_TRANSITIONS,
    Artifact,
    ArtifactFilter,
    ArtifactRecord,
    ArtifactStatus,
    EdgeKind,
    Execution,
    LineageEdge,
    Page,
    StoredPayload,
    Subject,
)
from artifact_plane.pagination import decode_cursor, encode_cursor
from artifact_plane.payload_input import PreparedPayload, accepts, prepare
from artifact_plane.ports.registry import RETAINABLE, check_ttl
from artifact_plane.records import build_record, check_fields, check_tags, parse_status

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from artifact_plane.authz import Grant
    from artifact_plane.plane import ArtifactPlane
    from artifact_plane.ports.payloads import PayloadStore

WRITE_MODES = {"upsert", "failIfExists"}
VERSION_RETRIES = 20
PAYLOAD_CONCURRENCY = 16


def _size_of(prepared: PreparedPayload) -> dict[str, int]:
    """``size_bytes`` for a policy resource; absent (not null) while a stream's size is unknown."""
    return {} if prepared.size is None else {"size_bytes": prepared.size}


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a caller should see from a failed task group (ours before others)."""
    flat: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            flat.append(error)
    ours = [e for e in flat if isinstance(e, ArtifactPlaneError)]
    return (ours or flat)[0]


@dataclass(frozen=True)
class PayloadExport:
    """An allowed export of one artifact's payload (:meth:`ScopedPlane.export_payload`)."""

    record: ArtifactRecord
    _payloads: PayloadStore

    def open(self, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """A chunk stream of the payload, or of ``length`` bytes from ``offset``."""
        return self._payloads.open(self.record.tenant_id, self.record.sha256, offset=offset, length=length)


class ScopedPlane(LineageOps):
    """Everything one subject may do; the tenant always comes from the subject."""

    def __init__(self, plane: ArtifactPlane, subject: Subject) -> None:
        self._plane = plane
        self.subject = subject
        self.tenant = subject.tenant

    # ----------------------------------------------------------------- create

    async def create_artifact(
        self,
        data: object,
        *,
        artifact_type: str,
        content_type: str | None = None,
        encoding: str | None = None,
        artifact_id: str | None = None,
        realm: str | None = None,
        status: str | ArtifactStatus = ArtifactStatus.READY,
        execution_id: str | None = None,
        inputs: Sequence[str] = (),
        session_id: str | None = None,
        solution_id: str | None = None,
        intent_type: str | None = None,
        owner: str | None = None,
        schema_version: str | None = None,
        ttl: int | None = None,
        regenerable: bool = False,
        retention_policy: str | None = None,
        capabilities: Sequence[str] = (),
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store a payload and register it; return its artifact ID.

        ``data`` may be bytes, text, a JSON dict/list, a binary file object or
        an async iterator of bytes. Without ``artifact_id`` the ID is
        content-addressed, so creating the same content again returns the same
        ID (and records any new lineage). ``execution_id`` records
        ``execution -PRODUCED-> artifact``; ``inputs`` record
        ``input -CONSUMED_BY-> execution``.

        Raises:
            InvalidInputError: bad fields or payload too large; nothing written.
            PolicyDeniedError: policy said no (reasons attached).
            ConflictError: ``artifact_id`` exists with other content.
            NotFoundError: an input is not an artifact of this tenant.
        """
        fields = check_fields(
            self.subject,
            artifact_type=artifact_type,
            realm=realm,
            status=status,
            execution_id=execution_id,
            session_id=session_id,
            solution_id=solution_id,
            intent_type=intent_type,
            owner=owner,
            schema_version=schema_version,
            ttl=ttl,
            regenerable=regenerable,
            retention_policy=retention_policy,
            capabilities=capabilities,
            tags=tags,
            metadata=metadata,
        )
        if artifact_id is not None:
            validate_id(artifact_id)
        input_ids, input_records = await self._existing_inputs(inputs, execution_id)
        prepared = prepare(data, content_type, encoding)
        fields["inherited_tags"] = await self._plane.classifier.for_output(
            self.tenant, execution_id, input_records
        )
        resource = {
            **fields,
            "artifact_id": artifact_id,
            "content_type": prepared.content_type,
            **_size_of(prepared),
            "tenant_id": self.tenant,
        }
        async with self._grant([resource]) as grant:
            stored = await self._plane.payloads.put_stream(
                self.tenant, prepared.chunks, max_size=self._plane.settings.max_payload_bytes
            )
            await self._recheck_sizes([resource], [prepared], [stored])
            record = build_record(
                self.subject,
                self._plane.clock(),
                fields,
                stored,
                artifact_id or compute_artifact_id(digest=stored.sha256),
                prepared.content_type,
                prepared.encoding,
            )
            edges = self._edges(record.artifact_id, execution_id, input_ids, record.created_at)
            return await self._insert(record, edges, grant)

    async def create_many(self, items: Sequence[Mapping[str, Any]]) -> list[str]:
        """Create many artifacts at once; return their IDs in order.

        Each item holds the keyword arguments of :meth:`create_artifact` plus
        ``data``. Policy decides the whole batch in one call and the records
        commit in one registry transaction, so a batch is all or nothing.

        Raises:
            InvalidInputError: any item is bad; nothing written.
            PolicyDeniedError: any item is denied; nothing written.
            ConflictError: an explicit ``artifact_id`` exists with other content.
        """
        specs = []
        for index, item in enumerate(items):
            args = dict(item)
            if "data" not in args or "artifact_type" not in args:
                raise InvalidInputError(f"items[{index}]", "each item needs data and artifact_type")
            data = args.pop("data")
            explicit = args.pop("artifact_id", None)
            if explicit is not None:
                validate_id(explicit)
            content_type, encoding = args.pop("content_type", None), args.pop("encoding", None)
            inputs = args.pop("inputs", ())
            fields = check_fields(self.subject, **args)
            specs.append((fields, explicit, inputs, prepare(data, content_type, encoding)))
        for fields, _, inputs, _ in specs:
            if inputs and fields.get("execution_id") is None:
                raise InvalidInputError(
                    "inputs", "inputs are consumed by an execution: give execution_id too"
                )
        wanted = [i for _, _, inputs, _ in specs for i in inputs]
        _, found = await self._existing_inputs(wanted, "batch" if wanted else None)
        by_id = {r.artifact_id: r for r in found}
        # Items of one execution share its inputs: each output inherits from all of them.
        consumed: dict[str | None, list[ArtifactRecord]] = {}
        for fields, _, inputs, _ in specs:
            consumed.setdefault(fields.get("execution_id"), []).extend(by_id[i] for i in inputs)
        inherited = {
            execution_id: await self._plane.classifier.for_output(self.tenant, execution_id, records)
            for execution_id, records in consumed.items()
        }
        for fields, _, _, _ in specs:
            fields["inherited_tags"] = inherited[fields.get("execution_id")]
        resources = [
            {
                **fields,
                "artifact_id": explicit,
                "content_type": prepared.content_type,
                **_size_of(prepared),
                "tenant_id": self.tenant,
            }
            for fields, explicit, _, prepared in specs
        ]
        async with self._grant(resources) as grant:
            return await self._create_granted(specs, resources, grant)

    async def _create_granted(
        self,
        specs: Sequence[tuple[dict[str, Any], str | None, Sequence[str], PreparedPayload]],
        resources: Sequence[Mapping[str, Any]],
        grant: Grant,
    ) -> list[str]:
        stored_all = await self._store_all([prepared for _, _, _, prepared in specs])
        await self._recheck_sizes(resources, [prepared for _, _, _, prepared in specs], stored_all)
        rows: dict[str, tuple[ArtifactRecord, list[LineageEdge]]] = {}
        ids: list[str] = []
        for (fields, explicit, inputs, prepared), stored in zip(specs, stored_all, strict=True):
            art_id = explicit or compute_artifact_id(digest=stored.sha256)
            record = build_record(
                self.subject,
                self._plane.clock(),
                fields,
                stored,
                art_id,
                prepared.content_type,
                prepared.encoding,
            )
            edges = self._edges(art_id, fields.get("execution_id"), list(inputs), record.created_at)
            if art_id in rows:  # the same content twice in one batch: one record, all edges
                rows[art_id][1].extend(edges)
            else:
                rows[art_id] = (record, edges)
            ids.append(art_id)
        existing = await self._plane.registry.get_many(self.tenant, list(rows))
        fresh = [(r, e) for art_id, (r, e) in rows.items() if art_id not in existing]
        for record, edges in fresh:
            await self._reach_siblings(record, edges)
        try:
            if fresh:
                await self._plane.registry.insert_artifacts(fresh, decisions=grant.decisions)
                grant.committed = True
        except ConflictError:
            # Raced with another writer: settle each one by the single-item rules.
            for record, edges in fresh:
                await self._insert(record, edges)
        for art_id in existing:
            record, edges = rows[art_id]
            await self._insert(record, edges)
        return ids

    async def _store_all(self, prepared: Sequence[PreparedPayload]) -> list[StoredPayload]:
        """Store payloads several at a time: each waits on its own fsync, so they overlap."""
        limit = self._plane.settings.max_payload_bytes
        stored: list[StoredPayload | None] = [None] * len(prepared)

        async def lane(first: int) -> None:
            # A few lanes, each storing every PAYLOAD_CONCURRENCY-th payload in
            # turn: the overlap of a task per payload, without a task per payload.
            for index in range(first, len(prepared), PAYLOAD_CONCURRENCY):
                stored[index] = await self._plane.payloads.put_stream(
                    self.tenant, prepared[index].chunks, max_size=limit
                )

        try:
            async with anyio.create_task_group() as group:
                for first in range(min(PAYLOAD_CONCURRENCY, len(prepared))):
                    group.start_soon(lane, first)
        except BaseExceptionGroup as group_error:
            # One bad payload (too large, say) fails the batch with its own error.
            raise _first_error(group_error) from None
        return [s for s in stored if s is not None]

    async def write(
        self,
        uri: str,
        data: object,
        *,
        mode: str = "upsert",
        version: str | None = None,
        artifact_type: str = "document",
        content_type: str | None = None,
        encoding: str | None = None,
        **fields: Any,
    ) -> str:
        """Write a new version of a named artifact ``artifact://realm/path``.

        ``mode="failIfExists"`` refuses a name that has any version;
        ``"upsert"`` adds a version. Without ``version`` the next patch of the
        newest version is used (``1.0.0`` for a new name). Other keyword
        arguments are those of :meth:`create_artifact`.

        Raises:
            InvalidInputError: bad URI, version, mode or fields; nothing written.
            ConflictError: ``failIfExists`` on an existing name, or ``version``
                exists with other content.
            PolicyDeniedError: policy said no.
        """
        if mode not in WRITE_MODES:
            raise InvalidInputError("mode", f"{mode!r} is not one of upsert, failIfExists")
        name = ArtifactUri.parse(uri, self_realm=self.subject.realm)
        explicit = SemVer.parse(version) if version is not None else None
        inputs = fields.pop("inputs", ())
        if "artifact_id" in fields:
            raise InvalidInputError(
                "artifact_id", "named versions get their ID from name, version and content"
            )
        checked = check_fields(self.subject, artifact_type=artifact_type, realm=name.realm, **fields)
        input_ids, input_records = await self._existing_inputs(inputs, checked.get("execution_id"))
        prepared = prepare(data, content_type, encoding)
        checked["inherited_tags"] = await self._plane.classifier.for_output(
            self.tenant, checked.get("execution_id"), input_records
        )
        resource = {
            **checked,
            "uri": str(name),
            "version": version,
            "content_type": prepared.content_type,
            **_size_of(prepared),
            "tenant_id": self.tenant,
        }
        await self._plane.authz.require(self.subject, "create", [resource])
        registry = self._plane.registry
        is_new = await registry.claim_name(self.tenant, str(name), exclusive=mode == "failIfExists")
        try:
            stored = await self._plane.payloads.put_stream(
                self.tenant, prepared.chunks, max_size=self._plane.settings.max_payload_bytes
            )
            await self._recheck_sizes([resource], [prepared], [stored])
        except BaseException:
            if is_new:
                await registry.release_name(self.tenant, str(name))
            raise
        for _ in range(VERSION_RETRIES):
            semver = explicit or await self._next_version(str(name))
            record = build_record(
                self.subject,
                self._plane.clock(),
                {**checked, "uri": str(name), "version": str(semver), "version_key": semver.sort_key()},
                stored,
                compute_artifact_id(digest=stored.sha256, uri=str(name), version=str(semver)),
                prepared.content_type,
                prepared.encoding,
            )
            edges = self._edges(record.artifact_id, checked.get("execution_id"), input_ids, record.created_at)
            try:
                return await self._insert(record, edges)
            except ConflictError:
                if explicit is not None:
                    raise
                # Another writer took this version number: take the next one.
        raise ConflictError(str(name), f"gave up after {VERSION_RETRIES} concurrent version bumps; retry")

    # ------------------------------------------------------------------- read

    async def get_meta(self, artifact_id: str) -> ArtifactRecord:
        """The record without payload.

        Raises:
            NotFoundError: no such artifact (or another tenant's).
            PolicyDeniedError: you may not read it.
        """
        record = await self._plane.registry.get_artifact(self.tenant, validate_id(artifact_id))
        await self._plane.authz.require(self.subject, "read", [record.resource()])
        return record

    async def get_artifact(self, artifact_id: str, *, include_payload: bool = False) -> Artifact:
        """The record, with its payload bytes when ``include_payload``.

        Raises:
            NotFoundError: no such artifact (or another tenant's).
            PolicyDeniedError: you may not read it.
        """
        record = await self.get_meta(artifact_id)
        payload = await self._load(record) if include_payload else None
        return Artifact(**record.model_dump(), payload=payload)

    async def open_payload(
        self, artifact_id: str, *, offset: int = 0, length: int | None = None
    ) -> tuple[ArtifactRecord, AsyncIterator[bytes]]:
        """The record and a chunk stream of its payload (for large payloads), read inside the plane."""
        record = await self.get_meta(artifact_id)
        return record, self._plane.payloads.open(self.tenant, record.sha256, offset=offset, length=length)

    async def export_payload(self, artifact_id: str) -> PayloadExport:
        """Take a payload out of the plane (a download, a file): policy action ``export``.

        ``export`` is judged like a read, and also by classification: in the
        shipped policies, pii data — tagged so, or derived from data that was
        — is exported by stewards only. One decision covers every range
        opened through the returned :class:`PayloadExport`.

        Raises:
            NotFoundError: no such artifact.
            PolicyDeniedError: you may not export it (reasons attached).
        """
        record = await self._plane.registry.get_artifact(self.tenant, validate_id(artifact_id))
        await self._plane.authz.require(self.subject, "export", [record.resource()])
        return PayloadExport(record, self._plane.payloads)

    async def read(
        self, uri: str, *, version: str | None = None, accept: Sequence[str] | None = None
    ) -> Artifact:
        """The newest ready version of a name (or ``version``), with payload.

        Raises:
            NotFoundError: no such name or version (or no ready version).
            InvalidInputError: its content type is not in ``accept``.
            PolicyDeniedError: you may not read it.
        """
        record = await self._resolve_uri(uri, version=version)
        if accept is not None and not accepts(record.content_type, accept):
            raise InvalidInputError(
                "content_type", f"{record.content_type!r} is not in the accepted types {list(accept)}"
            )
        await self._plane.authz.require(self.subject, "read", [record.resource()])
        return Artifact(**record.model_dump(), payload=await self._load(record))

    async def resolve_uri(self, uri: str, *, version: str | None = None) -> ArtifactRecord:
        """The record a name (and optional version) points at: its newest ready version, or ``version``.

        Raises:
            InvalidInputError: a bad URI or version.
            NotFoundError: no such name or version (or no ready version).
            PolicyDeniedError: you may not read it.
        """
        record = await self._resolve_uri(uri, version=version)
        await self._plane.authz.require(self.subject, "read", [record.resource()])
        return record

    async def _resolve_uri(self, uri: str, *, version: str | None = None) -> ArtifactRecord:
        """:meth:`resolve_uri` without the policy check (for operations that ask it themselves)."""
        name = str(ArtifactUri.parse(uri, self_realm=self.subject.realm))
        wanted = SemVer.parse(version) if version is not None else None
        history = await self._plane.registry.list_versions(self.tenant, name)
        if wanted is not None:
            for record in history:
                if record.version is not None and SemVer.parse(record.version) == wanted:
                    return record
            raise NotFoundError("artifact version", f"{name}@{version}")
        for record in reversed(history):
            if record.status is ArtifactStatus.READY:
                return record
        raise NotFoundError("artifact", name)

    async def versions(self, uri: str) -> list[ArtifactRecord]:
        """Every version of a name you may read, oldest first."""
        name = str(ArtifactUri.parse(uri, self_realm=self.subject.realm))
        history = await self._plane.registry.list_versions(self.tenant, name)
        return await self._readable(history)

    async def list_artifacts(
        self,
        *,
        realm: str | None = None,
        artifact_type: str | None = None,
        status: Sequence[str] | str | None = None,
        tags: Sequence[str] = (),
        uri: str | None = None,
        min_version: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        execution_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ArtifactRecord]:
        """One page of the artifacts you may read, oldest first; ``uri`` is a glob.

        Items policy denies you are left out of the page; ``next_cursor``
        still moves past them.

        Raises:
            InvalidInputError: a bad filter, limit or cursor.
            PolicyDeniedError: you may not list at all.
        """
        settings = self._plane.settings
        size = settings.default_page_size if limit is None else limit
        if not 1 <= size <= settings.max_page_size:
            raise InvalidInputError("limit", f"{size} must be between 1 and {settings.max_page_size}")
        statuses = [status] if isinstance(status, str | ArtifactStatus) else list(status or ())
        if min_version is not None:
            SemVer.parse(min_version)
        if uri is not None:
            from artifact_plane.ids import uri_glob_regex

            uri_glob_regex(uri, self_realm=self.subject.realm)
            if "artifact://self/" in uri and self.subject.realm:
                uri = uri.replace("artifact://self/", f"{URI_SCHEME}{self.subject.realm}/", 1)
        try:
            query = ArtifactFilter(
                realm=realm,
                artifact_type=artifact_type,
                status=tuple(parse_status(s) for s in statuses),
                tags=check_tags(tags, "tags"),
                uri_glob=uri,
                min_version=min_version,
                created_after=created_after,
                created_before=created_before,
                execution_id=execution_id,
            )
        except ValidationError as exc:
            raise InvalidInputError("filter", str(exc.errors()[0]["msg"])) from exc
        resource = {"tenant_id": self.tenant, **query.model_dump(mode="json")}
        await self._plane.authz.require(self.subject, "list", [resource])
        rows = await self._plane.registry.list_artifacts(
            self.tenant, query, limit=size + 1, after=decode_cursor(cursor)
        )
        more = len(rows) > size
        rows = rows[:size]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].artifact_id) if more else None
        return Page[ArtifactRecord](items=await self._readable(rows), next_cursor=next_cursor)

    async def get_execution(self, execution_id: str) -> Execution:
        """One execution record (references only).

        Raises:
            NotFoundError: no such execution (or another tenant's).
        """
        execution = await self._plane.registry.get_execution(
            self.tenant, validate_id(execution_id, "execution_id")
        )
        resource = {"tenant_id": self.tenant, "execution_id": execution_id, "realm": execution.realm}
        await self._plane.authz.require(self.subject, "read", [resource])
        return execution

    # -------------------------------------------------------- change, delete

    async def set_status(self, artifact_id: str, status: str | ArtifactStatus) -> ArtifactRecord:
        """Move an artifact along ``pending → ready | failed``, ``ready → expired``.

        Raises:
            InvalidInputError: not an allowed transition from the current status.
            NotFoundError: no such artifact.
            ConflictError: another writer changed the status first.
            PolicyDeniedError: you may not update it.
        """
        new = parse_status(status)
        record = await self._plane.registry.get_artifact(self.tenant, validate_id(artifact_id))
        if new not in ALLOWED_TRANSITIONS[record.status]:
            raise InvalidInputError(
                "status",
                f"cannot go from {record.status.value} to {new.value} "
                "(allowed: pending→ready|failed, ready→expired)",
            )
        await self._plane.authz.require(
            self.subject, "update", [{**record.resource(), "new_status": new.value}]
        )
        updated = await self._plane.registry.update_status(
            self.tenant, artifact_id, [record.status], new, self._plane.clock()
        )
        self._plane.notify(self.tenant, artifact_id)
        return updated

    async def wait_for_artifact(self, ref: object, timeout: float = 30.0) -> ArtifactRecord:
        """Return the record once it is no longer ``pending``.

        ``ref`` is an ID, an ``artifact_ref`` or an ``artifact://`` name.

        Raises:
            DeadlineExceededError: still pending after ``timeout`` seconds.
            NotFoundError: no such artifact.
        """
        if timeout < 0:
            raise InvalidInputError("timeout", "must be >= 0 seconds")
        record = await self._resolve_ref(ref)
        await self._plane.authz.require(self.subject, "read", [record.resource()])
        deadline = time.monotonic() + timeout
        delay = 0.01
        while record.status is ArtifactStatus.PENDING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceededError(record.artifact_id, timeout, record.status.value)
            # Woken at once by a status change in this process; polling covers other replicas.
            with anyio.move_on_after(min(delay, remaining)):
                await self._plane.changed(self.tenant, record.artifact_id).wait()
            delay = min(delay * 2, 0.5)
            record = await self._plane.registry.get_artifact(self.tenant, record.artifact_id)
        return record

    async def delete_artifact(self, artifact_id: str) -> ArtifactRecord:
        """Delete a record (its payload goes at the next GC if nothing else uses it).

        Raises:
            NotFoundError: no such artifact.
            PolicyDeniedError: you may not delete it.
        """
        record = await self._plane.registry.get_artifact(self.tenant, validate_id(artifact_id))
        await self._plane.authz.require(self.subject, "delete", [record.resource()])
        deleted = await self._plane.registry.delete_artifacts(self.tenant, [artifact_id], self._plane.clock())
        if not deleted:
            raise NotFoundError("artifact", artifact_id)
        self._plane.notify(self.tenant, artifact_id)
        return deleted[0]

    async def delete_by_execution(self, execution_id: str) -> list[str]:
        """Delete everything ``execution_id`` produced, all or nothing; return the IDs.

        Raises:
            PolicyDeniedError: any one of them may not be deleted (none is).
        """
        records = await self._plane.registry.find_by_execution(
            self.tenant, validate_id(execution_id, "execution_id")
        )
        await self._plane.authz.require(self.subject, "delete", [r.resource() for r in records])
        deleted = await self._plane.registry.delete_artifacts(
            self.tenant, [r.artifact_id for r in records], self._plane.clock()
        )
        return [r.artifact_id for r in deleted]

    async def set_retention(
        self,
        artifact_id: str,
        *,
        retention_policy: str | EllipsisType | None = ...,
        ttl: int | EllipsisType | None = ...,
    ) -> ArtifactRecord:
        """Change how long an artifact is kept; return the updated record.

        ``retention_policy`` (an ID-like name) and ``ttl`` (seconds from
        creation, so ``expires_at`` becomes ``created_at + ttl``) are each
        left alone when not given and cleared by ``None``. Policy decides the
        ``retention`` action on the record with ``new_retention_policy`` and
        ``new_ttl`` added; only stewards may, by the shipped roles.

        Raises:
            InvalidInputError: nothing to change, a bad value, or the artifact
                is expired or failed (final); nothing written.
            NotFoundError: no such artifact.
            PolicyDeniedError: you may not change its retention.
            ConflictError: it kept changing under this call; read it and retry.
        """
        validate_id(artifact_id)
        if isinstance(retention_policy, EllipsisType) and isinstance(ttl, EllipsisType):
            raise InvalidInputError("retention", "give retention_policy and/or ttl (None clears one)")
        if retention_policy is not None and not isinstance(retention_policy, EllipsisType):
            validate_id(retention_policy, "retention_policy")
        if not isinstance(ttl, EllipsisType):
            check_ttl(ttl)
        for _ in range(VERSION_RETRIES):
            record = await self._plane.registry.get_artifact(self.tenant, artifact_id)
            policy = retention_policy
            if isinstance(policy, EllipsisType):
                policy = record.retention_policy
            seconds = record.ttl if isinstance(ttl, EllipsisType) else ttl
            await self._plane.authz.require(
                self.subject,
                "retention",
                [{**record.resource(), "new_retention_policy": policy, "new_ttl": seconds}],
            )
            if record.status not in RETAINABLE:
                raise InvalidInputError(
                    "status",
                    f"artifact {artifact_id} is {record.status.value}: only a pending or ready "
                    "artifact's retention can change (expired and failed are final)",
                )
            try:
                return await self._plane.registry.update_retention(
                    self.tenant,
                    artifact_id,
                    retention_policy=policy,
                    ttl=seconds,
                    expires_at=None if seconds is None else record.created_at + timedelta(seconds=seconds),
                    at=self._plane.clock(),
                    expected_updated_at=record.updated_at,
                )
            except ConflictError:
                continue  # changed since read (a status move, another change): decide on it afresh
        raise ConflictError(
            artifact_id, f"changed {VERSION_RETRIES} times while its retention was set; retry"
        )

    # ---------------------------------------------------------------- helpers

    def _grant(self, resources: Sequence[Mapping[str, Any]]) -> AbstractAsyncContextManager[Grant]:
        """Policy for a create; its allow decisions commit with the record when the registry can."""
        defer = self._plane.decisions_commit_with_records
        return self._plane.authz.granted(self.subject, "create", resources, defer=defer)

    async def _insert(
        self, record: ArtifactRecord, edges: Sequence[LineageEdge], grant: Grant | None = None
    ) -> str:
        """Insert, or settle a conflict: the same artifact again is an idempotent success.

        "The same" means same ID, content, type and realm — what a retried
        create (or a content-addressed re-create) produces; it records any new
        lineage edges. Anything else is a conflict. ``grant``'s decisions commit
        with the record (when the insert conflicts, the grant logs them itself).
        """
        await self._reach_siblings(record, edges)
        try:
            if grant is None or grant.committed:
                await self._plane.registry.insert_artifact(record, edges)
            else:
                await self._plane.registry.insert_artifact(record, edges, decisions=grant.decisions)
                grant.committed = True
            return record.artifact_id
        except ConflictError as conflict:
            try:
                existing = await self._plane.registry.get_artifact(self.tenant, record.artifact_id)
            except NotFoundError:
                raise conflict from None  # the (uri, version) was taken, not the ID
        same = (existing.sha256, existing.artifact_type, existing.realm) == (
            record.sha256,
            record.artifact_type,
            record.realm,
        )
        if not same:
            raise ConflictError(
                record.artifact_id, "exists with other content or type; pass another artifact_id"
            )
        if existing.status in {ArtifactStatus.EXPIRED, ArtifactStatus.FAILED}:
            raise ConflictError(
                record.artifact_id,
                f"the same content exists as a {existing.status.value} artifact; "
                "delete it or pass an explicit artifact_id",
            )
        missing = [t for t in record.inherited_tags if t not in existing.inherited_tags]
        if missing and edges:
            # The new edges make it (and what is downstream of it) derived from classified inputs.
            await self._plane.classifier.propagate(self.tenant, [record.artifact_id], missing)
        await self._plane.lineage.add_edges(edges)
        return record.artifact_id

    async def _recheck_sizes(
        self,
        resources: Sequence[Mapping[str, Any]],
        prepared: Sequence[PreparedPayload],
        stored: Sequence[StoredPayload],
    ) -> None:
        """Ask policy again, with the size, where it was unknown (a stream) or turned out other
        than declared (a file that grew while read).

        A denial leaves only the stored payload, unregistered: GC removes it.
        """
        late = [
            {**resource, "size_bytes": s.size_bytes}
            for resource, p, s in zip(resources, prepared, stored, strict=True)
            if p.size != s.size_bytes
        ]
        if late:
            await self._plane.authz.require(self.subject, "create", late)

    async def _reach_siblings(self, record: ArtifactRecord, edges: Sequence[LineageEdge]) -> None:
        """Before ``edges`` add inputs to an execution: its earlier outputs inherit them too."""
        consumed = [e for e in edges if e.kind is EdgeKind.CONSUMED_BY]
        if record.inherited_tags and consumed:
            await self._plane.classifier.reach_outputs_of(
                self.tenant, consumed[0].target_id, record.inherited_tags
            )

    async def _existing_inputs(
        self, inputs: Sequence[str], execution_id: str | None
    ) -> tuple[list[str], list[ArtifactRecord]]:
        """Check the inputs exist in this tenant and may be read (one policy batch).

        Returns the IDs as given and their records (each once).
        """
        ids = [validate_id(i, "inputs") for i in inputs]
        if ids and execution_id is None:
            raise InvalidInputError("inputs", "inputs are consumed by an execution: give execution_id too")
        if not ids:
            return ids, []
        found = await self._plane.registry.get_many(self.tenant, list(dict.fromkeys(ids)))
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError("artifact", ", ".join(missing))
        await self._plane.authz.require(self.subject, "read", [r.resource() for r in found.values()])
        return ids, list(found.values())

    def _edges(
        self, artifact_id: str, execution_id: str | None, inputs: Sequence[str], at: datetime
    ) -> list[LineageEdge]:
        if execution_id is None:
            return []
        edges = [self._edge(EdgeKind.PRODUCED, execution_id, artifact_id, at)]
        return edges + [self._edge(EdgeKind.CONSUMED_BY, i, execution_id, at) for i in inputs]

    async def _next_version(self, uri: str) -> SemVer:
        history = await self._plane.registry.list_versions(self.tenant, uri)
        versions = [SemVer.parse(r.version) for r in history if r.version]
        return max(versions).next_patch() if versions else SemVer(1, 0, 0)

    async def _load(self, record: ArtifactRecord) -> bytes:
        try:
            return await self._plane.payloads.get_bytes(self.tenant, record.sha256)
        except NotFoundError:
            raise NotFoundError("payload", f"{record.artifact_id} (status {record.status.value})") from None

    async def _readable(self, records: Sequence[ArtifactRecord]) -> list[ArtifactRecord]:
        decisions = await self._plane.authz.decide(self.subject, "read", [r.resource() for r in records])
        return [r for r, d in zip(records, decisions, strict=True) if d.allow]

    async def _resolve_ref(self, ref: object) -> ArtifactRecord:
        if is_artifact_ref(ref):
            assert isinstance(ref, dict)
            return await self._plane.registry.get_artifact(self.tenant, ref[REF_KEY])
        if isinstance(ref, str) and ref.startswith(URI_SCHEME):
            name = str(ArtifactUri.parse(ref, self_realm=self.subject.realm))
            history = await self._plane.registry.list_versions(self.tenant, name)
            if not history:
                raise NotFoundError("artifact", name)
            return history[-1]
        return await self._plane.registry.get_artifact(self.tenant, validate_id(ref))
