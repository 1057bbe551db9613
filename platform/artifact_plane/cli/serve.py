"""``artifact-plane serve``: run the API with uvicorn."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from artifact_plane.api.auth import mint_token, signing_secret
from artifact_plane.cli._background import Lifespan, Loop, with_background
from artifact_plane.cli._common import err, plane_errors, settings_of
from artifact_plane.maintenance import Maintenance
from artifact_plane.models import Subject
from artifact_plane.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

DEV_TOKEN_TTL = timedelta(hours=12)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve /graphql (GraphiQL in a browser), /api, /healthz and /readyz."""
    settings = settings_of(ctx)
    with plane_errors():
        secret = signing_secret(settings) if settings.jwt_secret or not settings.jwt_jwks_url else None
        app = serve_app(settings, secret.value if secret else None)
    console = err()
    shown = f"[{host}]" if ":" in host else host
    console.print(f"GraphiQL: http://{shown}:{port}/graphql", markup=False)
    if secret is None:
        console.print(
            f"tokens: RS256 from the identity provider's keys at {settings.jwt_jwks_url}", markup=False
        )
    elif secret.is_dev:
        # On a laptop one person is everyone: admin (the decision log) and steward (deletes,
        # retention, exporting pii); production tokens come from the identity provider.
        dev = Subject(id="dev", tenant="default", roles=("admin", "steward"))
        console.print(
            f"development secret: {secret.path} (set AP_JWT_SECRET in production). Dev token (tenant "
            f"default, admin + steward, {DEV_TOKEN_TTL.total_seconds() / 3600:g}h); "
            "paste into GraphiQL's headers:",
            markup=False,
            soft_wrap=True,
        )
        token = mint_token(secret.value, dev, ttl=DEV_TOKEN_TTL)
        console.print(f'{{"Authorization": "Bearer {token}"}}', markup=False, soft_wrap=True)
    else:
        console.print("tokens: signed with AP_JWT_SECRET (`artifact-plane token` mints one)", markup=False)
    # The ASGI server loads only for this command, keeping the other commands quick to start.
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)


def serve_app(settings: Settings, jwt_secret: str | None) -> Starlette:
    """The API with what runs beside it: the outbox relay (if any), the chain sealer, maintenance."""
    from artifact_plane.api.app import create_app
    from artifact_plane.cli.audit_seal import with_sealer
    from artifact_plane.cli.lineage_relay import with_relay

    app = create_app(settings, jwt_secret=jwt_secret)
    app.router.lifespan_context = with_relay(app.router.lifespan_context)
    app.router.lifespan_context = with_sealer(app.router.lifespan_context)
    app.router.lifespan_context = with_maintenance(app.router.lifespan_context, settings)
    return app


def with_maintenance(lifespan: Lifespan, settings: Settings) -> Lifespan:
    """Run the plane's TTL and abandoned-execution sweeps while the app serves.

    A sweep stopped mid-pass is safe: each batch is its own transaction.
    """

    def start(app: Any) -> Loop:
        maintenance = Maintenance(app.state.plane, interval=settings.maintenance_interval_seconds)
        app.state.maintenance = maintenance
        return maintenance.run

    return with_background(lifespan, "maintenance", start)
