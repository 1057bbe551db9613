"""Classification tags (pii, …) propagate downstream along lineage, on every registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from artifact_plane.errors import ConfigurationError, NotFoundError
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import ALICE, BOB_OTHER_TENANT, open_test_plane


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(request.param, tmp_path, request=request):
        yield built


async def inherited(plane: ArtifactPlane, artifact_id: str, subject: Subject = ALICE) -> tuple[str, ...]:
    return (await plane.registry.get_artifact(subject.tenant, artifact_id)).inherited_tags


async def test_an_output_inherits_the_classification_of_its_inputs_only(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    raw = await me.create_artifact(b"names and emails", artifact_type="dataset", tags=["pii", "q3"])
    plain = await me.create_artifact(b"a lookup table", artifact_type="dataset", tags=["lookup"])
    report = await me.create_artifact(
        b"counts", artifact_type="report", execution_id="exec-1", inputs=[raw, plain], tags=["weekly"]
    )
    record = await plane.registry.get_artifact("acme", report)
    assert record.inherited_tags == ("pii",)  # q3 and lookup are not classification tags
    assert record.tags == ("weekly",)  # own tags are kept apart
    assert await inherited(plane, raw) == ()  # upstream is never touched
    unrelated = await me.create_artifact(
        b"other", artifact_type="report", execution_id="exec-2", inputs=[plain]
    )
    assert await inherited(plane, unrelated) == ()


async def test_classification_travels_any_number_of_hops(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    raw = await me.create_artifact(b"patients", artifact_type="dataset", tags=["phi"])
    step1 = await me.create_artifact(b"cleaned", artifact_type="dataset", execution_id="e1", inputs=[raw])
    step2 = await me.create_artifact(b"model", artifact_type="model", execution_id="e2", inputs=[step1])
    named = await me.write(
        "artifact://insights/reports/risk.json",
        b"{}",
        artifact_type="report",
        execution_id="e3",
        inputs=[step2],
    )
    for art_id in (step1, step2, named):
        assert await inherited(plane, art_id) == ("phi",)


async def test_lineage_registered_later_reclassifies_everything_downstream(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    middle = await me.create_artifact(b"aggregate", artifact_type="dataset")
    below = await me.create_artifact(b"chart", artifact_type="report", execution_id="draw", inputs=[middle])
    further = await me.create_artifact(b"deck", artifact_type="report", execution_id="deck", inputs=[below])
    assert await inherited(plane, further) == ()
    source = await me.create_artifact(b"customer rows", artifact_type="dataset", tags=["pii"])
    await me.register_lineage("ingest", inputs=[source], outputs=[middle])
    for art_id in (middle, below, further):
        assert await inherited(plane, art_id) == ("pii",)
    # The tag filter finds inherited classification too.
    page = await me.list_artifacts(tags=["pii"])
    assert {r.artifact_id for r in page.items} == {source, middle, below, further}


async def test_outputs_of_an_execution_inherit_what_it_consumed_before(plane: ArtifactPlane) -> None:
    # What run_intent does: record the consumption first, create the outputs later.
    me = plane.for_subject(ALICE)
    source = await me.create_artifact(b"card numbers", artifact_type="dataset", tags=["pci"])
    await me.register_lineage("job", inputs=[source])
    output = await me.create_artifact(b"summary", artifact_type="report", execution_id="job")
    assert await inherited(plane, output) == ("pci",)


async def test_a_new_input_reclassifies_the_executions_earlier_outputs(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    plain = await me.create_artifact(b"public", artifact_type="dataset")
    first = await me.create_artifact(b"first", artifact_type="report", execution_id="job", inputs=[plain])
    after_first = await me.create_artifact(
        b"after", artifact_type="report", execution_id="next", inputs=[first]
    )
    secret = await me.create_artifact(b"private", artifact_type="dataset", tags=["confidential"])
    second = await me.create_artifact(b"second", artifact_type="report", execution_id="job", inputs=[secret])
    # `first` is now an output of an execution that consumed `secret`, and so is what came of it.
    for art_id in (second, first, after_first):
        assert await inherited(plane, art_id) == ("confidential",)


async def test_a_content_addressed_recreate_with_new_lineage_reclassifies(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    derived = await me.create_artifact(b"the same bytes", artifact_type="report")
    below = await me.create_artifact(b"below", artifact_type="report", execution_id="use", inputs=[derived])
    source = await me.create_artifact(b"source", artifact_type="dataset", tags=["pii"])
    again = await me.create_artifact(
        b"the same bytes", artifact_type="report", execution_id="make", inputs=[source]
    )
    assert again == derived
    assert await inherited(plane, derived) == ("pii",)
    assert await inherited(plane, below) == ("pii",)


async def test_a_batch_shares_the_classification_of_its_executions_inputs(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    source = await me.create_artifact(b"source", artifact_type="dataset", tags=["pii"])
    plain = await me.create_artifact(b"plain", artifact_type="dataset")
    ids = await me.create_many(
        [
            {"data": b"one", "artifact_type": "report", "execution_id": "batch", "inputs": [source]},
            {"data": b"two", "artifact_type": "report", "execution_id": "batch"},
            {"data": b"three", "artifact_type": "report", "execution_id": "other", "inputs": [plain]},
        ]
    )
    assert [await inherited(plane, i) for i in ids] == [("pii",), ("pii",), ()]


async def test_another_tenant_is_never_reclassified(plane: ArtifactPlane) -> None:
    ours, theirs = plane.for_subject(ALICE), plane.for_subject(BOB_OTHER_TENANT)
    their_copy = await theirs.create_artifact(b"shared bytes", artifact_type="report")
    await theirs.create_artifact(b"below", artifact_type="report", execution_id="use", inputs=[their_copy])
    source = await ours.create_artifact(b"source", artifact_type="dataset", tags=["pii"])
    mine = await ours.create_artifact(
        b"shared bytes", artifact_type="report", execution_id="make", inputs=[source]
    )
    assert mine == their_copy  # the same content-addressed ID in both tenants
    await ours.register_lineage("make-again", inputs=[source], outputs=[mine])
    assert await inherited(plane, mine) == ("pii",)
    assert await inherited(plane, their_copy, BOB_OTHER_TENANT) == ()
    # Another tenant's artifact is not an input here at all.
    with pytest.raises(NotFoundError):
        await ours.register_lineage("x", inputs=[(await theirs.create_artifact(b"z", artifact_type="d"))])


async def test_no_classification_tags_means_nothing_propagates(tmp_path: Path) -> None:
    async for plane in open_test_plane("embedded", tmp_path, classification_tags=[]):
        me = plane.for_subject(ALICE)
        source = await me.create_artifact(b"source", artifact_type="dataset", tags=["pii"])
        output = await me.create_artifact(b"out", artifact_type="report", execution_id="e", inputs=[source])
        assert await inherited(plane, output) == ()


async def test_a_bad_classification_tag_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AP_CLASSIFICATION_TAGS"):
        async for _ in open_test_plane("memory", tmp_path, classification_tags=["no spaces"]):
            pass
