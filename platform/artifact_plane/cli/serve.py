"""``artifact-plane serve``: run the API with uvicorn."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from artifact_plane.api.auth import mint_token, signing_secret
from artifact_plane.cli._common import err, plane_errors, settings_of
from artifact_plane.models import Subject

DEV_TOKEN_TTL = timedelta(hours=12)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve /graphql (GraphiQL in a browser), /api, /healthz and /readyz."""
    # The ASGI stack loads only for this command, keeping the other commands quick to start.
    import uvicorn

    from artifact_plane.api.app import create_app
    from artifact_plane.cli.audit_seal import with_sealer
    from artifact_plane.cli.lineage_relay import with_relay

    settings = settings_of(ctx)
    with plane_errors():
        secret = signing_secret(settings) if settings.jwt_secret or not settings.jwt_jwks_url else None
        app = create_app(settings, jwt_secret=secret.value if secret else None)
    app.router.lifespan_context = with_relay(app.router.lifespan_context)  # the outbox relay, if any
    app.router.lifespan_context = with_sealer(app.router.lifespan_context)  # the decision chain's sealer
    console = err()
    shown = f"[{host}]" if ":" in host else host
    console.print(f"GraphiQL: http://{shown}:{port}/graphql", markup=False)
    if secret is None:
        console.print(
            f"tokens: RS256 from the identity provider's keys at {settings.jwt_jwks_url}", markup=False
        )
    elif secret.is_dev:
        dev = Subject(id="dev", tenant="default", roles=("admin",))
        console.print(
            f"development secret: {secret.path} (set AP_JWT_SECRET in production). Dev token (tenant "
            f"default, admin, {DEV_TOKEN_TTL.total_seconds() / 3600:g}h); paste into GraphiQL's headers:",
            markup=False,
            soft_wrap=True,
        )
        token = mint_token(secret.value, dev, ttl=DEV_TOKEN_TTL)
        console.print(f'{{"Authorization": "Bearer {token}"}}', markup=False, soft_wrap=True)
    else:
        console.print("tokens: signed with AP_JWT_SECRET (`artifact-plane token` mints one)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
