"""The outbox relay: deliver queued edge operations to the graph store, in order.

Built on ports only (:class:`~artifact_plane.ports.outbox.Outbox` and
:class:`~artifact_plane.ports.lineage.LineageStore`); ``serve`` runs it as a
background task and ``artifact-plane lineage relay`` as its own process.

Why a crash never loses or doubles an edge:

* an entry is marked delivered only after the graph store acknowledged it,
  so a crash before the mark means the entry is delivered again;
* entries are delivered in *units*: a run of consecutive entries of one kind
  (adds, or closes), marked delivered before the next unit starts. Within a
  unit, delivering twice is the same as once: an add of an edge whose key is
  open is a no-op (keys are deterministic), and a close finds nothing left
  to close. Only the unit in flight at a crash can be delivered again, and
  it is delivered again before anything after it, so no later add is ever
  closed by a replayed close;
* one relay at a time holds the lease (renewed before every unit), so
  replicas never interleave; a single unit that outlasts ``lease_seconds``
  is the one case where a second relay could start beside the first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby

import anyio

from artifact_plane.models import LineageEdge, utcnow
from artifact_plane.ports.lineage import LineageStore
from artifact_plane.ports.outbox import Outbox, OutboxEntry, OutboxOp

__all__ = ["OutboxRelay", "delivery_units"]

log = logging.getLogger(__name__)


def delivery_units(entries: Sequence[OutboxEntry]) -> list[list[OutboxEntry]]:
    """Split entries (in order) into maximal runs of one operation kind."""
    return [list(run) for _, run in groupby(entries, key=lambda entry: entry.op)]


class OutboxRelay:
    """Delivers an outbox to a lineage store.

    Args:
        outbox: where the operations wait (the registry database's outbox).
        lineage: the graph store they go to.
        batch_size: entries read per pass.
        lease_seconds: how long the delivery lease lasts without renewal; a
            relay that died is taken over after this long.
        idle_seconds: how long to wait for work when the outbox is empty
            (:meth:`notify` wakes the relay at once).
        max_backoff: the longest wait between retries after a failure.
        holder: this relay's lease holder name (host, pid and a random part by default).
        clock: now (tests pass their own).
        keep_delivered: delivered entries older than this are purged.
    """

    def __init__(
        self,
        outbox: Outbox,
        lineage: LineageStore,
        *,
        batch_size: int = 500,
        lease_seconds: float = 30.0,
        idle_seconds: float = 1.0,
        max_backoff: float = 30.0,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        keep_delivered: timedelta = timedelta(days=7),
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.outbox = outbox
        self.lineage = lineage
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self.max_backoff = max_backoff
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.keep_delivered = keep_delivered
        self.delivered = 0  # entries delivered by this relay since it started
        self.failures = 0  # consecutive failed passes
        self._wake = asyncio.Event()
        self._last_purge: datetime | None = None

    def notify(self) -> None:
        """Wake the relay: something was written to the outbox (call on the relay's loop)."""
        self._wake.set()

    async def deliver_once(self) -> int:
        """One pass: take the lease, deliver up to ``batch_size`` entries in order.

        Returns how many entries were delivered (0 when another relay holds the lease).

        Raises:
            Exception: whatever the graph store or the outbox raised; the
                failed unit stays pending (its attempt and error are recorded).
        """
        if not await self.outbox.acquire_lease(self.holder, self.lease_seconds):
            return 0
        entries = await self.outbox.pending(self.batch_size)
        done = 0
        for number, unit in enumerate(delivery_units(entries)):
            # Renew before each further unit: a slow graph must not let the lease lapse
            # mid-pass and a second relay start delivering beside this one.
            if number and not await self.outbox.acquire_lease(self.holder, self.lease_seconds):
                return done
            ids = [entry.entry_id for entry in unit]
            try:
                await self._apply(unit)
            except Exception as exc:
                await self._record_failure(ids, exc)
                raise
            await self.outbox.mark_delivered(ids, self.clock())
            done += len(unit)
            self.delivered += len(unit)
        return done

    async def drain(self) -> int:
        """Deliver until the outbox is empty (or another relay holds the lease); return how many."""
        total = 0
        while True:
            done = await self.deliver_once()
            total += done
            if done < self.batch_size:
                return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set (or the task is cancelled), retrying with backoff."""
        try:
            while stop is None or not stop.is_set():
                self._wake.clear()
                try:
                    done = await self.deliver_once()
                    self.failures = 0
                    await self._maybe_purge()
                except Exception as exc:
                    self.failures += 1
                    wait = min(self.max_backoff, 0.5 * 2 ** min(self.failures - 1, 16))
                    log.warning("lineage relay: delivery failed (%s); retrying in %.1fs", exc, wait)
                    await self._pause(wait, stop, wakeable=False)
                    continue
                if done < self.batch_size:
                    await self._pause(self.idle_seconds, stop, wakeable=True)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.outbox.release_lease(self.holder)
                except Exception as exc:  # the lease then expires on its own
                    log.warning("lineage relay: could not release the lease: %s", exc)

    async def _pause(self, seconds: float, stop: asyncio.Event | None, *, wakeable: bool) -> None:
        waiters = [self._wake.wait()] if wakeable else []
        if stop is not None:
            waiters.append(stop.wait())
        if not waiters:
            await asyncio.sleep(seconds)
            return
        tasks = [asyncio.ensure_future(waiter) for waiter in waiters]
        try:
            await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()

    async def _apply(self, unit: list[OutboxEntry]) -> None:
        if unit[0].op is OutboxOp.ADD:
            edges: list[LineageEdge] = [entry.edge for entry in unit if entry.edge is not None]
            await self.lineage.add_edges(edges)
            return
        for entry in unit:
            if entry.at is not None and entry.node_ids:
                await self.lineage.close_edges(entry.tenant_id, entry.node_ids, entry.at)

    async def _record_failure(self, ids: list[int], exc: Exception) -> None:
        try:
            await self.outbox.record_failure(ids, f"{type(exc).__name__}: {exc}")
        except Exception as also:  # the delivery error is the one to report
            log.warning("lineage relay: could not record a failed delivery: %s", also)

    async def _maybe_purge(self) -> None:
        now = self.clock()
        if self._last_purge is not None and now - self._last_purge < timedelta(minutes=10):
            return
        self._last_purge = now
        purged = await self.outbox.purge_delivered(now - self.keep_delivered)
        if purged:
            log.info("lineage relay: purged %d delivered outbox entries", purged)
