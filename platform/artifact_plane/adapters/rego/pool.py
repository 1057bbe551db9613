"""Large batches decided in worker processes, one regopy per core.

regopy holds the GIL while it evaluates, so threads do not add cores: a
process pool does. Each worker compiles the policy revision it is handed
(the same files and data, so the same revision digest) the first time it
sees it and keeps it for the next batch. The pool is the standard library's
(``concurrent.futures``) with the ``spawn`` start method: forking a process
that runs threads and a C library is unsafe.

A worker that dies (regopy can crash the process on some inputs) breaks the
pool: the batch it held fails closed, and the next batch gets a new pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact_plane.adapters.rego.evaluation import BATCH_SIZE, Outcome, decide_documents

__all__ = ["PolicySource", "WorkerPool"]

logger = logging.getLogger(__name__)

# What one worker keeps: the last revisions it compiled (a reload mid-audit needs two).
_KEEP = 2
_compiled: dict[str, Any] = {}


@dataclass(frozen=True)
class PolicySource:
    """Everything a worker needs to compile one revision the way the engine did."""

    revision: str
    policy_dir: str
    files: tuple[tuple[str, str], ...]
    signature: tuple[tuple[str, int, int, int], ...]
    data_json: str
    entrypoint: str
    batch_entrypoint: str | None


def _decide_in_worker(source: PolicySource, documents: list[Mapping[str, Any]]) -> tuple[list[Outcome], int]:
    """Runs in a worker process: compile ``source`` once, then decide ``documents``."""
    # Imported here: the engine module imports this one.
    from artifact_plane.adapters.rego.engine import _compile, _Snapshot

    state = _compiled.get(source.revision)
    if state is None:
        state = _compile(
            Path(source.policy_dir),
            _Snapshot(source.files, source.signature),
            source.data_json,
            source.entrypoint,
            source.batch_entrypoint,
        )
        while len(_compiled) >= _KEEP:
            _compiled.pop(next(iter(_compiled)))
        _compiled[source.revision] = state
    return decide_documents(
        state.interpreter, state.bundle, state.lock, source.entrypoint, state.batch_entrypoint, documents
    )


class WorkerPool:
    """``workers`` processes deciding slices of a batch in parallel, answers in order."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            return self._executor

    def decide(
        self, source: PolicySource, documents: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Outcome], int]:
        """An outcome per document, in order, and the queries it took (a dead worker: its slice denied)."""
        # Slices of whole batch queries, spread evenly so every worker gets a share.
        share = -(-len(documents) // (self.workers * 2))  # two slices per worker, rounded up
        per_slice = max(BATCH_SIZE, share - share % BATCH_SIZE)
        slices = [list(documents[i : i + per_slice]) for i in range(0, len(documents), per_slice)]
        pool = self._pool()
        futures = [pool.submit(_decide_in_worker, source, part) for part in slices]
        outcomes: list[Outcome] = []
        queries = 0
        broken = False
        for part, future in zip(slices, futures, strict=True):
            try:
                answered, asked = future.result()
            except BrokenProcessPool as exc:
                broken = True
                outcomes.extend(((False, ()), f"policy worker process died: {exc}") for _ in part)
                continue
            except Exception as exc:  # a worker that cannot compile or answer: fail closed
                outcomes.extend(
                    ((False, ()), f"policy worker failed: {type(exc).__name__}: {exc}") for _ in part
                )
                continue
            outcomes.extend(answered)
            queries += asked
        if broken:
            logger.error("a policy worker process died; its requests were denied; starting a new pool")
            self.close(wait=False)
        return outcomes, queries

    def close(self, *, wait: bool = True) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)
