"""Turn settings into adapters: the only module that imports ``adapters/``.

Each plane part is chosen by the scheme of its URL; a backend whose driver is
an optional extra is imported only when selected, so the embedded default
needs none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from artifact_plane.errors import ConfigurationError
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports import DecisionLog, LineageStore, PayloadStore, PolicyEngine, Registry
from artifact_plane.settings import Settings

if TYPE_CHECKING:
    from artifact_plane.relay import OutboxRelay

NOT_YET = "is not available in this build yet; use the embedded default or follow the issue tracker"


def build_plane(settings: Settings) -> ArtifactPlane:
    """Build every part from ``settings`` (nothing is connected until first use)."""
    registry, lineage, decisions = _registry_side(settings)
    return ArtifactPlane(
        registry=registry,
        payloads=build_payloads(settings),
        lineage=lineage,
        policy=build_policy(settings),
        decisions=decisions,
        settings=settings,
    )


def _registry_side(settings: Settings) -> tuple[Registry, LineageStore, DecisionLog]:
    url = settings.resolved_registry_url()
    lineage_url = settings.lineage_url
    if url == "memory":
        from artifact_plane.adapters.memory import MemoryDecisionLog, MemoryLineageStore, MemoryRegistry

        if lineage_url not in {"sql", "memory"}:
            raise ConfigurationError("AP_LINEAGE_URL", f"{lineage_url!r} {NOT_YET}")
        memory_lineage, memory_log = MemoryLineageStore(), MemoryDecisionLog()
        return MemoryRegistry(lineage=memory_lineage, decisions=memory_log), memory_lineage, memory_log
    if url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog, SqlLineageStore, SqlRegistry

        database = SqlDatabase.from_settings(settings)
        if lineage_url == "sql":
            return SqlRegistry(database), SqlLineageStore(database), SqlDecisionLog(database)
        # Lineage elsewhere: edges go through the registry's outbox; the relay delivers them.
        from artifact_plane.adapters.sql.outbox import OutboxLineageStore, SqlOutbox

        graph = build_graph_lineage(lineage_url)
        lineage = OutboxLineageStore(SqlOutbox(database), graph)
        return SqlRegistry(database, outbox=True), lineage, SqlDecisionLog(database)
    raise ConfigurationError("AP_REGISTRY_URL", f"{url!r}: use sqlite:///path, postgresql://… or memory")


def build_graph_lineage(url: str) -> LineageStore:
    """The graph store named by a non-``sql`` ``AP_LINEAGE_URL`` (the relay's destination).

    Raises:
        ConfigurationError: an unknown scheme, or its driver is not installed.
    """
    scheme = urlparse(url).scheme
    if url == "memory":
        from artifact_plane.adapters.memory import MemoryLineageStore

        return MemoryLineageStore()
    if scheme in {"arangodb", "arangodbs"}:
        from artifact_plane.adapters.arango import ArangoLineageStore

        return ArangoLineageStore.from_url(url)
    if scheme in {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}:
        from artifact_plane.adapters.neo4j import Neo4jLineageStore

        return Neo4jLineageStore.from_url(url)
    raise ConfigurationError(
        "AP_LINEAGE_URL", f"{url!r}: use sql, memory, arangodb://user:pw@host:8529/db or neo4j://host:7687"
    )


def build_relay(plane: ArtifactPlane, **options: Any) -> OutboxRelay | None:
    """The outbox relay of a plane whose lineage lives outside its registry; None otherwise.

    The relay is woken by every lineage write the plane makes through its outbox.
    """
    from artifact_plane.adapters.sql.outbox import OutboxLineageStore
    from artifact_plane.relay import OutboxRelay

    lineage = plane.lineage
    if not isinstance(lineage, OutboxLineageStore):
        return None
    relay = OutboxRelay(lineage.outbox, lineage.graph, **options)
    lineage.listeners.append(relay.notify)
    return relay


def build_payloads(settings: Settings) -> PayloadStore:
    """The payload store named by ``AP_PAYLOADS_URL``."""
    url = settings.resolved_payloads_url()
    if url == "memory":
        from artifact_plane.adapters.memory.payloads import MemoryPayloadStore

        return MemoryPayloadStore()
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from artifact_plane.adapters.local import LocalPayloadStore

        return LocalPayloadStore(Path(unquote(parsed.path)))
    if parsed.scheme == "gs":
        return _gcs_payloads(url, parsed.netloc, unquote(parsed.path))
    raise ConfigurationError("AP_PAYLOADS_URL", f"{url!r}: use file:///path, gs://bucket/prefix or memory")


def _gcs_payloads(url: str, bucket: str, prefix: str) -> PayloadStore:
    """``gs://bucket/prefix``: honours STORAGE_EMULATOR_HOST, else application-default credentials."""
    try:
        from artifact_plane.adapters.gcs import GcsPayloadStore
    except ImportError as exc:
        raise ConfigurationError(
            "AP_PAYLOADS_URL", f"{url!r} needs google-cloud-storage: pip install 'artifact-plane[gcs]'"
        ) from exc
    if not bucket:
        raise ConfigurationError("AP_PAYLOADS_URL", f"{url!r} names no bucket: use gs://bucket/prefix")
    return GcsPayloadStore(bucket, prefix)


def policy_data(settings: Settings) -> dict[str, Any]:
    """The data document policies see: the realm manifests, keyed by realm id."""
    from artifact_plane import realms_manifest

    return realms_manifest.policy_data(realms_manifest.load_realm_manifests(settings.realms_dir))


def upgrade_database(settings: Settings, revision: str = "head") -> str | None:
    """Run the SQL registry's migrations up to ``revision``; None when there is no SQL registry.

    Blocking (the CLI calls it directly).

    Raises:
        ConfigurationError: the registry URL is not a supported database.
        BackendUnavailableError: the database cannot be reached.
    """
    url = settings.resolved_registry_url()
    if url == "memory":
        return None
    from artifact_plane.adapters.sql.migrate import upgrade

    return upgrade(url, revision=revision, sqlite_synchronous=settings.sqlite_synchronous)


def build_policy(settings: Settings) -> PolicyEngine:
    """The policy engine named by ``AP_POLICY_URL``."""
    url = settings.policy_url
    if url == "rego":
        from artifact_plane.adapters.rego import RegoPolicyEngine

        return RegoPolicyEngine(settings.policy_dir, policy_data(settings), workers=settings.policy_workers)
    if url == "memory":
        from artifact_plane.adapters.memory.policy import MemoryPolicyEngine

        return MemoryPolicyEngine()
    if url.startswith(("http://", "https://")):
        try:
            from artifact_plane.adapters.opa import OpaPolicyEngine
        except ImportError as exc:
            raise ConfigurationError(
                "AP_POLICY_URL", f"{url!r} needs opa-python-client: pip install 'artifact-plane[opa]'"
            ) from exc
        return OpaPolicyEngine(url, settings.policy_dir, policy_data(settings))
    raise ConfigurationError("AP_POLICY_URL", f"{url!r}: use rego, memory or http://opa:8181")
