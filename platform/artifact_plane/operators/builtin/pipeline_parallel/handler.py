"""builtin.pipeline_parallel: stage per layer (.npy) and a JSON plan of the stages."""

from __future__ import annotations

from typing import Any

import anyio

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.numeric import pipeline_stages


async def run(ctx: OperatorContext) -> dict[str, Any]:
    costs = (await ctx.load_array("layer_costs")).ravel()
    count = int(ctx.params["stages"])
    assignment = await anyio.to_thread.run_sync(pipeline_stages, costs, count)
    stages = [
        {
            "stage": stage,
            "layers": [int(i) for i in (assignment == stage).nonzero()[0]],
            "cost": float(costs[assignment == stage].sum()),
        }
        for stage in range(count)
    ]
    loads = [float(costs[assignment == stage].sum()) for stage in range(count)]
    plan = {"stages": stages, "bottleneck": max(loads), "total": float(costs.sum())}
    base = f"parallel/{ctx.params['name']}/pipeline-{count}"
    return {
        "stages": await ctx.write_array(f"{base}/stages.npy", assignment, artifact_type="tensor"),
        "plan": await ctx.write_json(f"{base}/plan.json", plan, artifact_type="pipeline_plan"),
    }
