"""``artifact-plane lineage relay``: deliver the outbox to the graph store, as its own process.

Also what ``serve`` uses to run the relay beside the API (:func:`with_relay`),
and the ``lineage`` command group: ``lineage ID`` (the tree, as before) and
``lineage relay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from artifact_plane.cli._background import Lifespan, Loop, with_background
from artifact_plane.cli._common import fail, out, run, settings_of
from artifact_plane.plane import open_plane
from artifact_plane.wiring import build_relay

__all__ = ["lineage_app", "relay", "with_relay"]

NOTHING_TO_RELAY = "AP_LINEAGE_URL is 'sql': edges are written with their records; there is no outbox"
STOP_SECONDS = 30.0  # how long a stopping relay may finish the unit it is delivering


def relay(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is pending, then exit.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Entries read per pass.")] = 500,
    idle_seconds: Annotated[
        float, typer.Option("--idle-seconds", min=0.01, help="Poll interval when the outbox is empty.")
    ] = 1.0,
) -> None:
    """Deliver queued lineage edges to the graph store (AP_LINEAGE_URL), in order, until stopped."""
    settings = settings_of(ctx)

    async def main() -> int:
        async with open_plane(settings) as plane:
            relayer = build_relay(plane, batch_size=batch_size, idle_seconds=idle_seconds)
            if relayer is None:
                fail(NOTHING_TO_RELAY, "set AP_LINEAGE_URL to the graph store (arangodb://…, neo4j://…)")
            if once:
                return await relayer.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
                    loop.add_signal_handler(signum, stop.set)
            out().print(f"relaying lineage to {plane.lineage!r} (Ctrl-C stops)", markup=False, soft_wrap=True)
            await relayer.run(stop)
            return relayer.delivered

    delivered = run(main)
    out().print(f"delivered {delivered} outbox entries", markup=False)


def with_relay(lifespan: Lifespan) -> Lifespan:
    """Wrap an API lifespan so the outbox relay runs while the app serves (when there is one).

    A relay cancelled mid-unit leaves its entries undelivered; its lease
    expires on its own and the next relay delivers them again (idempotently).
    """

    def start(app: Any) -> Loop | None:
        relayer = build_relay(app.state.plane)
        return None if relayer is None else relayer.run

    return with_background(lifespan, "lineage-relay", start, stop_seconds=STOP_SECONDS)


class _DefaultToShow(TyperGroup):
    """``lineage ID …`` runs ``lineage show ID …``; ``lineage relay`` is a command of its own."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors click: any Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def lineage_app(show: Callable[..., None]) -> typer.Typer:
    """The ``lineage`` group: ``show`` (the default, so ``lineage ID`` keeps working) and ``relay``."""
    app = typer.Typer(
        cls=_DefaultToShow,
        help="Lineage: `lineage ID` prints the tree around ID; `lineage relay` delivers the outbox.",
        no_args_is_help=True,
    )
    app.command("show")(show)
    app.command("relay")(relay)
    return app
