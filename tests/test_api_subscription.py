"""``artifactStatusChanged`` over graphql-transport-ws: through a real uvicorn and in process."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from artifact_plane.api.app import create_app
from artifact_plane.api.auth import mint_token
from artifact_plane.models import Subject
from tests.api_server import (
    ALICE,
    BOB_OTHER_TENANT,
    SECRET,
    STEWARD,
    AsgiWebSocket,
    asgi_client,
    gql,
    make_settings,
    uvicorn_thread,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SUBSCRIBE = """subscription($id: ID!, $t: Float) {
  artifactStatusChanged(id: $id, timeoutSeconds: $t) { artifactId status final }
}"""
CREATE = """mutation($s: ArtifactStatus!, $t: String!) {
  createArtifact(input: {artifactType: "job", text: $t, realm: "content", status: $s}) { artifactId }
}"""
SET = "mutation($id: ID!, $s: ArtifactStatus!) { setArtifactStatus(id: $id, status: $s) { status } }"
DELETE = "mutation($id: ID!) { deleteArtifact(id: $id) { artifactId } }"
RECEIVE_SECONDS = 20


class Server:
    def __init__(self, base: str, client: httpx.AsyncClient) -> None:
        self.base = base
        self.client = client

    async def pending(self) -> str:
        body = await gql(self.client, CREATE, ALICE, s="PENDING", t=uuid.uuid4().hex)
        artifact_id: str = body["data"]["createArtifact"]["artifactId"]
        return artifact_id

    async def set(self, artifact_id: str, status: str) -> None:
        body = await gql(self.client, SET, ALICE, id=artifact_id, s=status)
        assert "errors" not in body, body


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(make_settings("embedded", tmp_path_factory.mktemp("subscriptions")))
    with uvicorn_thread(app) as base:
        yield base


@pytest_asyncio.fixture(loop_scope="module")
async def server(served: str) -> AsyncIterator[Server]:
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        yield Server(served, client)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout=RECEIVE_SECONDS)  # a deadline, not a pause
    message: dict[str, Any] = json.loads(raw)
    return message


async def subscribe(
    base: str, variables: dict[str, Any], subject: Subject | None = ALICE
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(base.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    payload = {"Authorization": f"Bearer {mint_token(SECRET, subject)}"} if subject else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert (await receive(ws))["type"] == "connection_ack"
    await ws.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}})
    )
    return ws, await receive(ws)


def event(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    data: dict[str, Any] = message["payload"]["data"]["artifactStatusChanged"]
    return data


async def test_a_subscriber_sees_each_change_until_the_status_is_final(server: Server) -> None:
    art = await server.pending()
    ws, first = await subscribe(server.base, {"id": art})
    try:
        assert event(first) == {"artifactId": art, "status": "PENDING", "final": False}
        await server.set(art, "READY")
        assert event(await receive(ws)) == {"artifactId": art, "status": "READY", "final": False}
        await server.set(art, "EXPIRED")
        assert event(await receive(ws)) == {"artifactId": art, "status": "EXPIRED", "final": True}
        assert await receive(ws) == {"id": "1", "type": "complete"}
    finally:
        await ws.close()


async def test_the_stream_ends_at_its_timeout_or_when_the_artifact_is_deleted(server: Server) -> None:
    art = await server.pending()
    ws, first = await subscribe(server.base, {"id": art, "t": 0.2})
    try:
        assert event(first)["status"] == "PENDING"
        assert await receive(ws) == {"id": "1", "type": "complete"}
    finally:
        await ws.close()

    doomed = await server.pending()
    ws, first = await subscribe(server.base, {"id": doomed})
    try:
        assert event(first)["status"] == "PENDING"
        assert "errors" not in await gql(server.client, DELETE, STEWARD, id=doomed)
        gone = await receive(ws)
        assert gone["type"] in {"next", "error"}
        errors = gone["payload"]["errors"] if gone["type"] == "next" else gone["payload"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    finally:
        await ws.close()


async def test_no_token_or_another_tenant_gets_nothing(server: Server) -> None:
    art = await server.pending()
    for subject, code in ((None, "UNAUTHENTICATED"), (BOB_OTHER_TENANT, "NOT_FOUND")):
        ws, answer = await subscribe(server.base, {"id": art}, subject)
        try:
            errors = answer["payload"]["errors"] if answer["type"] == "next" else answer["payload"]
            assert [e["extensions"]["code"] for e in errors] == [code]
        finally:
            await ws.close()


async def test_in_process_over_the_asgi_app(tmp_path: Path) -> None:
    app = create_app(make_settings("embedded", tmp_path))
    headers = {"Authorization": f"Bearer {mint_token(SECRET, ALICE)}"}
    async with asgi_client(app) as client:
        created = await gql(client, CREATE, ALICE, s="PENDING", t="in process")
        art = created["data"]["createArtifact"]["artifactId"]
        async with AsgiWebSocket(app, "/graphql", ["graphql-transport-ws"], headers) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {}}
            )  # the token came with the handshake
            assert (await ws.receive_json())["type"] == "connection_ack"
            variables = {"id": art}
            await ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}}
            )
            assert event(await ws.receive_json())["status"] == "PENDING"
            assert "errors" not in await gql(client, SET, ALICE, id=art, s="FAILED")
            assert event(await ws.receive_json()) == {"artifactId": art, "status": "FAILED", "final": True}
            assert await ws.receive_json() == {"id": "1", "type": "complete"}


async def test_an_unexpected_error_mid_stream_is_masked_with_a_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    app = create_app(make_settings("embedded", tmp_path))
    headers = {"Authorization": f"Bearer {mint_token(SECRET, ALICE)}"}
    async with asgi_client(app) as client:
        created = await gql(client, CREATE, ALICE, s="PENDING", t="about to break")
        art = created["data"]["createArtifact"]["artifactId"]
        plane = app.state.plane
        real = plane.registry.get_artifact
        calls = 0

        async def breaks_after_the_first_read(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls > 1:  # the stream's first poll, after the checked read
                raise RuntimeError("registry password is hunter2")
            return await real(*args, **kwargs)

        plane.registry.get_artifact = breaks_after_the_first_read
        with caplog.at_level(logging.ERROR, logger="artifact_plane.api"):
            async with AsgiWebSocket(app, "/graphql", ["graphql-transport-ws"], headers) as ws:
                await ws.send_json({"type": "connection_init", "payload": {}})
                assert (await ws.receive_json())["type"] == "connection_ack"
                variables = {"id": art}
                await ws.send_json(
                    {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}}
                )
                assert event(await ws.receive_json())["status"] == "PENDING"
                broken = await ws.receive_json()
    text = json.dumps(broken)
    assert "hunter2" not in text
    errors = broken["payload"]["errors"] if broken["type"] == "next" else broken["payload"]
    assert errors[0]["message"] == "internal error"
    assert errors[0]["extensions"]["code"] == "INTERNAL"
    request_id = errors[0]["extensions"]["requestId"]
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
