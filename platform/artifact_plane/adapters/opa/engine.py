"""OpaPolicyEngine: the policies of ``AP_POLICY_DIR`` decided by an OPA server.

On first use (and whenever the files change) the engine pushes the same
``*.rego`` files and data document the in-process engine compiles: each
module with ``update_policy_from_string`` under the id
``artifact_plane/<file>``, each top-level data key with
``update_or_create_data``. A module the server already holds with the very
same text under another id (``opa run /policies`` loaded it from disk) is
not pushed twice, since two copies of one module do not compile together.
Modules of ours the files no longer have are deleted.

Each request is one ``query_rule`` call (``POST /v1/data/<entrypoint>``);
a batch runs them concurrently, bounded. The client's ``bulk_query_rule`` is
not used: it splices every input into the text of an ad-hoc query, and it
answers one decision id for the whole batch.

Every problem fails closed: the decision is a deny whose reason starts with
``policy engine error:``, and the problem is logged. The server's
``decision_id`` (present when OPA's decision logging is on) comes back on
each :class:`OpaDecision`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import AsyncOpaClient

from artifact_plane.adapters.opa.errors import translated
from artifact_plane.adapters.opa.files import PolicySet, read_policy_set, signature_of
from artifact_plane.errors import ArtifactPlaneError, BackendUnavailableError, ConfigurationError
from artifact_plane.models import PolicyDecision, PolicyInput
from artifact_plane.ports.policy import PolicyEngine

__all__ = [
    "DEFAULT_ENTRYPOINT",
    "ENGINE_ERROR",
    "POLICY_PREFIX",
    "OpaDecision",
    "OpaPolicyEngine",
    "parse_url",
]

logger = logging.getLogger(__name__)

DEFAULT_ENTRYPOINT = "artifact_plane/authz/decision"
ENGINE_ERROR = "policy engine error: "
POLICY_PREFIX = "artifact_plane/"


class OpaDecision(PolicyDecision):
    """A decision with the id OPA's decision log gave it (None when decision logging is off)."""

    decision_id: str | None = None


def parse_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` as ``(host, port, tls)``.

    Raises:
        ConfigurationError: another scheme, no host, a path, or credentials in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("AP_POLICY_URL", f"{url!r}: use http://host:8181 or https://host")
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise ConfigurationError(
            "AP_POLICY_URL", f"{url!r}: give only scheme, host and port (OPA serves its API at /v1)"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8181)
    except ValueError as exc:
        raise ConfigurationError("AP_POLICY_URL", f"{url!r}: {exc}") from exc
    return parts.hostname, port, parts.scheme == "https"


def decision_of(response: Any, entrypoint: str) -> tuple[bool, tuple[str, ...], str | None]:
    """``(allow, reasons, decision_id)`` from a ``POST /v1/data/...`` answer.

    Raises:
        ValueError: the answer is not ``{"result": {"allow": bool, "reasons": [str]}}``
            (no ``result`` means the decision is undefined: policies missing on the server).
    """
    if not isinstance(response, Mapping):
        raise ValueError(f"the answer is not a JSON object: {str(response)[:200]}")
    decision_id = response.get("decision_id")
    if "result" not in response:
        raise ValueError(f"decision {entrypoint} is undefined on the server (are the policies loaded?)")
    result = response["result"]
    if not isinstance(result, Mapping) or not isinstance(result.get("allow"), bool):
        raise ValueError(f"decision is not {{allow: bool, reasons: [string]}}: {str(result)[:200]}")
    reasons = result.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError(f"decision reasons are not a list of strings: {str(reasons)[:200]}")
    return result["allow"], tuple(reasons), decision_id if isinstance(decision_id, str) else None


class OpaPolicyEngine(PolicyEngine):
    """Policies evaluated by an OPA server, pushed there from ``policy_dir``.

    Args:
        url: the server, ``http://opa:8181``.
        policy_dir: the ``*.rego`` files (``*_test.rego`` not pushed).
        data: the data document (``{"realms": {...}}``); each top-level value must be an object.
        entrypoint: the rule answering ``{allow, reasons}``, as ``path/to/rule``.
        timeout: seconds per HTTP request; ``retries``: the client's retries per request.
        concurrency: requests of one batch in flight at once.
        reload_interval: seconds between checks of the files for changes.

    Raises:
        ConfigurationError: a bad URL, unreadable or missing policies, or data that is not JSON objects.
    """

    name = "opa"

    def __init__(
        self,
        url: str,
        policy_dir: Path,
        data: Mapping[str, Any] | None = None,
        *,
        entrypoint: str = DEFAULT_ENTRYPOINT,
        timeout: float = 2.0,
        retries: int = 1,
        concurrency: int = 16,
        reload_interval: float = 1.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._host, self._port, self._tls = parse_url(url)
        self._policy_dir = policy_dir
        self._data = dict(data or {})
        not_objects = sorted(k for k, v in self._data.items() if not isinstance(v, Mapping))
        if not_objects:
            raise ConfigurationError("policy data", f"top-level values must be objects: {not_objects}")
        self._entrypoint = entrypoint.strip("/")
        self._package, _, self._rule = self._entrypoint.rpartition("/")
        self._timeout, self._retries = timeout, retries
        self._slots = asyncio.Semaphore(concurrency)
        self._reload_interval = reload_interval
        self._policies = read_policy_set(policy_dir, self._data)
        self._checked_at = time.monotonic()
        self._pushed: str | None = None  # the revision the server holds, as far as we know
        self._push_lock = asyncio.Lock()
        self._client: AsyncOpaClient | None = None

    def __repr__(self) -> str:
        return f"OpaPolicyEngine({self.url!r}, {str(self._policy_dir)!r})"

    @property
    def revision(self) -> str:
        return self._policies.revision

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        if not requests:
            return []
        try:
            await self._ready()
        except ArtifactPlaneError as exc:
            logger.error(
                "policy server %s not ready; denying %d request(s): %s", self.url, len(requests), exc
            )
            revision = self.revision
            return [self._denied(str(exc), revision, 0.0) for _ in requests]
        answers = await asyncio.gather(*(self._decide_one(r.document(), self.revision) for r in requests))
        failures = [a.reasons[0] for a in answers if a.reasons and a.reasons[0].startswith(ENGINE_ERROR)]
        if failures:
            logger.error(
                "policy server %s failed %d of %d decision(s): %s",
                self.url,
                len(failures),
                len(answers),
                failures[0],
            )
        return list(answers)

    async def _decide_one(self, document: Mapping[str, Any], revision: str) -> OpaDecision:
        started = time.perf_counter()
        try:
            async with self._slots:
                response = await self._query(document)
                try:
                    allow, reasons, decision_id = decision_of(response, self._entrypoint)
                except ValueError:
                    if not isinstance(response, Mapping) or "result" in response:
                        raise
                    # Undefined: the server lost our policies (restarted?). Push once more and ask again.
                    self._pushed = None
                    await self._ready()
                    allow, reasons, decision_id = decision_of(await self._query(document), self._entrypoint)
        except (ArtifactPlaneError, ValueError) as exc:
            return self._denied(str(exc), revision, (time.perf_counter() - started) * 1000)
        return OpaDecision(
            allow=allow,
            reasons=reasons,
            revision=revision,
            engine=self.name,
            latency_ms=(time.perf_counter() - started) * 1000,
            decision_id=decision_id,
        )

    def _denied(self, problem: str, revision: str, latency_ms: float) -> OpaDecision:
        return OpaDecision(
            allow=False,
            reasons=(ENGINE_ERROR + problem,),
            revision=revision,
            engine=self.name,
            latency_ms=latency_ms,
        )

    async def _query(self, document: Mapping[str, Any]) -> Any:
        client = await self._session()
        async with translated("decide", self.url):
            return await client.query_rule(
                input_data=dict(document), package_path=self._package, rule_name=self._rule
            )

    async def _session(self) -> AsyncOpaClient:
        if self._client is None:
            client = AsyncOpaClient(
                host=self._host, port=self._port, ssl=self._tls, timeout=self._timeout, retries=self._retries
            )
            await client._init_session()  # the client's own set-up (its __aenter__ does only this)
            self._client = client
        return self._client

    async def _ready(self) -> None:
        """Make sure the server holds the current revision (re-reading the files when due)."""
        if time.monotonic() - self._checked_at >= self._reload_interval:
            self._checked_at = time.monotonic()
            try:
                if signature_of(self._policy_dir) != self._policies.signature:
                    self._policies = read_policy_set(self._policy_dir, self._data)
            except (OSError, ConfigurationError) as exc:
                # Fail closed: what is on disk is what is enforced, even when it is broken.
                raise ConfigurationError("AP_POLICY_DIR", f"policies cannot be loaded: {exc}") from exc
        if self._pushed == self._policies.revision:
            return
        async with self._push_lock:
            policies = self._policies
            if self._pushed != policies.revision:
                await self._push(policies)
                self._pushed = policies.revision
                logger.info("policy revision %s pushed to %s", policies.revision[:12], self.url)

    async def _push(self, policies: PolicySet) -> None:
        client = await self._session()
        listed = await self._policies_on_server(client)
        existing = list(listed)
        foreign = {raw for policy_id, raw in listed.items() if not policy_id.startswith(POLICY_PREFIX)}
        # A module may call another that is not there yet: push what compiles, then the rest, until stuck.
        pending = [(name, text) for name, text in policies.modules if text not in foreign]
        while pending:
            refused: list[tuple[str, str, ConfigurationError]] = []
            for name, text in pending:
                try:
                    async with translated("load policy " + name, self.url):
                        await client.update_policy_from_string(text, POLICY_PREFIX + name, rego_compat=False)
                except ConfigurationError as exc:
                    refused.append((name, text, exc))
            if len(refused) == len(pending):
                raise refused[0][2]
            pending = [(name, text) for name, text, _ in refused]
        ours = {POLICY_PREFIX + name for name, _ in policies.modules}
        for stale in sorted(p for p in existing if p.startswith(POLICY_PREFIX) and p not in ours):
            async with translated("delete stale policy " + stale, self.url):
                await client.delete_policy(stale)
        for key, value in policies.data.items():
            async with translated("load data " + key, self.url):
                await client.update_or_create_data(dict(value), key)

    async def _policies_on_server(self, client: AsyncOpaClient) -> dict[str, str]:
        """``{id: raw text}`` of every module the server holds (``GET /v1/policies``).

        The client's ``get_policies_list`` drops the texts, and ``get_policy``
        of a disk-loaded module (id ``/policies/x.rego``) builds a ``//`` URL,
        so this one call goes through the client's own retrying request.
        """
        async with (
            translated("list policies", self.url),
            client._request("GET", f"{client.root_url}/policies") as r,
        ):
            r.raise_for_status()
            body = await r.json()
        result = body.get("result") if isinstance(body, Mapping) else None
        if not isinstance(result, list):
            raise BackendUnavailableError(
                "policy server", f"{self.url}/v1/policies answered {str(body)[:200]}"
            )
        return {
            str(p["id"]): str(p.get("raw", ""))
            for p in result
            if isinstance(p, Mapping) and isinstance(p.get("id"), str)
        }

    async def ping(self) -> None:
        client = await self._session()
        async with translated("check health", self.url):
            healthy = await client.check_health()
        if not healthy:
            raise BackendUnavailableError("policy server", f"{self.url}/health did not answer 200")

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close_connection()
