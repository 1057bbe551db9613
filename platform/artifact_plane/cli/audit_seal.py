"""``artifact-plane audit seal``: link new decisions into each tenant's hash chain.

Also :func:`with_sealer`, which ``serve`` uses to seal in the background
while the API runs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from artifact_plane.audit import DecisionSealer, chained_log
from artifact_plane.cli._background import Lifespan, Loop, with_background
from artifact_plane.cli._common import JsonOption, emit_json, out, settings_of, with_plane
from artifact_plane.plane import ArtifactPlane

__all__ = ["SEAL_INTERVAL", "seal", "with_sealer"]

SEAL_INTERVAL = 1.0  # seconds between background seals in `serve`


def seal(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Seal this tenant only (default: every tenant).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Entries linked per transaction.")
    ] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Link every unsealed decision into its tenant's hash chain, then print each chain's head."""

    async def work(plane: ArtifactPlane) -> list[dict[str, Any]]:
        log = chained_log(plane)
        tenants = [tenant] if tenant else await log.tenants(unsealed_only=True)
        done: list[dict[str, Any]] = []
        for name in tenants:
            sealed = 0
            while (step := await log.seal(name, limit=batch_size)) > 0:
                sealed += step
                if step < batch_size:
                    break
            head = await log.head(name)
            done.append({"tenant": name, "sealed": sealed, "head": str(head) if head else None})
        return done

    done = with_plane(settings_of(ctx), work)
    if as_json:
        emit_json({"tenants": done})
        return
    console = out()
    if not done:
        console.print("nothing to seal: every decision is already in its chain", markup=False)
    for entry in done:
        console.print(
            f"tenant {entry['tenant']}: sealed {entry['sealed']}; head {entry['head'] or '(empty)'}",
            markup=False,
            soft_wrap=True,
        )


def with_sealer(lifespan: Lifespan) -> Lifespan:
    """Wrap an API lifespan so a :class:`DecisionSealer` runs while the app serves.

    Unsealed entries are safe where they are if it is stopped mid-pass: the
    next start seals them.
    """

    def start(app: Any) -> Loop:
        sealer = DecisionSealer(chained_log(app.state.plane), interval=SEAL_INTERVAL)
        app.state.sealer = sealer
        return sealer.run

    return with_background(lifespan, "decision-sealer", start)
