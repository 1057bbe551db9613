"""builtin.sparse_attention: top-k per row softmax weights and the mask of kept entries."""

from __future__ import annotations

from typing import Any

import anyio

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.numeric import sparse_attention


async def run(ctx: OperatorContext) -> dict[str, Any]:
    scores = await ctx.load_array("scores")
    sparsity = float(ctx.params["sparsity"])
    weights, mask = await anyio.to_thread.run_sync(sparse_attention, scores, sparsity)
    base = f"attention/{ctx.params['name']}"
    return {
        "weights": await ctx.write_array(f"{base}/weights.npy", weights, artifact_type="tensor"),
        "mask": await ctx.write_array(f"{base}/mask.npy", mask, artifact_type="mask"),
    }
