"""Subscriptions of the artifacts area: ``artifactStatusChanged(id)``.

Built on the plane's watch capability: :meth:`ArtifactPlane.changed` wakes
the stream at once on a status change made in this process; a backing-off
poll (at most every :data:`MAX_POLL_SECONDS`) sees changes made by other
replicas. The stream starts with the current status and ends when the status
is final (failed, expired), the artifact is deleted (NOT_FOUND), or the
timeout runs out.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import anyio
import strawberry

from artifact_plane.api.graphql.artifacts.types import ArtifactStatusEnum, ArtifactStatusEvent
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.errors import InvalidInputError
from artifact_plane.models import ArtifactRecord, ArtifactStatus

Info = strawberry.Info[ApiContext, None]
FINAL = frozenset({ArtifactStatus.FAILED, ArtifactStatus.EXPIRED})
FIRST_POLL_SECONDS = 0.01
MAX_POLL_SECONDS = 0.5


def _event(record: ArtifactRecord) -> ArtifactStatusEvent:
    return ArtifactStatusEvent(
        artifact_id=strawberry.ID(record.artifact_id),
        status=ArtifactStatusEnum(record.status.value),
        updated_at=record.updated_at,
        final=record.status in FINAL,
    )


async def artifact_status_changed(
    info: Info, id: strawberry.ID, timeout_seconds: float | None = None
) -> AsyncGenerator[ArtifactStatusEvent, None]:
    context = info.context
    limit = context.settings.max_wait_seconds
    timeout = limit if timeout_seconds is None else timeout_seconds
    if not 0 < timeout <= limit:
        raise InvalidInputError(
            "timeoutSeconds", f"{timeout:g} must be above 0 and at most {limit:g} (AP_MAX_WAIT_SECONDS)"
        )
    me = context.scoped()
    record = await me.get_meta(str(id))  # NOT_FOUND / FORBIDDEN before anything streams
    plane, tenant = context.plane, me.tenant
    deadline = time.monotonic() + timeout
    yield _event(record)
    delay = FIRST_POLL_SECONDS
    while record.status not in FINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        changed = plane.changed(tenant, record.artifact_id)
        # Read after taking the event, so a change between the two is never missed.
        latest = await plane.registry.get_artifact(tenant, record.artifact_id)
        if (latest.status, latest.updated_at) == (record.status, record.updated_at):
            with anyio.move_on_after(min(delay, remaining)):
                await changed.wait()
            delay = min(delay * 2, MAX_POLL_SECONDS)
            continue
        record = latest
        delay = FIRST_POLL_SECONDS
        yield _event(record)


@strawberry.type
class ArtifactSubscriptions:
    artifact_status_changed: AsyncGenerator[ArtifactStatusEvent, None] = strawberry.subscription(
        resolver=artifact_status_changed,
        extensions=[authenticated()],
        description="The artifact's status now, then after each change, until it is final, deleted "
        "(NOT_FOUND) or `timeoutSeconds` (default and maximum: AP_MAX_WAIT_SECONDS) pass.",
    )
