"""A seeded, layered lineage DAG: artifact layers and execution layers alternating.

Each execution consumes a few artifacts of the previous artifact layer and
produces a few of the next one, so every artifact past the first layer has
exactly one producer. Fan-in and fan-out are heavy-tailed (most executions
read 1-3 inputs; a few aggregate dozens), inputs are mostly drawn near the
execution's own position in the layer (pipelines have locality) and a few
from a small set of popular "hub" artifacts, which is what lets deep
downstream walks fan out widely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 20240611
MEAN_IN = 2.5 + 0.02 * 30  # geometric(0.4) plus 2 % aggregators of ~30 inputs
MEAN_OUT = 2.0  # geometric(0.5)
HUB_SHARE = 0.03  # share of inputs drawn from hubs
HUB_FRACTION = 0.002  # share of a layer's artifacts that are hubs


@dataclass
class LayeredDag:
    """Edges as parallel arrays of node indexes, plus what each index is."""

    artifact_ids: list[str]
    execution_ids: list[str]
    layer_of_artifact: np.ndarray  # artifact index -> artifact layer
    consumed: np.ndarray  # rows (artifact, execution): artifact -CONSUMED_BY-> execution
    produced: np.ndarray  # rows (execution, artifact): execution -PRODUCED-> artifact
    layers: int
    width: int

    @property
    def edge_count(self) -> int:
        return len(self.consumed) + len(self.produced)

    def named_edges(self) -> list[tuple[str, str, str]]:
        """``(kind, source_id, target_id)`` for every edge, executions' inputs first."""
        art, exe = self.artifact_ids, self.execution_ids
        edges = [("CONSUMED_BY", art[a], exe[x]) for a, x in self.consumed.tolist()]
        edges += [("PRODUCED", exe[x], art[a]) for x, a in self.produced.tolist()]
        return edges

    def start_candidates(self, depth: int) -> np.ndarray:
        """Artifacts that are consumed and have ``depth`` artifact layers below them."""
        used = np.zeros(len(self.artifact_ids), dtype=bool)
        used[self.consumed[:, 0]] = True
        shallow = self.layer_of_artifact <= self.layers - 1 - depth
        return np.flatnonzero(used & shallow)


def _hex_ids(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct 32-hex-digit IDs, shaped like content-addressed artifact IDs."""
    words = rng.integers(0, 2**63, size=(count, 2), dtype=np.int64)
    return [f"{hi:016x}{lo:016x}" for hi, lo in words.tolist()]


def width_for(edges: int, layers: int) -> int:
    """Artifacts per layer that give about ``edges`` edges over ``layers`` artifact layers."""
    per_execution = MEAN_IN + MEAN_OUT
    return max(16, round(edges * MEAN_OUT / ((layers - 1) * per_execution)))


def generate(edges: int = 1_000_000, *, layers: int = 21, seed: int = SEED) -> LayeredDag:
    """About ``edges`` edges over ``layers`` artifact layers (depth 10 needs at least 11)."""
    rng = np.random.default_rng(seed)
    width = width_for(edges, layers)
    sigma = max(4.0, width * 0.004)
    hubs = max(1, round(width * HUB_FRACTION))
    consumed: list[np.ndarray] = []
    produced: list[np.ndarray] = []
    layer_start = 0  # index of the first artifact of the previous layer
    next_execution = 0
    for layer in range(1, layers):
        # Fan-out: split the next layer into consecutive runs, one execution each.
        outs = np.minimum(rng.geometric(0.5, size=width), 8)
        count = int(np.searchsorted(np.cumsum(outs), width)) + 1
        outs = outs[:count]
        outs[-1] -= int(outs.sum()) - width
        executions = next_execution + np.arange(count)
        first_output = layer * width
        produced.append(np.column_stack([np.repeat(executions, outs), first_output + np.arange(width)]))
        # Fan-in: mostly near the execution's own position, sometimes a hub.
        fan_in = np.minimum(rng.geometric(0.4, size=count), 12)
        aggregators = rng.random(count) < 0.02
        fan_in[aggregators] = rng.integers(10, 50, size=int(aggregators.sum()))
        centres = np.cumsum(outs) - outs / 2
        near = np.rint(np.repeat(centres, fan_in) + rng.normal(0.0, sigma, size=int(fan_in.sum())))
        readers = np.repeat(executions, fan_in)
        inputs = layer_start + near.astype(np.int64) % width
        hub_readers = executions[rng.random(count) < HUB_SHARE * fan_in]
        hub_set = layer_start + rng.choice(width, size=hubs, replace=False)
        hub_inputs = hub_set[rng.integers(hubs, size=len(hub_readers))]
        pairs = np.column_stack(
            [np.concatenate([inputs, hub_inputs]), np.concatenate([readers, hub_readers])]
        )
        consumed.append(np.unique(pairs, axis=0))
        layer_start = first_output
        next_execution += count
    artifacts = layers * width
    return LayeredDag(
        artifact_ids=_hex_ids(rng, artifacts),
        execution_ids=[f"exec-{n:08d}" for n in range(next_execution)],
        layer_of_artifact=np.arange(artifacts) // width,
        consumed=np.concatenate(consumed),
        produced=np.concatenate(produced),
        layers=layers,
        width=width,
    )
