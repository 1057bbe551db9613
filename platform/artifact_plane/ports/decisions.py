"""The decision log port: every policy decision, queryable, hash-chained per tenant.

Entries are appended *unsealed* (in the writer's own transaction, so writers
never queue on a chain lock). A sealer then gives each tenant's unsealed
entries, in turn, a chain position ``seq`` (1, 2, …), the hash of the entry
before (``prev_hash``; :data:`GENESIS` for the first) and its own hash::

    entry_hash = sha256(prev_hash || canonical(seq, entry fields))

Editing a sealed entry breaks its hash, deleting one leaves a gap in ``seq``,
and removing the newest entries is caught against a head (``seq:hash``) an
auditor recorded earlier.

Two encodings are hashed: :data:`CHAIN_FORMAT` (``ap-decision-v1``) for
entries without an input document (logged before the log kept inputs; their
chains still verify), :data:`CHAIN_FORMAT_INPUT` (``ap-decision-v2``) for
entries with one: the same fields plus the masked input as canonical JSON.
Removing an entry's input, or adding one, changes its format and so its hash.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from artifact_plane.models import DecisionFilter, DecisionRecord

__all__ = [
    "CHAIN_FORMAT",
    "CHAIN_FORMAT_INPUT",
    "GENESIS",
    "ChainBreak",
    "ChainHead",
    "ChainReport",
    "ChainWalk",
    "ChainedDecisionLog",
    "DecisionLog",
    "SealedEntry",
    "chain_hash",
    "parse_head",
]

GENESIS = "0" * 64
# The schema of the hashed encoding: bump it (and verify both) if the fields ever change.
CHAIN_FORMAT = "ap-decision-v1"
# Entries that keep their (masked) input document.
CHAIN_FORMAT_INPUT = "ap-decision-v2"
Progress = Callable[[int], None]
BreakKind = Literal["edited", "missing", "relinked", "truncated", "rewritten"]


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, seq: int, record: DecisionRecord) -> str:
    """The hash of ``record`` at chain position ``seq`` after an entry hashed ``prev_hash``.

    The encoding is canonical JSON of every stored field (keys sorted, UTC
    time to the microsecond, the float by its shortest round-trip repr), so
    any backend that gives back what it stored computes the same hash. An
    entry with an input document is hashed as :data:`CHAIN_FORMAT_INPUT`,
    the input appended (numbers as JSON numbers: the log stores integral
    floats as integers, see ``masking``, so every store gives them back alike).

    Raises:
        ValueError: the input holds NaN or Infinity (the log never stores them).
    """
    fields: list[Any] = [
        CHAIN_FORMAT if record.input is None else CHAIN_FORMAT_INPUT,
        seq,
        record.tenant_id,
        record.decision_id,
        _instant(record.created_at),
        record.subject_id,
        record.action,
        record.resource_ref,
        record.allow,
        list(record.reasons),
        record.revision,
        record.engine,
        repr(float(record.latency_ms)),
    ]
    if record.input is not None:
        fields.append(record.input)
    # Sorting keys leaves v1 as it was (no objects in it); v2's input is an object.
    encoded = json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True)
    # surrogatepass: the same bytes as "utf-8" for all valid text; a lone surrogate still hashes.
    return hashlib.sha256(prev_hash.encode("ascii") + encoded.encode("utf-8", "surrogatepass")).hexdigest()


def _rehash(prev_hash: str, seq: int, record: DecisionRecord) -> str | None:
    # A stored input edited to hold NaN (SQLite's JSON text allows it) is an edit, not a crash.
    try:
        return chain_hash(prev_hash, seq, record)
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class ChainHead:
    """The newest sealed entry of a tenant: what an auditor writes down."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_head(text: str) -> ChainHead:
    """``SEQ:HASH`` (as printed by ``audit verify``) as a :class:`ChainHead`.

    Raises:
        ValueError: not ``<integer >= 0>:<64 hex digits>``.
    """
    seq, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{text!r} is not SEQ:HASH (a number, a colon, 64 hex digits)")
    return ChainHead(int(seq), digest)


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain does not hold.

    ``kind``: ``edited`` (an entry's content no longer matches its hash),
    ``missing`` (a ``seq`` is absent: an entry was deleted or unsealed),
    ``relinked`` (an entry's ``prev_hash`` is not its predecessor's hash: the
    entry before it was replaced), ``truncated`` (the chain ends before the
    expected head), ``rewritten`` (the entry at the expected head's ``seq``
    has another hash).
    """

    kind: BreakKind
    seq: int
    decision_id: str | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """What :meth:`ChainedDecisionLog.verify` found for one tenant."""

    tenant: str
    checked: int
    unsealed: int
    head: ChainHead | None
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class SealedEntry:
    """A sealed entry as stored; ``record`` is None when the stored fields no longer parse."""

    seq: int
    prev_hash: str
    entry_hash: str
    record: DecisionRecord | None
    decision_id: str | None = None


class ChainWalk:
    """Checks sealed entries fed in ``seq`` order; the same rules for every backend.

    Each entry must come at the next ``seq``, name its predecessor's stored
    hash as ``prev_hash``, and hash to its stored ``entry_hash``. The walk
    stops at the first break.
    """

    def __init__(self, tenant: str, expect_head: ChainHead | None = None) -> None:
        self.tenant = tenant
        self.expect_head = expect_head
        self.checked = 0
        self.broken: ChainBreak | None = None
        self._next_seq = 1
        self._prev = GENESIS
        self._last: ChainHead | None = None

    @property
    def done(self) -> bool:
        return self.broken is not None

    def feed(self, entry: SealedEntry) -> bool:
        """Check one entry; False once the chain is broken (feed no more)."""
        if self.broken is not None:
            return False
        decision_id = entry.record.decision_id if entry.record is not None else entry.decision_id
        if entry.seq != self._next_seq:
            first, last = self._next_seq, entry.seq - 1
            span = f"seq {first}" if first == last else f"seq {first}..{last}"
            self.broken = ChainBreak(
                "missing",
                self._next_seq,
                None,
                f"{span} missing before entry {entry.seq} (decision {decision_id}): "
                "deleted, or stripped of its seal",
            )
            return False
        if entry.prev_hash != self._prev:
            self.broken = ChainBreak(
                "relinked",
                entry.seq,
                decision_id,
                f"entry {entry.seq} (decision {decision_id}) follows hash {entry.prev_hash[:16]}… but "
                f"entry {entry.seq - 1} hashes to {self._prev[:16]}…: "
                f"entry {entry.seq - 1} was replaced or re-hashed",
            )
            return False
        if entry.record is None or _rehash(self._prev, entry.seq, entry.record) != entry.entry_hash:
            self.broken = ChainBreak(
                "edited",
                entry.seq,
                decision_id,
                f"entry {entry.seq} (decision {decision_id}) does not match its hash: it was edited",
            )
            return False
        expected = self.expect_head
        if expected is not None and entry.seq == expected.seq and entry.entry_hash != expected.hash:
            self.broken = ChainBreak(
                "rewritten",
                entry.seq,
                decision_id,
                f"entry {entry.seq} (decision {decision_id}) hashes to {entry.entry_hash[:16]}…, not the "
                f"recorded head {expected.hash[:16]}…: the chain was rewritten from there or earlier",
            )
            return False
        self.checked += 1
        self._prev = entry.entry_hash
        self._next_seq += 1
        self._last = ChainHead(entry.seq, entry.entry_hash)
        return True

    def report(self, unsealed: int) -> ChainReport:
        """The result, once every sealed entry was fed (or the walk broke)."""
        expected = self.expect_head
        reached = self._last.seq if self._last is not None else 0
        if self.broken is None and expected is not None and reached < expected.seq:
            self.broken = ChainBreak(
                "truncated",
                reached + 1,
                None,
                f"the chain ends at seq {reached} but the recorded head is seq {expected.seq}: "
                f"{expected.seq - reached} newest entries were removed",
            )
        return ChainReport(self.tenant, self.checked, unsealed, self._last, self.broken)


class DecisionLog(abc.ABC):
    """Append-only log of policy decisions (in the registry database, or memory)."""

    @abc.abstractmethod
    async def append(self, records: Sequence[DecisionRecord]) -> None:
        """Append decisions, durable on return; a repeated ``decision_id`` is kept once.

        Raises:
            BackendUnavailableError: the log cannot be written.
        """

    @abc.abstractmethod
    async def query(
        self,
        tenant: str,
        query: DecisionFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[DecisionRecord]:
        """Up to ``limit`` decisions of ``tenant``, oldest first by ``(created_at, decision_id)``."""

    async def close(self) -> None:
        """Release resources."""


class ChainedDecisionLog(DecisionLog):
    """A decision log that stores the entries themselves and hash-chains them per tenant.

    A separate port from :class:`DecisionLog` so a log that only forwards
    appends (a metrics wrapper) need not implement the chain.
    """

    @abc.abstractmethod
    async def tenants(self, *, unsealed_only: bool = False) -> list[str]:
        """Every tenant with at least one entry (``unsealed_only``: one not sealed yet), sorted.

        Raises:
            BackendUnavailableError: the log cannot be read.
        """

    @abc.abstractmethod
    async def seal(self, tenant: str, *, limit: int = 1000) -> int:
        """Chain up to ``limit`` of ``tenant``'s unsealed entries; return how many were sealed.

        Entries are taken oldest first by ``(created_at, decision_id)`` and
        sealed under a per-tenant lock, so concurrent sealers never fork the
        chain; appends are never blocked by it.

        Raises:
            InvalidInputError: ``limit`` is below 1.
            BackendUnavailableError: the log cannot be written.
        """

    @abc.abstractmethod
    async def unsealed_count(self, tenant: str) -> int:
        """How many of ``tenant``'s entries wait for the sealer.

        Raises:
            BackendUnavailableError: the log cannot be read.
        """

    @abc.abstractmethod
    async def head(self, tenant: str) -> ChainHead | None:
        """The newest sealed entry of ``tenant``, or None before the first seal.

        Raises:
            BackendUnavailableError: the log cannot be read.
        """

    @abc.abstractmethod
    async def verify(
        self,
        tenant: str,
        *,
        expect_head: ChainHead | None = None,
        progress: Progress | None = None,
    ) -> ChainReport:
        """Walk ``tenant``'s sealed entries in ``seq`` order and recompute every link; seal nothing.

        ``expect_head`` is a head recorded earlier: the chain must still reach
        it with the same hash (catches removed or rewritten newest entries).
        ``progress`` is called with the number of entries checked so far.

        Raises:
            BackendUnavailableError: the log cannot be read.
        """

    async def seal_all(self, *, limit: int = 1000) -> int:
        """:meth:`seal` every tenant until nothing is left unsealed; return how many were sealed."""
        total = 0
        for tenant in await self.tenants(unsealed_only=True):
            while True:
                sealed = await self.seal(tenant, limit=limit)
                total += sealed
                if sealed < limit:
                    break
        return total
