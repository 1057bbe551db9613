"""Background work beside the API in ``serve``: the outbox relay, the chain sealer, maintenance.

Each one is a loop ``run(stop)`` started after the app's lifespan opened the
plane (``app.state.plane``) and stopped, given a bounded time to finish its
pass, before the plane closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

STOP_SECONDS = 10.0  # how long a stopping loop may finish its pass


def with_background(
    lifespan: Lifespan, name: str, start: Callable[[Any], Loop | None], *, stop_seconds: float = STOP_SECONDS
) -> Lifespan:
    """Wrap ``lifespan`` so the loop ``start(app)`` returns runs while the app serves (None: no loop).

    On time-out the loop is cancelled; each loop's own docs say why that is safe.
    """

    @asynccontextmanager
    async def wrapped(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            loop = start(app)
            if loop is None:
                yield state
                return
            stop = asyncio.Event()
            task = asyncio.create_task(loop(stop), name=name)
            try:
                yield state
            finally:
                stop.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(task, stop_seconds)

    return wrapped
