"""Settings: ``AP_*`` environment variables (or a ``.env`` file), one URL per plane part.

Built once at the entry point and passed down; nothing reads the environment
anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the plane. Unset URLs derive from ``data_dir`` (the embedded default)."""

    model_config = SettingsConfigDict(env_prefix="AP_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".artifact-plane")
    registry_url: str | None = Field(default=None, description="sqlite:///… or postgresql://…")
    payloads_url: str | None = Field(default=None, description="file://… or gs://bucket/prefix")
    lineage_url: str = Field(default="sql", description="sql | memory | arangodb://… | neo4j://…")
    policy_url: str = Field(default="rego", description="rego | allow-all | http://opa:8181")
    policy_dir: Path = Path("policies")
    policy_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes that decide large batches (policy audits) with in-process Rego; 1: none.",
    )
    policy_mask: str | None = Field(
        default=None,
        description=(
            "Policy input fields masked in the decision log: JSON pointers, comma-separated or a JSON "
            'list (/context/authorization, /resource/metadata/ssn, "*" = any one key); unset: the '
            "defaults of artifact_plane.masking (credentials in context, secret-named metadata); "
            "[] masks nothing."
        ),
    )
    policy_log_input_max_bytes: int = Field(
        default=8192,
        ge=512,
        description="Cap on one logged policy input (compact JSON); larger values are cut, largest first.",
    )
    realms_dir: Path = Path("realms")
    operator_dirs: list[Path] = Field(
        default_factory=list, description='more directories of code artifacts (JSON list: ["/srv/ops"])'
    )
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = Field(default=None, description="required `aud` claim, when set")
    jwt_issuer: str | None = Field(default=None, description="required `iss` claim, when set")
    jwks_cache_seconds: float = Field(default=300.0, gt=0)

    max_payload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    default_page_size: int = Field(default=100, gt=0)
    max_page_size: int = Field(default=1000, gt=0)
    max_lineage_depth: int = Field(default=50, gt=0)
    max_lineage_nodes: int = Field(default=10_000, gt=0)
    lineage_timeout_seconds: float = Field(default=10.0, gt=0)
    # API limits: each refusal names the limit and its setting.
    max_query_depth: int = Field(default=12, gt=0, description="GraphQL selection nesting")
    max_query_tokens: int = Field(default=4000, gt=0, description="GraphQL document tokens")
    max_request_bytes: int = Field(default=1024 * 1024, gt=0, description="request bodies except uploads")
    max_wait_seconds: float = Field(default=300.0, gt=0, description="waitForArtifact / subscriptions")
    gc_grace_seconds: int = Field(default=3600, ge=0)
    maintenance_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often `serve` runs the TTL and abandoned-execution sweeps."
    )
    execution_abandon_seconds: int = Field(
        default=6 * 3600, gt=0, description="A running execution older than this is failed by `gc`."
    )
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|EXTRA)$")
    classification_tags: list[str] = Field(
        default_factory=lambda: ["pii", "phi", "pci", "confidential"],
        description=(
            "Tags that propagate downstream along lineage: an artifact derived from an input tagged "
            'with one inherits it (JSON list: ["pii","secret"]).'
        ),
    )

    def resolved_registry_url(self) -> str:
        return self.registry_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    def resolved_payloads_url(self) -> str:
        return self.payloads_url or (self.data_dir / "payloads").resolve().as_uri()
