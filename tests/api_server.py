"""What the API tests share: settings, tokens, the app in process and under a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from artifact_plane.api.auth import mint_token
from artifact_plane.demo import build_demo
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SECRET = "test-secret-" + "x" * 40
TENANT = "acme"
ALICE = Subject(id="alice", tenant=TENANT, roles=("writer",))
ADMIN = Subject(id="ada", tenant=TENANT, roles=("admin",))
BOB_OTHER_TENANT = Subject(id="bob", tenant="globex", roles=("admin",))
READER = Subject(id="rita", tenant=TENANT, roles=("reader",))
# Only stewards delete artifacts or change their retention.
STEWARD = Subject(id="stu", tenant=TENANT, roles=("steward",))
STARTUP_SECONDS = 20
POLL_SECONDS = 0.02

PlaneHook = Callable[[ArtifactPlane], Any]


def auth(
    subject: Subject, secret: str = SECRET, ttl: timedelta | None = timedelta(minutes=5)
) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, subject, ttl=ttl)}"}


def make_settings(kind: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "policy_dir": REPO / "policies",
        "realms_dir": REPO / "realms",
        "jwt_secret": SecretStr(SECRET),
        "_env_file": None,
    }
    if kind == "memory":
        values.update(registry_url="memory", payloads_url="memory", policy_url="memory")
    values.update(overrides)
    return Settings(**values)


def factory_for(
    settings: Settings, demo: dict[str, Any] | None, hook: PlaneHook | None = None
) -> Callable[[], AbstractAsyncContextManager[ArtifactPlane]]:
    """Open the plane in the server's own event loop; seed it with the demo graph when ``demo`` is given."""

    @asynccontextmanager
    async def factory() -> AsyncIterator[ArtifactPlane]:
        async with open_plane(settings) as plane:
            if demo is not None:
                demo["graph"] = await build_demo(plane, tenant=TENANT)
                demo["plane"] = plane
            if hook is not None:
                hook(plane)
            yield plane

    return factory


def wait_until_healthy(base: str, alive: Callable[[], bool], what: str) -> None:
    """Poll ``/healthz`` until it answers 200, with a deadline."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready (see the log above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base}/healthz did not answer within {STARTUP_SECONDS}s")
        threading.Event().wait(POLL_SECONDS)  # poll interval, bounded by the deadline


@contextmanager
def uvicorn_thread(app: Starlette) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL once /healthz answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, thread.is_alive, "uvicorn")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_process(
    env: dict[str, str], cwd: Path, *, inherit: bool = True
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``artifact-plane serve`` in its own process; yields its base URL and the process.

    ``env`` is added to this process's environment, or replaces it when not ``inherit``.
    """
    port = free_port()
    run_cli = "from artifact_plane.cli.main import app; app(prog_name='artifact-plane')"
    command = [sys.executable, "-c", run_cli, "serve", "--port", str(port)]
    command += ["--log-level", "warning"]
    full_env = {**(os.environ if inherit else {}), "PYTHONPATH": str(REPO / "platform"), **env}
    process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_healthy(base, lambda: process.poll() is None, "artifact-plane serve")
        except RuntimeError:
            _, stderr = process.communicate(timeout=STARTUP_SECONDS)
            raise RuntimeError(f"artifact-plane serve exited: {stderr.decode(errors='replace')}") from None
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@asynccontextmanager
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@asynccontextmanager
async def client_for(app: Starlette, mode: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process (``asgi``) or behind a real uvicorn (``uvicorn``)."""
    if mode == "asgi":
        async with asgi_client(app) as client:
            yield client
    else:
        with uvicorn_thread(app) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                yield client


async def gql(
    client: httpx.AsyncClient, query: str, subject: Subject | None = ADMIN, **variables: Any
) -> dict[str, Any]:
    headers = auth(subject) if subject is not None else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    # GraphQL answers 200, or 401 when a field needed a token it did not get.
    expected = 401 if "UNAUTHENTICATED" in codes(body) else 200
    assert response.status_code == expected, response.text
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


class AsgiWebSocket:
    """A websocket to the ASGI app in process: the ASGI messages, driven by hand."""

    def __init__(self, app: Starlette, path: str, subprotocols: list[str], headers: dict[str, str]) -> None:
        self._app = app
        self._scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "subprotocols": subprotocols,
            "scheme": "ws",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "app": app,
        }
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsgiWebSocket:
        async def send(message: dict[str, Any]) -> None:
            await self._from_app.put(message)

        self._task = asyncio.ensure_future(self._app(self._scope, self._to_app.get, send))  # type: ignore[arg-type]
        await self._to_app.put({"type": "websocket.connect"})
        accepted = await self._next()
        assert accepted["type"] == "websocket.accept", accepted
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout=STARTUP_SECONDS)

    async def _next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self._from_app.get(), timeout=STARTUP_SECONDS)  # a deadline

    async def send_json(self, data: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json(self) -> dict[str, Any]:
        message = await self._next()
        assert message["type"] == "websocket.send", message
        data: dict[str, Any] = json.loads(message["text"])
        return data
