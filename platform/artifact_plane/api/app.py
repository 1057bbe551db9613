"""The ASGI application: the plane opened for the app's lifetime, and its routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from artifact_plane.api import health, metrics
from artifact_plane.api.auth import TokenVerifier, build_verifier
from artifact_plane.api.graphql.schema import build_schema
from artifact_plane.api.graphql.view import PlaneGraphQL
from artifact_plane.api.intents import IntentRunner
from artifact_plane.api.limits import UPLOAD_OVERHEAD, BodySizeLimit
from artifact_plane.api.metrics import ApiMetrics, CountingPolicyEngine
from artifact_plane.api.rest import artifacts as rest_artifacts
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.settings import Settings

PlaneFactory = Callable[[], AbstractAsyncContextManager[ArtifactPlane]]
UPLOAD_PATH = "/api/artifact"


def create_app(
    settings: Settings | None = None,
    *,
    plane_factory: PlaneFactory | None = None,
    jwt_secret: str | None = None,
    verifier: TokenVerifier | None = None,
    intents: IntentRunner | None = None,
) -> Starlette:
    """Build the app; the plane opens at startup and closes at shutdown.

    Args:
        settings: built once by the caller (``AP_*`` environment when omitted).
        plane_factory: opens the plane (default: ``open_plane(settings)``);
            tests pass their own.
        jwt_secret: the HS256 key (default: ``AP_JWT_SECRET`` or the dev
            secret file under ``AP_DATA_DIR``, unless only a JWKS URL is set).
        verifier: checks bearer tokens (default: built from the settings).
        intents: runs ``runIntent``, ``regenerate`` and answers ``staleCauses``
            (default: the operators discovered from the settings: builtin,
            ``AP_REALMS_DIR`` and ``AP_OPERATOR_DIRS``).

    Raises:
        ConfigurationError: no usable way to verify tokens.
        InvalidInputError: an operator manifest is invalid (names the file).
    """
    settings = settings or Settings()
    if intents is None:
        from artifact_plane.intent_runner import PlaneIntentRunner

        intents = PlaneIntentRunner.from_settings(settings)
    factory = plane_factory or (lambda: open_plane(settings))
    app_metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with factory() as plane:
            # Count every policy decision where the plane asks for it.
            plane.authz.engine = CountingPolicyEngine(plane.authz.engine, app_metrics)
            app.state.plane = plane
            yield

    graphql = PlaneGraphQL(
        build_schema(settings),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    def body_limit(scope: Scope) -> int:
        if scope.get("method") == "PUT" and scope.get("path") == UPLOAD_PATH:
            return settings.max_payload_bytes + UPLOAD_OVERHEAD
        return settings.max_request_bytes

    routes = [
        *health.routes(),
        *metrics.routes(),
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *rest_artifacts.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodySizeLimit, limit_for=body_limit)],
    )
    app.state.settings = settings
    app.state.metrics = app_metrics
    app.state.intents = intents
    app.state.verifier = verifier or build_verifier(settings, jwt_secret)
    return app
