"""The API's overhead: ``artifact(id)`` and a depth-3 ``lineage`` over real HTTP vs the plane directly.

Both sides answer the same requests, for the same subject, on the same
embedded plane files, at the same fixed concurrency, taking turns in rounds
so machine noise falls on both:

* ours — a GraphQL POST to ``/graphql`` on uvicorn (in a thread of this
  process), through JWT verification, strawberry, the scoped plane, JSON;
* baseline — the same call on :class:`ScopedPlane` in this event loop
  (``get_meta`` / ``lineage``), what an in-process caller pays.

The ratio is what the front door costs per request. The HTTP client runs on
the same machine and is part of "ours".
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import embedded_settings
from bench.report import Section, millis

ARTIFACT = "query($id: ID!) { artifact(id: $id) { id artifactType realm status sizeBytes sha256 } }"
LINEAGE = """query($id: ID!) { lineage(artifactId: $id, direction: DOWNSTREAM, depth: 3) {
  isPartial nodes { id kind realm } edges { kind sourceId targetId }
} }"""
FANOUT = 3
DEPTH = 3
Call = Callable[[str], Awaitable[Any]]


STARTUP_SECONDS = 20


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on uvicorn in a thread, on a free loopback port; its base URL once /healthz answers."""
    import httpx
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start (see the log above)")
            threading.Event().wait(0.02)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        sock.close()


def percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds, dtype=float)
    return {
        "p50_s": float(np.percentile(values, 50)),
        "p99_s": float(np.percentile(values, 99)),
        "count": float(len(values)),
    }


async def timed(call: Call, ids: list[str], concurrency: int) -> tuple[list[float], float]:
    """Run ``call`` over ``ids`` with ``concurrency`` workers; per-call latencies and wall time."""
    latencies: list[float] = []
    queue = list(reversed(ids))

    async def worker() -> None:
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            await call(item)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def build_graph(me: Any, roots: int) -> list[str]:
    """``roots`` trees: each artifact feeds one execution producing FANOUT artifacts, DEPTH levels deep."""
    starts = []
    for r in range(roots):
        root = await me.create_artifact(f"root {r}", artifact_type="dataset", realm="content")
        starts.append(root)
        level = [root]
        for depth in range(DEPTH):
            following = []
            for index, parent in enumerate(level):
                outputs = [
                    await me.create_artifact(
                        f"{r}/{depth}/{index}/{k}", artifact_type="derived", realm="content"
                    )
                    for k in range(FANOUT)
                ]
                await me.register_lineage(f"run-{r}-{depth}-{index}", inputs=[parent], outputs=outputs)
                following += outputs
            level = following
    return starts


async def run(root: Path, *, requests: int, concurrency: int, roots: int, rounds: int) -> Section:
    import httpx
    from pydantic import SecretStr

    from artifact_plane.api.app import create_app
    from artifact_plane.api.auth import mint_token
    from artifact_plane.models import Subject
    from artifact_plane.plane import open_plane

    secret = "bench-secret-" + "x" * 40
    settings = embedded_settings(root, jwt_secret=SecretStr(secret))
    subject = Subject(id="bench", tenant="acme", roles=("admin",))
    section = Section(f"API: GraphQL over HTTP vs the plane directly ({concurrency} concurrent)")
    headers = {"Authorization": f"Bearer {mint_token(secret, subject)}"}
    async with open_plane(settings) as plane:
        me = plane.for_subject(subject)
        starts = await build_graph(me, roots)
        all_ids = [r.artifact_id for r in (await me.list_artifacts(limit=1000)).items]
        app = create_app(settings)
        with served(app) as base:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

                async def over_http(query: str, node: str) -> None:
                    response = await client.post("/graphql", json={"query": query, "variables": {"id": node}})
                    body = response.json()
                    if response.status_code != 200 or "errors" in body:
                        raise RuntimeError(f"the API answered {response.status_code}: {response.text[:300]}")

                operations: dict[str, tuple[list[str], Call, Call]] = {
                    "artifact(id)": (
                        all_ids,
                        lambda node: over_http(ARTIFACT, node),
                        lambda node: me.get_meta(node),
                    ),
                    f"lineage depth {DEPTH}": (
                        starts,
                        lambda node: over_http(LINEAGE, node),
                        lambda node: me.lineage(node, direction="downstream", depth=DEPTH),
                    ),
                }
                for name, (ids, api_call, plane_call) in operations.items():
                    picks = [ids[i % len(ids)] for i in range(requests)]
                    await api_call(picks[0])  # warm both paths (connections, caches)
                    await plane_call(picks[0])
                    api_lat: list[float] = []
                    plane_lat: list[float] = []
                    api_wall = plane_wall = 0.0
                    per_round = max(1, len(picks) // rounds)
                    for start in range(0, len(picks), per_round):
                        chunk = picks[start : start + per_round]
                        lat, wall = await timed(plane_call, chunk, concurrency)
                        plane_lat += lat
                        plane_wall += wall
                        lat, wall = await timed(api_call, chunk, concurrency)
                        api_lat += lat
                        api_wall += wall
                    ours, base_ = percentiles(api_lat), percentiles(plane_lat)
                    section.add(
                        f"{name}: p50",
                        millis(ours["p50_s"]),
                        f"ScopedPlane: {millis(base_['p50_s'])}",
                        ours["p50_s"] / base_["p50_s"],
                        ratio_note=f"p99 {ours['p99_s'] / base_['p99_s']:.2f}x",
                    )
                    section.add(
                        f"{name}: p99",
                        millis(ours["p99_s"]),
                        f"ScopedPlane: {millis(base_['p99_s'])}",
                        ours["p99_s"] / base_["p99_s"],
                    )
                    section.add(
                        f"{name}: throughput",
                        f"{len(picks) / api_wall:,.0f} req/s",
                        f"ScopedPlane: {len(picks) / plane_wall:,.0f} calls/s",
                        (api_wall / len(picks)) / (plane_wall / len(picks)),
                    )
                    section.data[name] = {
                        "api": {**ours, "wall_s": api_wall},
                        "plane": {**base_, "wall_s": plane_wall},
                        "requests": len(picks),
                        "concurrency": concurrency,
                    }
    section.notes.append(
        f"{roots} lineage trees (fan-out {FANOUT}, {DEPTH} levels, "
        f"{roots * sum(FANOUT**d for d in range(DEPTH + 1))} artifacts); every request decided by Rego "
        "and audited on both sides. The HTTP client shares the machine with the server."
    )
    return section
