"""REST: metadata, streamed payloads (ETag, Range), the multipart upload, /metrics.

Over the ASGI app in process and a real uvicorn server, on the embedded plane.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from artifact_plane.api.app import create_app
from artifact_plane.plane import ArtifactPlane
from tests.api_server import ALICE, BOB_OTHER_TENANT, READER, STEWARD, auth, client_for, make_settings
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_PAYLOAD = 256 * 1024


class Rest:
    def __init__(self, client: httpx.AsyncClient, plane: ArtifactPlane, data_dir: Path) -> None:
        self.client = client
        self.plane = plane
        self.data_dir = data_dir

    async def upload(
        self, data: bytes, fields: dict[str, str] | None = None, subject: Any = ALICE, filename: str = "f.bin"
    ) -> httpx.Response:
        given = {"artifactType": "blob", "realm": "content", **(fields or {})}
        return await self.client.put(
            "/api/artifact",
            data=given,
            files={"file": (filename, data, "application/x-test")},
            headers=auth(subject),
        )

    def stored_payloads(self) -> list[Path]:
        root = self.data_dir / "payloads" / "tenants"
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["asgi", "uvicorn"])
async def rest(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Rest]:
    root = tmp_path_factory.mktemp("rest") / request.param
    settings = make_settings("embedded", root, max_payload_bytes=MAX_PAYLOAD)
    app = create_app(settings)
    async with client_for(app, request.param) as client:
        yield Rest(client, app.state.plane, settings.data_dir)


async def test_upload_then_metadata_and_payload(rest: Rest) -> None:
    data = os.urandom(100_000)
    created = await rest.upload(data, {"tags": "a, b", "contentType": "application/x-made"})
    assert created.status_code == 201, created.text
    meta = created.json()
    art_id = meta["artifact_id"]
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["size_bytes"] == len(data)
    assert meta["tags"] == ["a", "b"]
    assert created.headers["location"] == f"/api/artifact/{art_id}"
    assert "payload_key" not in meta

    again = await rest.client.get(f"/api/artifact/{art_id}", headers=auth(ALICE))
    payload = await rest.client.get(f"/api/artifact/{art_id}/payload", headers=auth(ALICE))
    assert again.json() == meta
    assert payload.status_code == 200
    assert payload.content == data
    assert payload.headers["content-type"] == "application/x-made"
    assert payload.headers["etag"] == f'"{meta["sha256"]}"'
    assert payload.headers["accept-ranges"] == "bytes"


async def test_the_file_parts_content_type_is_the_default(rest: Rest) -> None:
    created = await rest.upload(b"typed by the part")
    assert created.json()["content_type"] == "application/x-test"


async def test_named_upload_writes_versions(rest: Rest) -> None:
    uri = f"artifact://insights/{uuid.uuid4().hex}/big.bin"
    first = await rest.upload(b"one", {"uri": uri, "realm": "content"})  # a name carries its realm
    assert first.status_code == 400
    assert first.json()["error"]["field"] == "realm"
    one = await rest.client.put(
        "/api/artifact",
        data={"artifactType": "blob", "uri": uri, "mode": "failIfExists"},
        files={"file": ("a", b"one")},
        headers=auth(ALICE),
    )
    two = await rest.client.put(
        "/api/artifact",
        data={"artifactType": "blob", "uri": uri, "mode": "failIfExists"},
        files={"file": ("a", b"two")},
        headers=auth(ALICE),
    )
    assert one.status_code == 201, one.text
    assert one.json()["version"] == "1.0.0"
    assert two.status_code == 409
    assert two.json()["error"]["code"] == "CONFLICT"


async def test_range_requests_and_conditional_gets(rest: Rest) -> None:
    data = bytes(range(256)) * 400
    art_id = (await rest.upload(data)).json()["artifact_id"]
    url = f"/api/artifact/{art_id}/payload"
    etag = f'"{hashlib.sha256(data).hexdigest()}"'

    async def get(**headers: str) -> httpx.Response:
        return await rest.client.get(url, headers={**auth(ALICE), **headers})

    middle = await get(range="bytes=1000-1999")
    tail = await get(range="bytes=-10")
    open_end = await get(range=f"bytes={len(data) - 5}-")
    assert (middle.status_code, middle.content) == (206, data[1000:2000])
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert middle.headers["content-length"] == "1000"
    assert (tail.status_code, tail.content) == (206, data[-10:])
    assert (open_end.status_code, open_end.content) == (206, data[-5:])

    beyond = await get(range=f"bytes={len(data)}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    assert (await get(range="bytes=0-1,5-6")).content == data  # several ranges: the whole payload
    assert (await get(range="bytes=1000-1999", **{"if-range": '"stale"'})).status_code == 200
    assert (await get(range="bytes=0-0", **{"if-range": etag})).content == data[:1]

    cached = await get(**{"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert (await get(**{"if-none-match": '"other"'})).status_code == 200


async def test_a_download_is_an_export_and_pii_leaves_through_stewards_only(rest: Rest) -> None:
    created = await rest.upload(b"names and emails " + os.urandom(8), {"tags": "pii"})
    assert created.status_code == 201, created.text
    url = f"/api/artifact/{created.json()['artifact_id']}/payload"
    for subject in (ALICE, READER):
        refused = await rest.client.get(url, headers=auth(subject))
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "FORBIDDEN"
        assert "classification: the artifact is pii: only stewards may export it" in str(error)
        # The metadata is a read, not an export.
        assert (await rest.client.get(url.removesuffix("/payload"), headers=auth(subject))).status_code == 200
    allowed = await rest.client.get(url, headers={**auth(STEWARD), "range": "bytes=0-4"})
    assert (allowed.status_code, allowed.content) == (206, b"names")


async def test_upload_refusals_store_nothing(rest: Rest) -> None:
    before = set(rest.stored_payloads())
    too_big = await rest.upload(os.urandom(MAX_PAYLOAD + 1))
    assert too_big.status_code == 400
    assert too_big.json()["error"]["code"] == "INVALID_INPUT"

    denied = await rest.upload(b"a reader may not create", subject=READER)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "FORBIDDEN"

    boundary = "b0undary"

    def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
        out = b""
        for name, filename, value in parts:
            disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
            out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
        return out + f"--{boundary}--\r\n".encode()

    async def raw(
        body: bytes, content_type: str = f"multipart/form-data; boundary={boundary}"
    ) -> httpx.Response:
        return await rest.client.put(
            "/api/artifact", content=body, headers={**auth(ALICE), "Content-Type": content_type}
        )

    field_after_file = await raw(
        multipart(
            ("artifactType", None, b"x"),
            ("realm", None, b"content"),
            ("file", "f", b"late field"),
            ("tags", None, b"t"),
        )
    )
    no_file = await raw(multipart(("artifactType", None, b"x"), ("realm", None, b"content")))
    unknown = await raw(multipart(("colour", None, b"red"), ("file", "f", b"data")))
    not_multipart = await raw(b"{}", "application/json")
    for response, field in (
        (field_after_file, "tags"),
        (no_file, "file"),
        (unknown, "colour"),
        (not_multipart, "content-type"),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "INVALID_INPUT"
        assert response.json()["error"]["field"] == field
    assert "send fields first" in field_after_file.json()["error"]["message"]
    assert set(rest.stored_payloads()) == before


async def test_rest_keeps_tenants_apart(rest: Rest) -> None:
    art_id = (await rest.upload(b"acme only")).json()["artifact_id"]
    missing = uuid.uuid4().hex
    for path in (f"/api/artifact/{art_id}", f"/api/artifact/{art_id}/payload"):
        theirs = await rest.client.get(path, headers=auth(BOB_OTHER_TENANT))
        absent = await rest.client.get(path.replace(art_id, missing), headers=auth(BOB_OTHER_TENANT))
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json()["error"]["message"] == absent.json()["error"]["message"].replace(missing, art_id)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_count_requests_latency_and_policy_decisions(rest: Rest) -> None:
    before = samples((await rest.client.get("/metrics")).text)
    art_id = (await rest.upload(b"metered " + uuid.uuid4().bytes)).json()["artifact_id"]
    await rest.client.get(f"/api/artifact/{art_id}", headers=auth(ALICE))
    await rest.client.post(
        "/graphql", json={"query": f'{{ artifact(id: "{art_id}") {{ id }} }}'}, headers=auth(ALICE)
    )
    await rest.upload(b"denied", subject=READER)
    response = await rest.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("artifact_plane_api_requests_total", operation="rest:put_artifact", outcome="ok") == 1
    assert grew("artifact_plane_api_requests_total", operation="rest:put_artifact", outcome="403") == 1
    assert grew("artifact_plane_api_requests_total", operation="rest:get_artifact", outcome="ok") == 1
    assert grew("artifact_plane_api_requests_total", operation="graphql:query:artifact", outcome="ok") == 1
    assert grew("artifact_plane_api_request_seconds_count", operation="graphql:query:artifact") == 1
    assert grew("artifact_plane_policy_decisions_total", action="create", result="allow") >= 1
    assert grew("artifact_plane_policy_decisions_total", action="create", result="deny") == 1
    assert grew("artifact_plane_policy_decisions_total", action="read", result="allow") >= 2


async def test_each_app_has_its_own_metrics(tmp_path: Path) -> None:
    first = create_app(make_settings("memory", tmp_path / "one"))
    second = create_app(make_settings("memory", tmp_path / "two"))
    assert first.state.metrics.registry is not second.state.metrics.registry


async def test_an_upload_cut_short_stores_nothing_and_is_no_server_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from tests.api_server import uvicorn_thread

    settings = make_settings("embedded", tmp_path)
    app = create_app(settings)
    boundary = "cut"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="artifactType"\r\n\r\nblob\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="realm"\r\n\r\ncontent\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    ).encode()
    token = auth(ALICE)["Authorization"]
    with caplog.at_level(logging.INFO, logger="artifact_plane.api"), uvicorn_thread(app) as base:
        host, port = base.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                f"PUT /api/artifact HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {10 * 2**20}\r\n\r\n"
            ).encode()
            + head
            + os.urandom(2**20)  # a tenth of what was announced
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        temp = settings.data_dir / "payloads" / "tmp"

        async def noticed() -> bool:
            return any("client disconnected" in r.getMessage() for r in caplog.records)

        await eventually(noticed, "the server to notice the client left", 20)
        assert not temp.exists() or not any(temp.glob("*"))  # the partial payload was discarded
        stored = settings.data_dir / "payloads" / "tenants"
        assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
