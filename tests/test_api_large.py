"""What a new user does, against ``artifact-plane serve`` in its own process.

The server is started exactly as ``make run`` starts it (embedded default,
no secret configured): it prints a development token, which the test reads
from its output and uses. Then a 200 MiB payload goes up (multipart,
chunked, never whole in memory on either side) and comes back down, while
the server's peak resident memory is read from ``/proc`` before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_server import REPO, serve_process

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
MEMORY_GROWTH_LIMIT = 64 * 1024 * 1024  # a streamed 200 MiB must not come near it
TOKEN_DEADLINE_SECONDS = 20


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """(base URL, the printed dev token, server pid)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc (Linux)")
    home = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AP_")}
    env.update(
        AP_DATA_DIR=str(home / "data"),
        AP_POLICY_DIR=str(REPO / "policies"),
        AP_REALMS_DIR=str(REPO / "realms"),
    )
    with serve_process(env, cwd=home, inherit=False) as (base, process):
        assert process.stderr is not None
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            for raw in process.stderr:
                line = raw.decode(errors="replace").strip()
                if line.startswith('{"Authorization"'):
                    found.append(json.loads(line)["Authorization"].removeprefix("Bearer "))
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(TOKEN_DEADLINE_SECONDS), "serve printed no development token"
        yield base, found[0], process.pid


def gql(base: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def test_a_new_user_pastes_the_printed_token_and_builds_lineage(served: tuple[str, str, int]) -> None:
    base, token, _ = served
    page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    create = """mutation($t: String!) {
      createArtifact(input: {artifactType: "dataset", text: $t, realm: "content"}) { artifactId }
    }"""
    source = gql(base, token, create, t="raw " + uuid.uuid4().hex)["createArtifact"]["artifactId"]
    report = gql(base, token, create, t="report " + uuid.uuid4().hex)["createArtifact"]["artifactId"]
    gql(
        base,
        token,
        "mutation($i: [ID!]!, $o: [ID!]!) { registerLineage(input: "
        '{executionId: "first-run", inputs: $i, outputs: $o, intent: "summarise"}) { executionId } }',
        i=[source],
        o=[report],
    )
    graph = gql(
        base,
        token,
        "query($id: ID!) { lineage(artifactId: $id, direction: DOWNSTREAM, depth: 3) { nodes { id kind } } }",
        id=source,
    )["lineage"]
    assert {n["id"] for n in graph["nodes"]} == {source, "first-run", report}


def block(index: int) -> bytes:
    """Deterministic, incompressible-looking 1 MiB blocks (each differs)."""
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return (seed * (CHUNK // len(seed) + 1))[:CHUNK]


def test_200_mib_streams_up_and_down_in_bounded_memory(served: tuple[str, str, int]) -> None:
    base, token, pid = served
    headers = {"Authorization": f"Bearer {token}"}
    httpx.get(f"{base}/readyz", timeout=30)
    before = peak_rss(pid)
    boundary = uuid.uuid4().hex
    expected = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="artifactType"\r\n\r\nbig\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="realm"\r\n\r\ncontent\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for index in range(SIZE // CHUNK):
            chunk = block(index)
            expected.update(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    async def upload() -> httpx.Response:
        async with httpx.AsyncClient(timeout=120) as client:
            return await client.put(
                f"{base}/api/artifact",
                content=body(),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )

    import asyncio

    created = asyncio.run(upload())
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["size_bytes"] == SIZE
    assert meta["sha256"] == expected.hexdigest()

    received = hashlib.sha256()
    total = 0
    with httpx.stream(
        "GET", f"{base}/api/artifact/{meta['artifact_id']}/payload", headers=headers, timeout=120
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-length"] == str(SIZE)
        for chunk in r.iter_bytes():
            received.update(chunk)
            total += len(chunk)
    assert total == SIZE
    assert received.hexdigest() == expected.hexdigest()

    growth = peak_rss(pid) - before
    assert growth < MEMORY_GROWTH_LIMIT, f"server peak memory grew by {growth / 2**20:.0f} MiB for 200 MiB"
