"""The four realms' handlers, run as one pipeline on the embedded plane; each document is parsed and checked.

The survey (realms/content/analyze/samples/dataset.json) has scores
9 7 | 4 5 6 | 8 3 | 9 for north | south | east | west: mean 51/8 = 6.375,
median (6+7)/2 = 6.5, population variance 35.875/8 = 4.484375; region means
north 8, south 5, east 5.5, west 9. One comment of 24 cells is missing.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from artifact_plane.executions import Executions, SubjectExecutions
from artifact_plane.ids import ID_PATTERN
from artifact_plane.operators import OperatorRegistry
from artifact_plane.operators.docs import markdown_items, markdown_section, markdown_title
from artifact_plane.pipelines import PipelineResult, Step
from tests.plane_fixtures import REPO, open_test_plane
from tests.test_executions import ADA, put_dataset

SVG_NS = "{http://www.w3.org/2000/svg}"
STEPS = [
    Step("content", "analyze", params={"group_by": "region", "name": "survey"}),
    Step("content", "visualize", params={"name": "survey"}),
    Step("insights", "interpret", params={"name": "survey"}),
    Step("insights", "quality_report", params={"name": "survey"}),
    Step("outcomes", "create_roadmap", params={"name": "survey", "quarters": 2}),
    Step("outcomes", "create_poc", params={"name": "survey"}),
    Step("outcomes", "create_solution", params={"name": "survey"}),
    Step("journey", "create_blueprint", params={"name": "survey"}),
    Step("journey", "create_sop", params={"name": "survey"}),
    Step("journey", "create_workflow", params={"name": "survey"}),
]


@dataclass
class Chain:
    runner: SubjectExecutions
    dataset: str
    result: PipelineResult

    async def text(self, step: str, output: str) -> str:
        art_id = self.result.output(step, output)
        assert ID_PATTERN.fullmatch(art_id)
        return (await self.runner.me.get_artifact(art_id, include_payload=True)).text()

    async def json(self, step: str, output: str) -> Any:
        return json.loads(await self.text(step, output))


# One pipeline run serves every test of the module (the tests only read).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chain]:
    async for plane in open_test_plane("embedded", tmp_path_factory.mktemp("realms")):
        dataset = await put_dataset(plane)
        runner = Executions(plane, OperatorRegistry.discover([REPO / "realms"])).for_subject(ADA)
        steps = [Step("content", "analyze", {"dataset": dataset}, STEPS[0].params), *STEPS[1:3]]
        steps += [Step("insights", "quality_report", {"dataset": dataset}, STEPS[3].params), *STEPS[4:]]
        result = await runner.run_pipeline(steps)
        failed = {k: r.execution.error for k, r in result.runs.items() if not r.ok}
        assert result.ok, failed
        yield Chain(runner, dataset, result)


async def test_content_analysis_and_chart(chain: Chain) -> None:
    analysis = await chain.json("analyze", "analysis")
    overall = analysis["overall"]
    assert (overall["count"], overall["mean"], overall["median"], overall["min"], overall["max"]) == (
        8,
        6.375,
        6.5,
        3.0,
        9.0,
    )
    assert overall["std"] == pytest.approx(math.sqrt(4.484375), abs=1e-6)
    assert {g: s["mean"] for g, s in analysis["groups"].items()} == {
        "east": 5.5,
        "north": 8.0,
        "south": 5.0,
        "west": 9.0,
    }
    svg = ET.fromstring(await chain.text("visualize", "chart"))
    assert svg.tag == f"{SVG_NS}svg"
    assert svg.findtext(f"{SVG_NS}title") == "Mean score by region"
    bars = {r.get("data-label"): r for r in svg.iter(f"{SVG_NS}rect")}
    assert {k: float(v.get("data-value", "nan")) for k, v in bars.items()} == {
        "east": 5.5,
        "north": 8.0,
        "south": 5.0,
        "west": 9.0,
    }
    heights = {k: float(v.get("height", "0")) for k, v in bars.items()}
    assert heights["south"] / heights["west"] == pytest.approx(5 / 9, rel=1e-3)
    record = await chain.runner.me.get_meta(chain.result.output("visualize", "chart"))
    assert (record.content_type, record.artifact_type) == ("image/svg+xml", "visualization")


async def test_insights_interpretation_and_quality_report(chain: Chain) -> None:
    interpretation = await chain.text("interpret", "interpretation")
    assert markdown_title(interpretation) == "Interpretation: customer-survey"
    assert markdown_items(interpretation, "Findings") == [
        "south: mean 5 is below target 7",
        "east: mean 5.5 is below target 7",
        "highest: west (9); lowest: south (5)",
    ]
    assert "**6.375**" in interpretation
    quality = await chain.json("quality_report", "quality_report")
    assert quality["missing"] == {"region": 0, "score": 0, "comment": 1}
    assert quality["completeness"] == round(23 / 24, 6)
    assert (quality["duplicate_rows"], quality["verdict"], quality["problems"]) == (0, "usable", [])
    execution = await chain.runner.me.get_execution(chain.result.runs["quality_report"].execution_id)
    assert chain.dataset in execution.inputs


async def test_outcomes_solution_is_built_from_the_roadmap_and_poc_read_back_by_id(chain: Chain) -> None:
    roadmap = await chain.text("create_roadmap", "roadmap")
    assert markdown_items(roadmap, "Phases") == [
        "Q1: Raise score in south to at least 7",
        "Q2: Raise score in east to at least 7",
    ]
    evidence = markdown_items(roadmap, "Evidence")
    assert f"artifact {chain.result.output('visualize', 'chart')} (visualization)" in evidence
    poc = await chain.text("create_poc", "poc")
    assert markdown_section(poc, "Hypothesis") == "Raise score in south to at least 7 within 4 weeks."
    solution = await chain.text("create_solution", "solution")
    assert markdown_title(solution) == "Solution: Meet the satisfaction target everywhere"
    assert markdown_items(solution, "Delivery plan") == markdown_items(roadmap, "Phases")
    assert markdown_section(solution, "Validation").startswith(markdown_section(poc, "Hypothesis"))
    assert markdown_items(solution, "Sources") == [
        f"roadmap {chain.result.output('create_roadmap', 'roadmap')}",
        f"proof of concept {chain.result.output('create_poc', 'poc')}",
    ]
    execution = await chain.runner.me.get_execution(chain.result.runs["create_solution"].execution_id)
    assert {
        chain.result.output("create_roadmap", "roadmap"),
        chain.result.output("create_poc", "poc"),
    } <= set(execution.inputs)


async def test_journey_blueprint_sop_and_workflow(chain: Chain) -> None:
    blueprint = await chain.text("create_blueprint", "blueprint")
    table = [line for line in markdown_section(blueprint, "Stages").splitlines() if line.startswith("| 1")]
    assert table == [
        "| 1 | Raise score in south to at least 7 | customer uses the web app "
        "| team tracks the change | data and support |"
    ]
    sop = await chain.text("create_sop", "sop")
    procedure = markdown_items(sop, "Procedure")
    assert len(procedure) == 6
    assert procedure[:3] == [f"{a}: Raise score in south to at least 7" for a in ("Plan", "Do", "Check")]
    workflow = await chain.json("create_workflow", "workflow")
    assert workflow["start"] == "step-1"
    steps = {s["id"]: s for s in workflow["steps"]}
    walked, at = [], workflow["start"]
    while at is not None:
        walked.append(steps[at]["kind"])
        at = steps[at]["next"]
    assert walked == ["plan", "do", "check"] * 2
    record = await chain.runner.me.get_meta(chain.result.output("create_workflow", "workflow"))
    assert record.uri == "artifact://journey/workflows/survey.json"


async def test_lineage_runs_from_the_raw_dataset_to_the_workflow(chain: Chain) -> None:
    graph = await chain.runner.me.lineage(chain.dataset, direction="downstream", depth=10)
    produced = {value for run in chain.result.runs.values() for value in run.outputs.values()}
    assert produced <= {n.id for n in graph.nodes}
    assert {n.realm for n in graph.nodes if n.realm} == {"content", "insights", "outcomes", "journey"}
    assert not graph.is_partial
