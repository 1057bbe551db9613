"""Every API limit refuses with a clear error naming its setting, over ASGI and a real uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from artifact_plane.api.app import create_app
from tests.api_server import ADMIN, auth, client_for, codes, gql, make_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMITS: dict[str, Any] = {
    "max_query_depth": 4,
    "max_query_tokens": 80,
    "max_page_size": 10,
    "max_lineage_depth": 3,
    "max_lineage_nodes": 50,
    "max_request_bytes": 4096,
    "max_wait_seconds": 2.0,
}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["asgi", "uvicorn"])
async def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings("embedded", tmp_path_factory.mktemp("limits") / request.param, **LIMITS)
    app = create_app(settings)
    async with client_for(app, request.param) as client:
        yield client


async def made(client: httpx.AsyncClient) -> str:
    body = await gql(
        client,
        'mutation { createArtifact(input: {artifactType: "x", text: "limits", realm: "content"}) '
        "{ artifactId } }",
    )
    artifact_id: str = body["data"]["createArtifact"]["artifactId"]
    return artifact_id


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    assert all(value is None for value in (body["data"] or {}).values()), body  # nothing answered
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT", error
    details: dict[str, Any] = error
    return details


async def test_query_depth(client: httpx.AsyncClient) -> None:
    art = await made(client)
    shallow = "query($id: ID!) { artifact(id: $id) { producedBy { inputs { id } } } }"
    deep = "query($id: ID!) { artifact(id: $id) { producedBy { inputs { producedBy { inputs { id } } } } } }"
    assert "errors" not in await gql(client, shallow, id=art)
    error = refusal(await gql(client, deep, id=art))
    assert "maximum operation depth of 4" in error["message"]
    assert error["extensions"]["limit"] == "AP_MAX_QUERY_DEPTH"


async def test_query_tokens(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f'a{i}: artifact(id: "x") {{ id }}' for i in range(20))
    error = refusal(await gql(client, "{ " + aliases + " }"))
    assert "more than 80 tokens" in error["message"]
    assert error["extensions"]["limit"] == "AP_MAX_QUERY_TOKENS"


async def test_maximum_first_on_every_connection(client: httpx.AsyncClient) -> None:
    art = await made(client)
    for query in (
        "{ artifacts(first: 11) { edges { cursor } } }",
        "{ policyDecisions(first: 11) { edges { cursor } } }",
        f'{{ lineage(artifactId: "{art}", first: 11) {{ root }} }}',
    ):
        error = refusal(await gql(client, query))
        assert error["extensions"]["field"] == "first"
        assert "between 1 and 10 (AP_MAX_PAGE_SIZE)" in error["message"]
    assert "errors" not in await gql(client, "{ artifacts(first: 10) { edges { cursor } } }")
    assert codes(await gql(client, "{ artifacts(first: 0) { edges { cursor } } }")) == ["INVALID_INPUT"]


async def test_lineage_depth_and_node_budget(client: httpx.AsyncClient) -> None:
    art = await made(client)
    too_deep = refusal(await gql(client, f'{{ lineage(artifactId: "{art}", depth: 4) {{ root }} }}'))
    too_many = refusal(await gql(client, f'{{ lineage(artifactId: "{art}", maxNodes: 51) {{ root }} }}'))
    assert too_deep["extensions"]["field"] == "depth"
    assert "between 0 and 3" in too_deep["message"]
    assert too_many["extensions"]["field"] == "max_nodes"
    assert "between 1 and 50" in too_many["message"]
    fine = await gql(client, f'{{ lineage(artifactId: "{art}", depth: 3, maxNodes: 50) {{ root }} }}')
    assert fine["data"]["lineage"]["root"] == art


async def test_wait_timeout(client: httpx.AsyncClient) -> None:
    art = await made(client)
    error = refusal(await gql(client, f'{{ waitForArtifact(id: "{art}", timeoutSeconds: 3) {{ id }} }}'))
    assert "AP_MAX_WAIT_SECONDS" in error["message"]


async def test_request_body_size_declared_or_streamed(client: httpx.AsyncClient) -> None:
    big = {"query": "{ artifacts { edges { cursor } } }", "variables": {"pad": "x" * 5000}}
    declared = await client.post("/graphql", json=big, headers=auth(ADMIN))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000  # no Content-Length: counted as it arrives

    streamed = await client.post(
        "/graphql", content=chunks(), headers={**auth(ADMIN), "Content-Type": "application/json"}
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "INVALID_INPUT"
        assert "larger than 4096 bytes (AP_MAX_REQUEST_BYTES" in error["message"]
    small = await client.post(
        "/graphql", json={"query": "{ artifacts { edges { cursor } } }"}, headers=auth(ADMIN)
    )
    assert small.status_code == 200
