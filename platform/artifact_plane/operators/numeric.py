"""The numpy kernels behind the builtin operators (pure functions, no I/O).

Each raises ``ValueError`` with a sentence saying what to change; the
handlers in ``operators/builtin/`` read and write ``.npy`` payloads around
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "LruMemory",
    "pipeline_stages",
    "sliding_window_mask",
    "sparse_attention",
    "tensor_parallel_split",
]

FloatArray = npt.NDArray[np.float64]


def sparse_attention(scores: npt.NDArray[Any], sparsity: float) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Keep the top-k scores of each row and softmax over them; the rest get weight 0.

    ``k = max(1, ceil((1 - sparsity) * columns))``. Ties keep the lower
    column index. Returns ``(weights, mask)``; each row of ``weights`` sums to 1.
    """
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"scores must be a 2-D (queries x keys) array, got shape {matrix.shape}")
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity {sparsity} must be in [0, 1): the share of each row to drop")
    if not np.isfinite(matrix).all():
        raise ValueError("scores must be finite numbers")
    columns = matrix.shape[1]
    k = max(1, math.ceil((1 - sparsity) * columns - 1e-9))
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    mask = np.zeros(matrix.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    kept = np.where(mask, matrix, -np.inf)
    shifted = np.exp(kept - kept.max(axis=1, keepdims=True))
    weights: FloatArray = shifted / shifted.sum(axis=1, keepdims=True)
    return weights, mask


def sliding_window_mask(length: int, window: int, *, causal: bool = True) -> npt.NDArray[np.bool_]:
    """``mask[i, j]`` is True when query ``i`` may attend key ``j``.

    Causal: ``i - window < j <= i`` (the last ``window`` positions, itself
    included). Otherwise: ``|i - j| < window``.
    """
    if length < 1 or window < 1:
        raise ValueError(f"length ({length}) and window ({window}) must be >= 1")
    i = np.arange(length)[:, None]
    j = np.arange(length)[None, :]
    if causal:
        return (j <= i) & (j > i - window)
    mask: npt.NDArray[np.bool_] = np.abs(i - j) < window
    return mask


def tensor_parallel_split(weight: npt.NDArray[Any], parts: int, axis: int) -> list[npt.NDArray[Any]]:
    """Split a weight matrix into ``parts`` equal shards along ``axis`` (column- or row-parallel)."""
    array = np.asarray(weight)
    if array.ndim < 1:
        raise ValueError("the weight must have at least one dimension")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"axis {axis} is out of range for shape {array.shape}")
    if parts < 1 or array.shape[axis] % parts:
        size = array.shape[axis]
        raise ValueError(f"dimension {size} (axis {axis}) does not split into {parts} equal shards")
    return [np.ascontiguousarray(shard) for shard in np.split(array, parts, axis=axis)]


def _fits(costs: list[float], stages: int, bound: float) -> bool:
    used, load = 1, 0.0
    for cost in costs:
        if cost > bound:
            return False
        if load + cost > bound:
            used, load = used + 1, cost
        else:
            load += cost
    return used <= stages


def pipeline_stages(layer_costs: npt.NDArray[Any], stages: int) -> npt.NDArray[np.int64]:
    """Assign consecutive layers to ``stages`` pipeline stages, minimising the busiest stage's cost.

    Returns the stage index of each layer. Among optimal splits the one that
    fills earlier stages first is chosen; every stage gets at least one layer.
    """
    costs = [float(c) for c in np.asarray(layer_costs, dtype=np.float64).ravel()]
    if not costs or min(costs) < 0 or not all(math.isfinite(c) for c in costs):
        raise ValueError("layer costs must be a non-empty list of finite numbers >= 0")
    if not 1 <= stages <= len(costs):
        raise ValueError(f"stages ({stages}) must be between 1 and the number of layers ({len(costs)})")
    prefix = [0.0, *accumulate(costs)]
    # The optimum is one of the contiguous sums: binary search the smallest that fits.
    count = len(costs)
    candidates = sorted({prefix[b] - prefix[a] for a in range(count) for b in range(a + 1, count + 1)})
    low, high = 0, len(candidates) - 1
    while low < high:
        middle = (low + high) // 2
        if _fits(costs, stages, candidates[middle]):
            high = middle
        else:
            low = middle + 1
    bound = candidates[low]
    assignment = np.zeros(len(costs), dtype=np.int64)
    stage, load = 0, 0.0
    for index, cost in enumerate(costs):
        layers_left = len(costs) - index
        stages_left = stages - stage - 1
        if index > 0 and (load + cost > bound or layers_left == stages_left):
            stage, load = stage + 1, 0.0
        assignment[index] = stage
        load += cost
    return assignment


@dataclass
class LruMemory:
    """A least-recently-used map of keys to artifact IDs (``order``: oldest first)."""

    capacity: int
    order: list[str] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity {self.capacity} must be >= 1")

    def get(self, key: str) -> str | None:
        """The value of ``key`` (now the most recent), None on a miss."""
        if key not in self.entries:
            return None
        self.order.remove(key)
        self.order.append(key)
        return self.entries[key]

    def put(self, key: str, value: str) -> list[str]:
        """Store ``key`` as the most recent; return the keys evicted to make room."""
        if key in self.entries:
            self.order.remove(key)
        self.entries[key] = value
        self.order.append(key)
        evicted = []
        while len(self.order) > self.capacity:
            oldest = self.order.pop(0)
            del self.entries[oldest]
            evicted.append(oldest)
        return evicted

    def clear(self) -> list[str]:
        removed, self.order, self.entries = self.order, [], {}
        return removed

    def document(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "order": list(self.order), "entries": dict(self.entries)}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> LruMemory:
        order = [str(k) for k in document.get("order", [])]
        entries = {str(k): str(v) for k, v in document.get("entries", {}).items()}
        if set(order) != set(entries):
            raise ValueError("a memory document's order and entries must name the same keys")
        return cls(int(document["capacity"]), order, entries)
