"""The production-like stack in ``infra/``: the compose file and the API image agree with the code.

The compose file is parsed (PyYAML) and checked: every service has an image
or a build, a health check, the API gets every setting it needs and only
settings that exist, and its URLs name the stack's own services. Where the
``docker compose`` plugin exists, ``docker compose config`` validates the file
too; where it does not (our build machines), that part skips with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from artifact_plane.adapters.arango import ArangoLineageStore
from artifact_plane.settings import Settings

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
COMPOSE = INFRA / "compose.yaml"
DOCKERFILE = INFRA / "Dockerfile"
# What the API must be told to run against the stack rather than the embedded default.
API_NEEDS = {
    "AP_REGISTRY_URL",
    "AP_PAYLOADS_URL",
    "STORAGE_EMULATOR_HOST",
    "AP_LINEAGE_URL",
    "AP_POLICY_URL",
    "AP_JWT_SECRET",
}
SERVERS = {"postgres", "gcs", "arangodb", "neo4j", "opa", "api"}
_DEFAULTED = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*):-(?P<default>[^}]*)\}")


def interpolate(value: str) -> str:
    """``${NAME:-default}`` as compose resolves it with ``NAME`` unset (the file's defaults)."""
    return _DEFAULTED.sub(lambda match: match["default"], value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def api_env(compose: dict[str, Any]) -> dict[str, str]:
    return {
        name: interpolate(str(value)) for name, value in compose["services"]["api"]["environment"].items()
    }


def test_every_service_has_an_image_and_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVERS
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no health check"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: a health check runs a command"
        assert len(test) > 1, f"{name}: the health check names no command"


def test_the_api_waits_for_healthy_backends(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    depends = api["depends_on"]
    assert set(depends) == {"postgres", "gcs", "arangodb", "opa"}
    assert {rule["condition"] for rule in depends.values()} == {"service_healthy"}
    assert api["build"]["dockerfile"] == "infra/Dockerfile"
    assert (INFRA / api["build"]["context"]).resolve() == REPO


def test_the_api_gets_the_settings_it_needs_and_no_unknown_ones(api_env: dict[str, str]) -> None:
    assert set(api_env) >= API_NEEDS
    known = {f"AP_{name.upper()}" for name in Settings.model_fields}
    unknown = {name for name in api_env if name.startswith("AP_")} - known
    assert not unknown, f"settings the plane does not read: {unknown}"


def test_the_api_settings_point_at_the_stacks_services(api_env: dict[str, str]) -> None:
    settings = Settings(
        **{name[3:].lower(): value for name, value in api_env.items() if name.startswith("AP_")}
    )
    registry = urlparse(settings.resolved_registry_url())
    assert (registry.scheme, registry.hostname, registry.port) == ("postgresql", "postgres", 5432)
    payloads = urlparse(settings.resolved_payloads_url())
    assert payloads.scheme == "gs"
    assert payloads.netloc  # the bucket
    assert payloads.path.strip("/")  # the prefix
    assert urlparse(api_env["STORAGE_EMULATOR_HOST"]).hostname == "gcs"
    lineage = ArangoLineageStore.from_url(settings.lineage_url)  # parses only; nothing is contacted
    assert lineage.hosts == "http://arangodb:8529"
    assert urlparse(settings.policy_url).hostname == "opa"
    assert settings.jwt_secret is not None
    assert len(settings.jwt_secret.get_secret_value().encode()) >= 32  # HS256 keys the API accepts


def test_the_stack_passwords_agree(compose: dict[str, Any], api_env: dict[str, str]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    registry = urlparse(api_env["AP_REGISTRY_URL"])
    assert (registry.username, registry.password) == (
        postgres["POSTGRES_USER"],
        interpolate(postgres["POSTGRES_PASSWORD"]),
    )
    assert registry.path.strip("/") == postgres["POSTGRES_DB"]
    lineage = urlparse(api_env["AP_LINEAGE_URL"])
    assert lineage.password == interpolate(services["arangodb"]["environment"]["ARANGO_ROOT_PASSWORD"])


def test_the_policy_server_listens_where_the_api_looks(
    compose: dict[str, Any], api_env: dict[str, str]
) -> None:
    opa = compose["services"]["opa"]
    assert opa["command"][:2] == ["run", "--server"]
    policy = urlparse(api_env["AP_POLICY_URL"])
    assert f"--addr=0.0.0.0:{policy.port}" in opa["command"]
    # The API pushes its own copy of the policies: none are loaded from disk beside them.
    assert "volumes" not in opa
    assert api_env["AP_POLICY_DIR"] == "/app/policies"
    assert "COPY policies ./policies" in DOCKERFILE.read_text()


def test_the_image_installs_the_backends_and_serves(compose: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text()
    extras = set(re.search(r'"\.\[([a-z0-9,]+)\]"', text)[1].split(","))  # type: ignore[index]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert extras == {"postgres", "gcs", "arango", "neo4j", "opa"}
    assert extras <= set(project["optional-dependencies"])
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert (REPO / copied).exists(), f"the image copies {copied}, which is not in the repository"
    assert 'CMD ["artifact-plane", "serve", "--host", "0.0.0.0"' in text
    assert "HEALTHCHECK" in text
    assert "USER ap" in text  # not root


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return probe.returncode == 0


def test_docker_compose_accepts_the_file() -> None:
    if not _has_compose():
        pytest.skip("the docker compose plugin is not installed here; the YAML checks above ran instead")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AP_STACK")}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
