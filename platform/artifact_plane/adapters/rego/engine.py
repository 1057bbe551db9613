"""RegoPolicyEngine: the policies in ``policies/`` evaluated in-process by regopy.

The policy files (``*_test.rego`` excluded) and the data document are
compiled once into a bundle per *revision*: the SHA-256 of the file names,
their contents and the canonical JSON of the data. Files are re-checked at
most every ``reload_interval`` seconds (a stat of each file); a change
compiles the new revision. Evaluation runs in a worker thread, one
interpreter per revision behind a lock (regopy blocks and is not
thread-safe).

Decisions are cached per revision by what the policies declare they read
(``decision_inputs.json``, see :mod:`.inputs`), and only those resource
fields are sent. What is not cached goes 50 requests to a query of the
policies' batch entrypoint (``decisions`` over ``input.requests``) when no
rule reads ``input`` directly (:mod:`.evaluation`), and past 200 requests
to worker processes when ``workers`` > 1 (:mod:`.pool`).

Every evaluation problem fails closed: the decision is a deny whose reason
starts with ``policy engine error:``, and the problem is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from regopy import Interpreter, LogLevel, RegoError

from artifact_plane.adapters.rego.cache import (
    Asked,
    CacheKey,
    DecisionCache,
    Denial,
    KeyMemo,
    allow_key,
    denial_of,
    exact_key,
)
from artifact_plane.adapters.rego.evaluation import Decision, decide_documents, project, take
from artifact_plane.adapters.rego.inputs import (
    DECISION_INPUTS,
    DecisionInputs,
    decision_inputs,
    request_key,
)
from artifact_plane.adapters.rego.pool import PolicySource, WorkerPool
from artifact_plane.errors import BackendUnavailableError, ConfigurationError
from artifact_plane.models import PolicyDecision, PolicyInput
from artifact_plane.ports.policy import PolicyEngine

__all__ = ["DEFAULT_BATCH_ENTRYPOINT", "DEFAULT_ENTRYPOINT", "RegoPolicyEngine", "policy_revision"]

logger = logging.getLogger(__name__)

DEFAULT_ENTRYPOINT = "artifact_plane/authz/decision"
# Decides input.requests in one query; used when the policies declare it.
DEFAULT_BATCH_ENTRYPOINT = "artifact_plane/authz/decisions"
ENGINE_ERROR = "policy engine error: "
TEST_SUFFIX = "_test.rego"
CACHE_SIZE = 8192
POOL_MIN = 200  # uncached requests in one call before worker processes take them (fewer: not worth the hop)

# Strings and comments are blanked before looking for constructs we refuse.
_STRINGS_AND_COMMENTS = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|#[^\n]*')
# regopy 1.5 aborts the whole process while compiling `with input as ...`.
_WITH_INPUT = re.compile(r"\bwith\s+input\s+as\b")
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_ERROR_HEAD = re.compile(r"\(error (\d+):")
_ERROR_MSG = re.compile(r"\(errormsg (\d+):")


@dataclass(frozen=True)
class _Snapshot:
    """The policy files as read: names, texts and a cheap change signature."""

    files: tuple[tuple[str, str], ...]
    signature: tuple[tuple[str, int, int, int], ...]


@dataclass
class _Compiled:
    """One revision ready to evaluate (``error`` set when it does not compile)."""

    revision: str
    signature: tuple[tuple[str, int, int, int], ...]
    bundle: Any = None
    interpreter: Any = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The resource fields the policies read; None: no declaration, no caching.
    inputs: DecisionInputs | None = None
    # The batch entrypoint, when the policies declare one (else one query per request).
    batch_entrypoint: str | None = None
    # What it was compiled from, for worker processes to compile the same.
    source: PolicySource | None = None


def policy_revision(files: Sequence[tuple[str, str]], data_json: str) -> str:
    """SHA-256 over sorted ``(name, text)`` policy files and the canonical data JSON."""
    digest = hashlib.sha256()
    for name, text in sorted(files):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    digest.update(b"data\0" + data_json.encode())
    return digest.hexdigest()


def _canonical_json(data: Mapping[str, Any]) -> str:
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("policy data", f"must be JSON: {exc}") from exc


def _policy_paths(policy_dir: Path) -> list[Path]:
    paths = sorted(p for p in policy_dir.rglob("*.rego") if p.is_file() and not p.name.endswith(TEST_SUFFIX))
    declared = policy_dir / DECISION_INPUTS
    # Part of the snapshot, so editing it is a new revision (and a cleared cache).
    return [*paths, declared] if declared.is_file() else paths


def _signature(policy_dir: Path, paths: Sequence[Path]) -> tuple[tuple[str, int, int, int], ...]:
    entries = []
    for path in paths:
        stat = path.stat()
        entries.append((path.relative_to(policy_dir).as_posix(), stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(entries)


def _read_snapshot(policy_dir: Path) -> _Snapshot:
    """Stat, then read, every policy file (stat first, so a write in between shows as a change)."""
    if not policy_dir.is_dir():
        raise ConfigurationError("AP_POLICY_DIR", f"{policy_dir} is not a directory")
    try:
        paths = _policy_paths(policy_dir)
        signature = _signature(policy_dir, paths)
        files = tuple(
            (path.relative_to(policy_dir).as_posix(), path.read_text(encoding="utf-8")) for path in paths
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("AP_POLICY_DIR", f"cannot read policies in {policy_dir}: {exc}") from exc
    if not files:
        raise ConfigurationError("AP_POLICY_DIR", f"{policy_dir} holds no .rego policy files")
    return _Snapshot(files, signature)


def _describe_rego_error(message: str, sources: Mapping[str, str]) -> str:
    """``file:line:col: message`` for each error in regopy's S-expression error text."""
    found: list[str] = []
    for head in _ERROR_HEAD.finditer(message):
        try:
            name, end = take(message, head.start(1))
            offset = int(message[end + 1 : message.index("|", end + 1)])
            msg_at = _ERROR_MSG.search(message, end)
            text = take(message, msg_at.start(1))[0] if msg_at else "error"
        except ValueError:
            continue
        source = sources.get(name, "")
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        found.append(f"{name}:{line}:{column}: {text}")
    return "; ".join(dict.fromkeys(found)) or message.strip().splitlines()[0][:200]


def _refuse_known_crashes(files: Sequence[tuple[str, str]], policy_dir: Path) -> None:
    for name, text in files:
        code = _STRINGS_AND_COMMENTS.sub("", text)
        if _WITH_INPUT.search(code):
            raise ConfigurationError(
                "AP_POLICY_DIR",
                f"{policy_dir / name}: `with input as ...` crashes regopy; "
                "override fields instead (`with input.subject as ...`) or pass the request as an argument",
            )


def _batch_safe(files: Sequence[tuple[str, str]], entrypoint: str, batch_entrypoint: str) -> str | None:
    """Why the batch entrypoint cannot stand in for the single one, or None when it can.

    In a batch query ``input`` is ``{"requests": [...]}``: a rule that reads
    ``input`` itself, rather than the request handed to it, would answer
    differently. So only the two entrypoint rules may name ``input`` (on the
    line that defines them, in their package); and the policies must define
    the batch rule at all. Anything else: one query per request.
    """
    package, _, rule = batch_entrypoint.rpartition("/")
    single = entrypoint.rpartition("/")[2]
    defines = re.compile(rf"^{re.escape(rule)}\s*(?::=|=|if\b|\{{)", re.MULTILINE)
    entry_line = re.compile(rf"^(?:{re.escape(rule)}|{re.escape(single)})\s*:=")
    found = False
    for name, text in files:
        if not name.endswith(".rego"):
            continue
        code = _STRINGS_AND_COMMENTS.sub("", text)
        home = package.replace("/", ".") in _PACKAGE.findall(text)  # the entrypoints' own package
        found = found or (home and bool(defines.search(code)))
        for number, line in enumerate(code.splitlines(), start=1):
            if re.search(r"\binput\b", line) and not (home and entry_line.match(line)):
                return f"{name}:{number} reads input directly (a batch query's input is every request)"
    return None if found else f"no policy defines {batch_entrypoint}"


def _compile(
    policy_dir: Path, snapshot: _Snapshot, data_json: str, entrypoint: str, batch_entrypoint: str | None
) -> _Compiled:
    """Build the bundle for one revision (with the batch entrypoint when the policies define it).

    Raises:
        ConfigurationError: a file does not parse or compile (named in the
            message), or no module declares the entrypoint's package.
    """
    revision = policy_revision(snapshot.files, data_json)
    _refuse_known_crashes(snapshot.files, policy_dir)
    package = entrypoint.rsplit("/", 1)[0].replace("/", ".")
    if not any(package in _PACKAGE.findall(text) for _, text in snapshot.files):
        raise ConfigurationError(
            "AP_POLICY_DIR", f"no policy in {policy_dir} declares package {package} (entrypoint {entrypoint})"
        )
    builder = Interpreter()
    builder.log_level = LogLevel.NONE  # errors come back to us; do not print them to stderr
    sources = dict(snapshot.files)
    inputs = decision_inputs(policy_dir, snapshot.files, json.loads(data_json))
    for name, text in snapshot.files:
        if not name.endswith(".rego"):
            continue
        try:
            builder.add_module(name, text)
        except RegoError as exc:
            detail = _describe_rego_error(str(exc), sources)
            raise ConfigurationError(
                "AP_POLICY_DIR", f"{policy_dir / name} does not parse: {detail}"
            ) from exc
    try:
        builder.add_data_json(data_json)
        unsafe = _batch_safe(snapshot.files, entrypoint, batch_entrypoint) if batch_entrypoint else "off"
        batch = batch_entrypoint if unsafe is None else None
        if batch_entrypoint and unsafe is not None:
            logger.info("deciding one request per query, not in batches: %s", unsafe)
        bundle = builder.build(None, [entrypoint, batch] if batch else [entrypoint])
    except RegoError as exc:
        detail = _describe_rego_error(str(exc), sources)
        raise ConfigurationError(
            "AP_POLICY_DIR", f"policies in {policy_dir} do not compile: {detail}"
        ) from exc
    if not bundle.ok():
        raise ConfigurationError("AP_POLICY_DIR", f"policies in {policy_dir} do not compile")
    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE
    return _Compiled(
        revision,
        snapshot.signature,
        bundle=bundle,
        interpreter=interpreter,
        inputs=inputs,
        batch_entrypoint=batch,
        source=PolicySource(
            revision,
            str(policy_dir),
            snapshot.files,
            snapshot.signature,
            data_json,
            entrypoint,
            batch_entrypoint,
        ),
    )


class RegoPolicyEngine(PolicyEngine):
    """Rego policies evaluated in-process by regopy.

    Args:
        policy_dir: the directory of ``*.rego`` files (``*_test.rego`` ignored).
        data: the data document (``{"realms": {...}}``), handed to policies as ``data``.
        entrypoint: the rule answering ``{allow, reasons}``, as ``path/to/rule``.
        batch_entrypoint: the rule answering a list of them for
            ``input.requests``, in order; used when the policies define it
            (None: one query per request).
        reload_interval: seconds between checks of the files for changes.
        workers: processes that decide large batches in parallel (regopy holds
            the GIL, so only processes add cores); 1: none, all in this process.

    Raises:
        ConfigurationError: no policy files, a file that does not parse
            (named in the message), or data that is not JSON.
    """

    name = "rego"

    def __init__(
        self,
        policy_dir: Path,
        data: Mapping[str, Any] | None = None,
        *,
        entrypoint: str = DEFAULT_ENTRYPOINT,
        batch_entrypoint: str | None = DEFAULT_BATCH_ENTRYPOINT,
        reload_interval: float = 1.0,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ConfigurationError("AP_POLICY_WORKERS", f"{workers} must be at least 1")
        self._policy_dir = policy_dir
        self._data_json = _canonical_json(data or {})
        self._entrypoint = entrypoint
        self._batch_entrypoint = batch_entrypoint
        self._reload_interval = reload_interval
        self._reload_lock = threading.Lock()
        self._state = self._compile(_read_snapshot(policy_dir))
        self._checked_at = time.monotonic()
        # Decisions by (revision, cache key): requests that agree on everything the
        # policies read get the same answer, so one evaluation serves them all.
        self._cache = DecisionCache(CACHE_SIZE)
        self.evaluations = 0  # how many documents regopy actually evaluated
        self.queries = 0  # how many regopy queries evaluated them (a batch query decides many)
        self._pool = WorkerPool(workers) if workers > 1 else None
        self.in_workers = 0  # of the evaluations, how many worker processes made

    def _compile(self, snapshot: _Snapshot) -> _Compiled:
        return _compile(self._policy_dir, snapshot, self._data_json, self._entrypoint, self._batch_entrypoint)

    @property
    def revision(self) -> str:
        return self._state.revision

    @property
    def resource_fields(self) -> frozenset[str] | None:
        """What ``decision_inputs.json`` declares (resource and threshold fields); None without it."""
        state = self._state
        if state.inputs is None or state.error is not None:
            return None
        return state.inputs.fields | {name for name, _ in state.inputs.thresholds}

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        if not requests:
            return []
        # The subject, action and context part of the key, once per distinct combination:
        # a page of an audit or a listing asks for the same few subjects many times.
        # Subjects by id: the call's requests hold them, so ids are stable (and cheaper than hashing).
        prefixes: dict[tuple[Any, ...], str] = {}
        resource_keys: KeyMemo = {}
        documents: list[Asked] = []
        for request in requests:
            context = request.context
            shown = json.dumps(context, sort_keys=True, default=str) if context else ""
            memo = (id(request.subject), request.action, shown)
            prefix = prefixes.get(memo)
            if prefix is None:
                subject = request.subject.model_dump(mode="json")
                prefix = prefixes[memo] = request_key(subject, request.action, context)
            documents.append(Asked(request, prefix, resource_keys))
        # A worker-thread hop costs more than a cache lookup: answer from the
        # cache on the loop when every request is cached and no reload check is due.
        cached = self._cached_batch(documents)
        if cached is not None:
            return cached
        return await anyio.to_thread.run_sync(self._decide_batch, documents)

    def _cached_batch(self, documents: Sequence[Asked]) -> list[PolicyDecision] | None:
        """Every decision from the cache, or None when one is missing or the files are due a check."""
        state = self._state
        if time.monotonic() - self._checked_at >= self._reload_interval:
            return None  # the check reads the policy files: the worker thread does it
        if state.inputs is None or state.error is not None:
            return None
        started = time.perf_counter()
        answers: list[Decision] = []
        for document in documents:
            found = self._lookup_lazily(state, document)
            if found is None:
                return None
            answers.append(found)
        return self._as_decisions(state, answers, started)

    def _as_decisions(
        self, state: _Compiled, answers: Sequence[Decision], started: float
    ) -> list[PolicyDecision]:
        """One decision per answer; the call's time is shared out, so equal answers share one object."""
        each_ms = (time.perf_counter() - started) * 1000 / len(answers)
        made: dict[Decision, PolicyDecision] = {}
        decisions: list[PolicyDecision] = []
        for answer in answers:
            decision = made.get(answer)
            if decision is None:
                decision = made[answer] = PolicyDecision(
                    allow=answer[0],
                    reasons=answer[1],
                    revision=state.revision,
                    engine=self.name,
                    latency_ms=each_ms,
                )
            decisions.append(decision)
        return decisions

    async def ping(self) -> None:
        state = await anyio.to_thread.run_sync(self._current)
        if state.error is not None:
            raise BackendUnavailableError("rego policy engine", state.error)

    async def close(self) -> None:
        if self._pool is not None:
            await anyio.to_thread.run_sync(self._pool.close)
        # Later calls deny rather than touch a released interpreter.
        self._state = _Compiled(self._state.revision, self._state.signature, error="policy engine closed")
        self._reload_interval = float("inf")

    def _allow_key(self, state: _Compiled, asked: Asked) -> CacheKey | None:
        if state.inputs is None or state.error is not None:
            return None
        return allow_key(state.revision, state.inputs, asked)

    def _exact_key(self, state: _Compiled, asked: Asked) -> CacheKey | None:
        if state.inputs is None or state.error is not None:
            return None
        return exact_key(state.revision, state.inputs, asked)

    def _transfer(
        self, state: _Compiled, allow: CacheKey | None, asked: Asked, source: Denial | None = None
    ) -> Decision | None:
        if allow is None or state.inputs is None:
            return None
        return self._cache.transfer(state.inputs, allow, asked, source)

    def _lookup_lazily(self, state: _Compiled, asked: Asked) -> Decision | None:
        """The cached answer, building the exact key only when the allow key misses."""
        allow = self._allow_key(state, asked)
        found = self._cache.lookup(None, allow) if allow is not None else None
        if found is None:
            found = self._cache.lookup(self._exact_key(state, asked), None)
        return found if found is not None else self._transfer(state, allow, asked)

    def _keys(self, state: _Compiled, asked: Asked) -> tuple[CacheKey | None, CacheKey | None]:
        """(exact key, allow key) of a request; None where the policies declare nothing to key by."""
        return self._exact_key(state, asked), self._allow_key(state, asked)

    def _decide_batch(self, documents: Sequence[Asked]) -> list[PolicyDecision]:
        state = self._current()  # reload check first: the cache is per revision
        started = time.perf_counter()
        keys = [self._keys(state, document) for document in documents]
        answers: dict[int, Decision] = {}  # by index into documents
        # Requests not cached, grouped by what decides allow-ness (the allow key, else the exact
        # key, else the request alone); one request per group is evaluated first.
        groups: dict[object, list[int]] = {}
        for index, (key, allow) in enumerate(keys):
            found = self._cache.lookup(key, allow)
            if found is None:
                found = self._transfer(state, allow, documents[index])
            if found is not None:
                answers[index] = found
                continue
            group = allow if allow is not None else (key if key is not None else index)
            groups.setdefault(group, []).append(index)
        failures: list[str] = []
        firsts = [members[0] for members in groups.values()]
        evaluated = self._evaluate_all(state, [documents[i].document() for i in firsts], failures)
        again: dict[object, list[int]] = {}  # denied groups: each request's own reasons, by exact key
        for members, (decision, ok) in zip(groups.values(), evaluated, strict=True):
            first = members[0]
            key, allow = keys[first]
            answers[first] = decision
            if not ok:  # errors are never cached: the next call tries again
                for index in members[1:]:
                    answers[index] = decision
                continue
            if decision[0] and allow is not None:
                self._cache.remember(allow, decision)  # an allow has no reasons: every member shares it
                for index in members[1:]:
                    answers[index] = decision
                continue
            self._cache.remember(key, decision)
            source = None
            if allow is not None and state.inputs is not None:
                source = denial_of(decision, state.inputs, documents[first])
                self._cache.remember_denial(allow, source)
            for index in members[1:]:
                if keys[index][0] == key and key is not None:
                    answers[index] = decision
                elif (moved := self._transfer(state, allow, documents[index], source)) is not None:
                    answers[index] = moved
                    self._cache.remember(keys[index][0], moved)
                else:
                    again.setdefault(keys[index][0] or index, []).append(index)
        if again:
            firsts = [members[0] for members in again.values()]
            evaluated = self._evaluate_all(state, [documents[i].document() for i in firsts], failures)
            for members, (decision, ok) in zip(again.values(), evaluated, strict=True):
                if ok:
                    self._cache.remember(keys[members[0]][0], decision)
                for index in members:
                    answers[index] = decision
        decisions = self._as_decisions(state, [answers[index] for index in range(len(documents))], started)
        if failures:
            logger.error(
                "policy evaluation failed for %d of %d request(s), revision %s: %s",
                len(failures),
                len(documents),
                state.revision[:12],
                failures[0],
            )
        return decisions

    def _evaluate_all(
        self, state: _Compiled, documents: Sequence[Mapping[str, Any]], failures: list[str]
    ) -> list[tuple[Decision, bool]]:
        """``(decision, ok)`` per document: denied with the reason when evaluation failed (never cached)."""
        if state.error is not None:
            failures.extend(state.error for _ in documents)
            return [((False, (ENGINE_ERROR + state.error,)), False) for _ in documents]
        projected = [project(document, state.inputs) for document in documents]
        if self._pool is not None and state.source is not None and len(projected) >= POOL_MIN:
            outcomes, queries = self._pool.decide(state.source, projected)
            self.in_workers += len(projected)
        else:
            outcomes, queries = decide_documents(
                state.interpreter,
                state.bundle,
                state.lock,
                self._entrypoint,
                state.batch_entrypoint,
                projected,
            )
        self.queries += queries
        self.evaluations += len(projected)
        results: list[tuple[Decision, bool]] = []
        for decision, problem in outcomes:
            if problem is None:
                results.append((decision, True))
            else:
                failures.append(problem)
                results.append(((False, (ENGINE_ERROR + problem,)), False))
        return results

    def _current(self) -> _Compiled:
        """The revision in force, reloading first when the files changed (worker thread)."""
        if time.monotonic() - self._checked_at < self._reload_interval:
            return self._state
        with self._reload_lock:
            if time.monotonic() - self._checked_at < self._reload_interval:
                return self._state
            self._reload()
            self._checked_at = time.monotonic()
        return self._state

    def _reload(self) -> None:
        state = self._state
        try:
            signature = _signature(self._policy_dir, _policy_paths(self._policy_dir))
        except OSError as exc:
            # Most likely a file replaced while we looked; keep what is loaded and look again.
            logger.warning("cannot check policies in %s, will retry: %s", self._policy_dir, exc)
            return
        if signature == state.signature:
            return
        revision = policy_revision((), self._data_json)  # until the files can be read
        try:
            snapshot = _read_snapshot(self._policy_dir)
            revision = policy_revision(snapshot.files, self._data_json)
            if revision == state.revision and state.error is None:
                state.signature = snapshot.signature
                return
            self._state = self._compile(snapshot)
        except ConfigurationError as exc:
            # Fail closed: what is on disk is what is enforced, even when it is broken.
            logger.error("policies in %s cannot be loaded; denying every request: %s", self._policy_dir, exc)
            self._state = _Compiled(revision, signature, error=f"policies cannot be loaded: {exc}")
            return
        logger.info("policy revision %s loaded from %s", self._state.revision[:12], self._policy_dir)
