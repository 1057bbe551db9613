"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (every backend answers)."""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

READY_TIMEOUT_SECONDS = 5.0
log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """Alive: answers without touching any backend."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready: every plane part answered its ping (503 naming the parts that did not)."""
    parts: dict[str, str] = {"plane": f"no answer within {READY_TIMEOUT_SECONDS:g}s"}
    with anyio.move_on_after(READY_TIMEOUT_SECONDS):
        parts = await request.app.state.plane.health()
    ready = all(state == "ok" for state in parts.values())
    for part, state in parts.items():
        if state != "ok":
            log.warning("readiness: %s is not ready: %s", part, state)
    # The probe is public: say which part is down, never why (hosts, paths, messages stay in the log).
    public = {part: "ok" if state == "ok" else "unavailable" for part, state in parts.items()}
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "parts": public}, status_code=200 if ready else 503
    )


def routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
