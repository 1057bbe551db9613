"""Builtin numpy operators: kernels against hand-checked results, and handlers with real .npy payloads."""

from __future__ import annotations

import io
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artifact_plane.executions import Executions, SubjectExecutions
from artifact_plane.models import Subject
from artifact_plane.operators import BUILTIN_DIR, NPY, OperatorRegistry
from artifact_plane.operators.numeric import (
    LruMemory,
    pipeline_stages,
    sliding_window_mask,
    sparse_attention,
    tensor_parallel_split,
)
from tests.plane_fixtures import open_test_plane

ADA = Subject(id="ada", tenant="acme", roles=("writer",))

# softmax([3, 2]) = [e / (e + 1), 1 / (e + 1)]
E = math.e
HIGH, LOW = E / (E + 1), 1 / (E + 1)


# --------------------------------------------------------------------- kernels


def test_sparse_attention_keeps_the_top_k_of_each_row() -> None:
    scores = np.array([[1.0, 3.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [5.0, -1.0, 4.0, 4.0]])
    weights, mask = sparse_attention(scores, 0.5)  # 4 columns, half dropped: k = 2
    assert mask.tolist() == [
        [False, True, True, False],
        [True, True, False, False],  # ties keep the lower column
        [True, False, True, False],
    ]
    np.testing.assert_allclose(weights[0], [0.0, HIGH, LOW, 0.0])
    np.testing.assert_allclose(weights[1], [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(weights[2], [HIGH, 0.0, LOW, 0.0])
    np.testing.assert_allclose(weights.sum(axis=1), [1.0, 1.0, 1.0])
    # sparsity 0.7 of 4 columns keeps ceil(1.2) = 2; 0.0 keeps all 4; 0.99 still keeps 1.
    assert sparse_attention(scores, 0.7)[1].sum(axis=1).tolist() == [2, 2, 2]
    assert sparse_attention(scores, 0.0)[1].all()
    np.testing.assert_allclose(sparse_attention(scores, 0.99)[0][0], [0.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("scores", "sparsity", "message"),
    [
        (np.ones(3), 0.5, "2-D"),
        (np.ones((2, 2)), 1.0, r"\[0, 1\)"),
        (np.array([[1.0, np.nan]]), 0.5, "finite"),
    ],
)
def test_sparse_attention_refuses_bad_input(scores: Any, sparsity: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sparse_attention(scores, sparsity)


def test_sliding_window_masks() -> None:
    assert sliding_window_mask(4, 2).astype(int).tolist() == [
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [0, 1, 1, 0],
        [0, 0, 1, 1],
    ]
    assert sliding_window_mask(4, 2, causal=False).astype(int).tolist() == [
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [0, 1, 1, 1],
        [0, 0, 1, 1],
    ]
    assert sliding_window_mask(3, 10).astype(int).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    with pytest.raises(ValueError, match=">= 1"):
        sliding_window_mask(0, 2)


def test_tensor_parallel_split() -> None:
    weight = np.arange(12).reshape(3, 4)
    columns = tensor_parallel_split(weight, 2, 1)
    assert [s.tolist() for s in columns] == [[[0, 1], [4, 5], [8, 9]], [[2, 3], [6, 7], [10, 11]]]
    rows = tensor_parallel_split(weight, 3, 0)
    assert [s.tolist() for s in rows] == [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9, 10, 11]]]
    np.testing.assert_array_equal(np.concatenate(columns, axis=1), weight)
    with pytest.raises(ValueError, match="does not split into 3 equal shards"):
        tensor_parallel_split(weight, 3, 1)
    with pytest.raises(ValueError, match="out of range"):
        tensor_parallel_split(weight, 2, 2)


def test_pipeline_stages_minimise_the_busiest_stage() -> None:
    # Costs 4 2 3 1 5 1 over 3 stages: the best bottleneck is 6 ([4,2] [3,1] [5,1]).
    assert pipeline_stages(np.array([4, 2, 3, 1, 5, 1]), 3).tolist() == [0, 0, 1, 1, 2, 2]
    assert pipeline_stages(np.array([1, 1, 1, 1]), 4).tolist() == [0, 1, 2, 3]
    assert pipeline_stages(np.array([10, 1, 1]), 2).tolist() == [0, 1, 1]
    assert pipeline_stages(np.array([1, 2, 3, 4, 5]), 1).tolist() == [0, 0, 0, 0, 0]
    # 1 1 1 1 10 over 2 stages: everything before the 10 goes together (bottleneck 10).
    assert pipeline_stages(np.array([1, 1, 1, 1, 10]), 2).tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="between 1 and the number of layers"):
        pipeline_stages(np.array([1, 2]), 3)
    with pytest.raises(ValueError, match=">= 0"):
        pipeline_stages(np.array([1, -2]), 1)


def test_lru_memory_evicts_the_least_recently_used() -> None:
    memory = LruMemory(2)
    assert memory.put("a", "id-a") == []
    assert memory.put("b", "id-b") == []
    assert memory.get("a") == "id-a"  # a is now the most recent
    assert memory.put("c", "id-c") == ["b"]
    assert memory.order == ["a", "c"]
    assert memory.get("b") is None
    assert memory.put("a", "id-a2") == []  # an update refreshes, evicts nothing
    assert memory.order == ["c", "a"]
    assert memory.entries == {"c": "id-c", "a": "id-a2"}
    again = LruMemory.from_document(memory.document())
    assert again == memory
    assert again.clear() == ["c", "a"]
    assert again.document() == {"capacity": 2, "order": [], "entries": {}}
    with pytest.raises(ValueError, match="capacity 0"):
        LruMemory(0)


# -------------------------------------------------------- handlers on a plane


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[SubjectExecutions]:
    async for plane in open_test_plane("embedded", tmp_path):
        yield Executions(plane, OperatorRegistry.discover([BUILTIN_DIR])).for_subject(ADA)


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


async def tensor(runner: SubjectExecutions, array: Any) -> str:
    me = runner.plane.for_subject(ADA)
    return await me.create_artifact(npy(array), artifact_type="tensor", content_type=NPY, realm="content")


async def load(runner: SubjectExecutions, artifact_id: object) -> Any:
    assert isinstance(artifact_id, str)
    artifact = await runner.me.get_artifact(artifact_id, include_payload=True)
    if artifact.content_type == NPY:
        return np.load(io.BytesIO(artifact.payload or b""), allow_pickle=False)
    return json.loads(artifact.text())


async def test_sparse_attention_operator_writes_npy_weights(runner: SubjectExecutions) -> None:
    scores = await tensor(runner, [[1.0, 3.0, 2.0, 0.0]])
    result = await runner.run_intent("content", "sparse_attention", {"scores": scores}, {"sparsity": 0.5})
    assert result.ok, result.execution.error
    np.testing.assert_allclose(await load(runner, result.outputs["weights"]), [[0.0, HIGH, LOW, 0.0]])
    assert (await load(runner, result.outputs["mask"])).tolist() == [[False, True, True, False]]
    record = await runner.me.get_meta(result.outputs["weights"])  # type: ignore[arg-type]
    assert record.uri == "artifact://content/attention/attention/weights.npy"


async def test_sliding_window_operator_needs_no_input(runner: SubjectExecutions) -> None:
    result = await runner.run_intent("insights", "sliding_window", {}, {"length": 4, "window": 2})
    assert result.ok, result.execution.error
    mask = await load(runner, result.outputs["mask"])
    assert mask.dtype == np.bool_
    assert mask.astype(int).tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]


async def test_tensor_parallel_operator_returns_one_id_per_shard(runner: SubjectExecutions) -> None:
    weight = await tensor(runner, np.arange(12, dtype=np.float64).reshape(3, 4))
    result = await runner.run_intent(
        "content", "tensor_parallel", {"weight": weight}, {"parts": 2, "axis": 1}
    )
    shards = result.outputs["shards"]
    assert isinstance(shards, list)
    assert len(shards) == 2
    assert (await load(runner, shards[0])).tolist() == [[0, 1], [4, 5], [8, 9]]
    assert (await load(runner, shards[1])).tolist() == [[2, 3], [6, 7], [10, 11]]
    bad = await runner.run_intent("content", "tensor_parallel", {"weight": weight}, {"parts": 3, "axis": 1})
    assert not bad.ok
    assert "does not split into 3 equal shards" in (bad.execution.error or "")


async def test_pipeline_parallel_operator_writes_stages_and_a_plan(runner: SubjectExecutions) -> None:
    costs = await tensor(runner, [4.0, 2.0, 3.0, 1.0, 5.0, 1.0])
    result = await runner.run_intent("content", "pipeline_parallel", {"layer_costs": costs}, {"stages": 3})
    assert (await load(runner, result.outputs["stages"])).tolist() == [0, 0, 1, 1, 2, 2]
    plan = await load(runner, result.outputs["plan"])
    assert plan["bottleneck"] == 6.0
    assert plan["total"] == 16.0
    assert [s["layers"] for s in plan["stages"]] == [[0, 1], [2, 3], [4, 5]]


async def test_lru_memory_operator_chains_its_state_by_id(runner: SubjectExecutions) -> None:
    values = [await tensor(runner, [float(i)] * 3) for i in range(3)]
    params: dict[str, Any] = {"capacity": 2}
    first = await runner.run_intent(
        "content", "lru_memory", {"value": values[0]}, {**params, "op": "put", "key": "a"}
    )
    memory = first.outputs["memory"]
    second = await runner.run_intent(
        "content", "lru_memory", {"memory": memory, "value": values[1]}, {**params, "op": "put", "key": "b"}
    )
    got = await runner.run_intent(
        "content", "lru_memory", {"memory": second.outputs["memory"]}, {**params, "op": "get", "key": "a"}
    )
    result = await load(runner, got.outputs["result"])
    assert result == {"op": "get", "key": "a", "hit": True, "value": values[0]}
    third = await runner.run_intent(
        "content",
        "lru_memory",
        {"memory": got.outputs["memory"], "value": values[2]},
        {"op": "put", "key": "c"},
    )
    assert (await load(runner, third.outputs["result"]))["evicted"] == ["b"]
    state = await load(runner, third.outputs["memory"])
    assert state == {"capacity": 2, "order": ["a", "c"], "entries": {"a": values[0], "c": values[2]}}
    # The memory holds references; the arrays stay in their own artifacts.
    assert (await load(runner, state["entries"]["c"])).tolist() == [2.0, 2.0, 2.0]
    missing_value = await runner.run_intent("content", "lru_memory", {}, {"op": "put", "key": "z"})
    assert not missing_value.ok
    assert "put needs a value input" in (missing_value.execution.error or "")
