"""The ASGI application: the plane opened for the app's lifetime, and its routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from artifact_plane.api import health
from artifact_plane.api.auth import signing_secret
from artifact_plane.api.graphql.schema import build_schema
from artifact_plane.api.graphql.view import PlaneGraphQL
from artifact_plane.api.rest import artifacts as rest_artifacts
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.settings import Settings

PlaneFactory = Callable[[], AbstractAsyncContextManager[ArtifactPlane]]


def create_app(
    settings: Settings | None = None,
    *,
    plane_factory: PlaneFactory | None = None,
    jwt_secret: str | None = None,
) -> Starlette:
    """Build the app; the plane opens at startup and closes at shutdown.

    Args:
        settings: built once by the caller (``AP_*`` environment when omitted).
        plane_factory: opens the plane (default: ``open_plane(settings)``);
            tests pass their own.
        jwt_secret: the HS256 key (default: ``AP_JWT_SECRET`` or the dev
            secret file under ``AP_DATA_DIR``).

    Raises:
        ConfigurationError: no usable JWT secret.
    """
    settings = settings or Settings()
    factory = plane_factory or (lambda: open_plane(settings))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with factory() as plane:
            app.state.plane = plane
            yield

    routes = [
        *health.routes(),
        Route("/graphql", PlaneGraphQL(build_schema(), subscription_protocols=())),
        *rest_artifacts.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.jwt_secret = jwt_secret or signing_secret(settings).value
    return app
