"""builtin.sliding_window: a boolean (length x length) attention mask as .npy."""

from __future__ import annotations

from typing import Any

import anyio

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.numeric import sliding_window_mask


async def run(ctx: OperatorContext) -> dict[str, Any]:
    length, window, causal = int(ctx.params["length"]), int(ctx.params["window"]), bool(ctx.params["causal"])
    mask = await anyio.to_thread.run_sync(lambda: sliding_window_mask(length, window, causal=causal))
    path = f"attention/{ctx.params['name']}/mask-{length}-{window}{'-causal' if causal else ''}.npy"
    return {"mask": await ctx.write_array(path, mask, artifact_type="mask")}
