"""The HTTP API, in process (httpx ASGI transport) and over a real uvicorn server in a thread.

Every test runs on the memory plane and on the embedded default (SQLite +
directory + Rego with the repository's policies and realm manifests).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from artifact_plane.api.app import create_app
from artifact_plane.demo import DemoGraph
from artifact_plane.plane import ArtifactPlane
from artifact_plane.settings import Settings
from tests.api_server import (
    ADMIN,
    ALICE,
    BOB_OTHER_TENANT,
    READER,
    asgi_client,
    auth,
    client_for,
    codes,
    factory_for,
    gql,
    make_settings,
)

ARTIFACT = "query($id: ID!) { artifact(id: $id) { id artifactType realm sha256 sizeBytes contentType tags } }"
CREATE = "mutation($input: CreateArtifactInput!) { createArtifact(input: $input) { artifactId } }"
PAGE = """query($first: Int, $after: String, $filter: ArtifactFilter) {
  artifacts(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor }
  }
}"""
LINEAGE = """query($id: ID!, $dir: LineageDirection!, $depth: Int!, $max: Int) {
  lineage(artifactId: $id, direction: $dir, depth: $depth, maxNodes: $max) {
    root isPartial truncatedBy nodes { id kind realm redacted } edges { kind sourceId targetId }
  }
}"""


@pytest.fixture(params=["memory", "embedded"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return make_settings(request.param, tmp_path)


@pytest.fixture
def demo() -> dict[str, DemoGraph]:
    return {}


@pytest.fixture(params=["asgi", "uvicorn"])
async def client(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # The demo pipeline takes seconds: only the tests that ask for ``demo`` get it built.
    wanted = request.getfixturevalue("demo") if "demo" in request.fixturenames else None
    app = create_app(settings, plane_factory=factory_for(settings, wanted))
    async with client_for(app, request.param) as client:
        yield client


# ----------------------------------------------------------------- probes


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    alive = await client.get("/healthz")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["parts"] == {"registry": "ok", "payloads": "ok", "lineage": "ok", "policy": "ok"}


async def test_readyz_is_503_naming_the_part_that_is_down(settings: Settings) -> None:
    async def down() -> None:
        raise ConnectionError("bucket unreachable")

    def break_payloads(plane: ArtifactPlane) -> None:
        plane.payloads.ping = down  # type: ignore[method-assign]

    app = create_app(settings, plane_factory=factory_for(settings, None, break_payloads))
    async with asgi_client(app) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["parts"]["payloads"] == "unavailable"
    assert "bucket unreachable" not in ready.text  # the public probe names the part, never the cause
    assert ready.json()["parts"]["registry"] == "ok"
    assert alive.status_code == 200


async def test_graphiql_is_served_to_a_browser(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


# ------------------------------------------------------------------- auth


async def test_rest_without_or_with_a_bad_token_is_401_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/artifact/abc")
    forged = await client.get("/api/artifact/abc", headers=auth(ADMIN, secret="another-secret-" + "y" * 40))
    expired = await client.get("/api/artifact/abc", headers=auth(ADMIN, ttl=timedelta(seconds=-60)))
    garbage = await client.get("/api/artifact/abc", headers={"Authorization": "Bearer not.a.jwt"})
    for response in (missing, forged, expired, garbage):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "expired" in expired.json()["error"]["message"]


async def test_graphql_without_or_with_a_bad_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    missing = await gql(client, ARTIFACT, subject=None, id="abc")
    response = await client.post(
        "/graphql",
        json={"query": ARTIFACT, "variables": {"id": "abc"}},
        headers=auth(ADMIN, secret="another-secret-" + "y" * 40),
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    for body in (missing, response.json()):
        assert codes(body) == ["UNAUTHENTICATED"]
        assert body["data"] == {"artifact": None}


async def test_introspection_needs_no_token(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ __schema { queryType { name } } }", subject=None)
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


# -------------------------------------------------------------- artifacts


async def test_create_then_read_round_trip(client: httpx.AsyncClient) -> None:
    text = "quarterly numbers\n" * 50
    created = await gql(
        client,
        CREATE,
        subject=ALICE,
        input={
            "artifactType": "report",
            "text": text,
            "contentType": "text/plain",
            "tags": ["q3"],
            "realm": "insights",
        },
    )
    assert "errors" not in created, created
    artifact_id = created["data"]["createArtifact"]["artifactId"]
    read = await gql(client, ARTIFACT, subject=ALICE, id=artifact_id)
    assert read["data"]["artifact"] == {
        "id": artifact_id,
        "artifactType": "report",
        "realm": "insights",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "sizeBytes": len(text.encode()),
        "contentType": "text/plain",
        "tags": ["q3"],
    }


async def test_base64_payload_round_trips_byte_for_byte(client: httpx.AsyncClient) -> None:
    data = bytes(range(256)) * 40
    created = await gql(
        client,
        CREATE,
        subject=ALICE,
        input={"artifactType": "blob", "base64": base64.b64encode(data).decode(), "realm": "content"},
    )
    artifact_id = created["data"]["createArtifact"]["artifactId"]
    payload = await client.get(f"/api/artifact/{artifact_id}/payload", headers=auth(ALICE))
    meta = await client.get(f"/api/artifact/{artifact_id}", headers=auth(ALICE))
    assert payload.status_code == 200
    assert payload.content == data
    assert meta.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert "payload_key" not in meta.json()


async def test_artifacts_connection_pages_through_everything_once(client: httpx.AsyncClient) -> None:
    made = []
    for i in range(5):
        body = await gql(
            client,
            CREATE,
            subject=ALICE,
            input={"artifactType": "page_test", "text": f"item {i}", "realm": "content"},
        )
        made.append(body["data"]["createArtifact"]["artifactId"])
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(
            client, PAGE, subject=ALICE, first=2, after=after, filter={"artifactType": "page_test"}
        )
        connection = body["data"]["artifacts"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == made
    assert pages == 3
    assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]


# ---------------------------------------------------------------- lineage


async def test_lineage_of_the_demo_graph(client: httpx.AsyncClient, demo: dict[str, DemoGraph]) -> None:
    graph = demo["graph"]
    body = await gql(client, LINEAGE, id=graph.dataset, dir="DOWNSTREAM", depth=10)
    answer = body["data"]["lineage"]
    ids = {node["id"] for node in answer["nodes"] if node["kind"] == "ARTIFACT"}
    assert ids == set(graph.artifacts.values())
    assert {node["realm"] for node in answer["nodes"]} == {"content", "insights", "outcomes", "journey"}
    assert answer["isPartial"] is False
    assert {
        "kind": "PRODUCED",
        "sourceId": graph.executions["automate"],
        "targetId": graph.artifacts["workflow"],
    } in (answer["edges"])
    upstream = await gql(client, LINEAGE, id=graph.artifacts["workflow"], dir="UPSTREAM", depth=10)
    assert graph.dataset in {node["id"] for node in upstream["data"]["lineage"]["nodes"]}
    cut = await gql(client, LINEAGE, id=graph.dataset, dir="BOTH", depth=10, max=3)
    assert cut["data"]["lineage"]["isPartial"] is True


# ----------------------------------------------------------------- errors


async def test_another_tenant_gets_not_found_exactly_as_for_a_missing_artifact(
    client: httpx.AsyncClient, demo: dict[str, DemoGraph]
) -> None:
    theirs = demo["graph"].dataset
    missing = uuid.uuid4().hex
    foreign = await gql(client, ARTIFACT, subject=BOB_OTHER_TENANT, id=theirs)
    absent = await gql(client, ARTIFACT, subject=BOB_OTHER_TENANT, id=missing)
    assert codes(foreign) == codes(absent) == ["NOT_FOUND"]
    assert foreign["errors"][0]["message"] == absent["errors"][0]["message"].replace(missing, theirs)
    rest = await client.get(f"/api/artifact/{theirs}", headers=auth(BOB_OTHER_TENANT))
    assert rest.status_code == 404
    assert rest.json()["error"]["code"] == "NOT_FOUND"


async def test_invalid_input_code(client: httpx.AsyncClient) -> None:
    bad_id = await gql(client, ARTIFACT, id="../etc/passwd")
    both = await gql(
        client, CREATE, input={"artifactType": "x", "text": "a", "base64": "YQ==", "realm": "content"}
    )
    bad_b64 = await gql(client, CREATE, input={"artifactType": "x", "base64": "***", "realm": "content"})
    assert codes(bad_id) == codes(both) == codes(bad_b64) == ["INVALID_INPUT"]
    assert bad_id["errors"][0]["extensions"]["field"] == "artifact_id"
    assert bad_b64["errors"][0]["extensions"]["field"] == "base64"


async def test_conflict_code(client: httpx.AsyncClient) -> None:
    given = {
        "artifactType": "report",
        "text": "v1",
        "uri": "artifact://insights/reports/q3.md",
        "mode": "FAIL_IF_EXISTS",
    }
    first = await gql(client, CREATE, subject=ALICE, input=given)
    again = await gql(client, CREATE, subject=ALICE, input={**given, "text": "v2"})
    assert "errors" not in first, first
    assert codes(again) == ["CONFLICT"]
    assert "q3.md" in again["errors"][0]["message"]


async def test_policy_denial_is_forbidden_with_reasons(client: httpx.AsyncClient, settings: Settings) -> None:
    if settings.policy_url != "rego":
        pytest.skip("the memory policy engine allows everything; the Rego policies decide roles")
    body = await gql(
        client, CREATE, subject=READER, input={"artifactType": "x", "text": "a", "realm": "content"}
    )
    assert codes(body) == ["FORBIDDEN"]
    assert any("roles" in reason for reason in body["errors"][0]["extensions"]["reasons"])


async def test_unexpected_errors_are_masked_and_logged_with_a_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("db password is hunter2")

    def break_registry(plane: ArtifactPlane) -> None:
        plane.registry.get_artifact = explode  # type: ignore[method-assign]

    app = create_app(settings, plane_factory=factory_for(settings, None, break_registry))
    with caplog.at_level(logging.ERROR, logger="artifact_plane.api"):
        async with asgi_client(app) as client:
            response = await client.post(
                "/graphql", json={"query": ARTIFACT, "variables": {"id": "abc"}}, headers=auth(ADMIN)
            )
            rest = await client.get("/api/artifact/abc", headers=auth(ADMIN))
    body = response.json()
    error = body["errors"][0]
    assert error["message"] == "internal error"
    assert error["extensions"]["code"] == "INTERNAL"
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"] == error["extensions"]["requestId"]
    assert rest.status_code == 500
    assert "hunter2" not in rest.text
    logged = [r for r in caplog.records if error["extensions"]["requestId"] in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])
    assert any(rest.json()["error"]["requestId"] in r.getMessage() for r in caplog.records)
