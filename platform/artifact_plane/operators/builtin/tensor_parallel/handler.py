"""builtin.tensor_parallel: equal shards of a weight along an axis, one artifact per shard."""

from __future__ import annotations

from typing import Any

import anyio

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.numeric import tensor_parallel_split


async def run(ctx: OperatorContext) -> dict[str, Any]:
    weight = await ctx.load_array("weight")
    parts, axis = int(ctx.params["parts"]), int(ctx.params["axis"])
    shards = await anyio.to_thread.run_sync(tensor_parallel_split, weight, parts, axis)
    base = f"parallel/{ctx.params['name']}/axis{axis}"
    ids = [
        await ctx.write_array(f"{base}/shard-{index}-of-{parts}.npy", shard, artifact_type="tensor")
        for index, shard in enumerate(shards)
    ]
    return {"shards": ids}
