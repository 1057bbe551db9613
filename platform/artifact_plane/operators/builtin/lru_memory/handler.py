"""builtin.lru_memory: get/put/clear on an LRU memory whose values are .npy artifacts (by ID)."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.numeric import LruMemory


async def run(ctx: OperatorContext) -> dict[str, Any]:
    op, key = ctx.params["op"], ctx.params["key"]
    if "memory" in ctx.inputs:
        memory = LruMemory.from_document(await ctx.load_json("memory"))
    else:
        memory = LruMemory(int(ctx.params["capacity"]))
    result: dict[str, Any] = {"op": op, "key": key}
    if op == "put":
        if "value" not in ctx.inputs:
            raise ValueError("put needs a value input (a .npy tensor artifact)")
        value_id = ctx.inputs["value"].artifact_id
        result.update(value=value_id, evicted=memory.put(key, value_id))
    elif op == "get":
        found = memory.get(key)
        result.update(hit=found is not None, value=found)
    else:
        result.update(evicted=memory.clear())
    base = f"memory/{ctx.params['name']}"
    return {
        "memory": await ctx.write_json(f"{base}/state.json", memory.document(), artifact_type="lru_memory"),
        "result": await ctx.write_json(f"{base}/last-{op}.json", result, artifact_type="lru_result"),
    }
