"""What the decision log keeps of a policy input: masked paths, JSON every store returns, a size cap.

Unit tests of :mod:`artifact_plane.masking`, the settings that configure it,
and end to end: a decision whose input holds a masked field reads ``***`` in
``policyDecisions`` and in the raw row, on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from artifact_plane.adapters.memory.decisions import MemoryDecisionLog
from artifact_plane.adapters.memory.policy import MemoryPolicyEngine
from artifact_plane.api.app import create_app
from artifact_plane.authz import Authorizer
from artifact_plane.errors import ConfigurationError, PolicyDeniedError
from artifact_plane.masking import (
    DEFAULT_MASK_PATHS,
    MASK,
    InputMask,
    canonical_json,
    parse_mask_paths,
)
from artifact_plane.models import DecisionFilter, PolicyInput, Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.settings import Settings
from artifact_plane.wiring import build_plane
from tests.api_server import asgi_client, gql, make_settings
from tests.plane_fixtures import ALICE, open_test_plane

SSN = "123-45-6789"
TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.secret-token"


def doc(**resource: Any) -> dict[str, Any]:
    return {
        "subject": {"id": "alice", "tenant": "acme", "roles": ["writer"], "realm": "insights"},
        "action": "create",
        "resource": {"tenant_id": "acme", "artifact_type": "report", **resource},
        "context": {"authorization": TOKEN, "request_id": "r-1"},
    }


# -- paths ------------------------------------------------------------------------


def test_the_defaults_mask_credentials_in_context_and_keep_the_key() -> None:
    masked = InputMask().apply(doc(metadata={"password": "hunter2", "team": "blue"}))
    assert masked["context"] == {"authorization": MASK, "request_id": "r-1"}
    assert masked["resource"]["metadata"] == {"password": MASK, "team": "blue"}
    assert masked["subject"]["id"] == "alice"  # who acted is the point of the log
    assert InputMask().paths == DEFAULT_MASK_PATHS


def test_a_configured_path_masks_that_field_only() -> None:
    mask = InputMask(["/resource/metadata/ssn"])
    masked = mask.apply(doc(metadata={"ssn": SSN, "ssn_last4": "6789"}))
    assert masked["resource"]["metadata"] == {"ssn": MASK, "ssn_last4": "6789"}
    assert masked["context"]["authorization"] == TOKEN  # the list replaces the defaults


def test_a_masked_container_is_replaced_whole() -> None:
    masked = InputMask(["/resource/metadata"]).apply(doc(metadata={"a": {"b": [1, 2]}}))
    assert masked["resource"]["metadata"] == MASK
    assert InputMask(["/context"]).apply(doc())["context"] == MASK


def test_a_wildcard_matches_any_one_key_or_list_item() -> None:
    mask = InputMask(["/resource/metadata/*/token", "/resource/owners/*/email"])
    masked = mask.apply(
        doc(
            metadata={"github": {"token": "t1", "user": "a"}, "gcs": {"token": "t2"}, "token": "top"},
            owners=[{"email": "a@x", "name": "A"}, {"name": "B"}],
        )
    )
    assert masked["resource"]["metadata"] == {
        "github": {"token": MASK, "user": "a"},
        "gcs": {"token": MASK},
        "token": "top",  # one segment: the wildcard does not match zero keys
    }
    assert masked["resource"]["owners"] == [{"email": MASK, "name": "A"}, {"name": "B"}]


def test_a_wildcard_and_an_exact_path_both_apply() -> None:
    mask = InputMask(["/resource/metadata/*/token", "/resource/metadata/github/user"])
    masked = mask.apply(doc(metadata={"github": {"token": "t", "user": "u", "org": "o"}}))
    assert masked["resource"]["metadata"]["github"] == {"token": MASK, "user": MASK, "org": "o"}
    top = InputMask(["/*/token"]).apply({**doc(), "context": {"token": "c"}, "subject": {"token": "s"}})
    assert (top["context"]["token"], top["subject"]["token"]) == (MASK, MASK)


def test_a_list_item_by_index() -> None:
    masked = InputMask(["/resource/tags/1"]).apply(doc(tags=["a", "b", "c"]))
    assert masked["resource"]["tags"] == ["a", MASK, "c"]


def test_missing_paths_mask_nothing_and_add_nothing() -> None:
    original = doc(metadata={"team": "blue"})
    mask = InputMask(["/resource/metadata/ssn", "/context/headers/authorization", "/resource/tags/5"])
    masked = mask.apply({**original, "resource": {**original["resource"], "tags": ["a"]}})
    assert masked["resource"]["metadata"] == {"team": "blue"}
    assert "headers" not in masked["context"]
    assert masked["resource"]["tags"] == ["a"]
    # A path through a value that is not an object or a list stops there.
    assert InputMask(["/resource/artifact_type/x"]).apply(original)["resource"]["artifact_type"] == "report"


def test_escapes_and_the_opa_input_prefix() -> None:
    mask = InputMask(["/input/resource/metadata/a~1b", "/resource/metadata/c~0d"])
    masked = mask.apply(doc(metadata={"a/b": 1, "c~d": 2, "a": {"b": 3}}))
    assert masked["resource"]["metadata"] == {"a/b": MASK, "c~d": MASK, "a": {"b": 3}}


def test_the_original_document_is_left_unchanged() -> None:
    original = doc(metadata={"ssn": SSN})
    snapshot = json.loads(json.dumps(original))
    InputMask(["/resource/metadata/ssn"]).apply(original)
    assert original == snapshot


def test_documents_of_a_batch_equal_each_policy_input_masked_alone() -> None:
    subject = Subject(id="alice", tenant="acme", roles=("writer",), realm="insights")
    resources = [{"artifact_id": f"a{i}", "metadata": {"ssn": SSN, "i": i}} for i in range(3)]
    context = {"authorization": TOKEN}
    mask = InputMask(["/resource/metadata/ssn", "/context/authorization", "/subject/roles"])
    batch = mask.documents(subject, "read", resources, context)
    alone = [
        mask.apply(PolicyInput(subject=subject, action="read", resource=r, context=context).document())
        for r in resources
    ]
    assert batch == alone
    assert batch[2]["resource"]["metadata"] == {"ssn": MASK, "i": 2}
    assert batch[0]["subject"]["roles"] == MASK


# -- configuration ------------------------------------------------------------------


def test_the_setting_is_a_json_list_or_comma_separated() -> None:
    assert parse_mask_paths(None) == DEFAULT_MASK_PATHS
    listed = ("/context/a", "/resource/metadata/*")
    assert parse_mask_paths(json.dumps(listed)) == listed
    assert parse_mask_paths(" /context/a , /context/b,/context/a ") == ("/context/a", "/context/b")
    assert parse_mask_paths("[]") == ()
    assert InputMask(parse_mask_paths("[]")).apply(doc())["context"]["authorization"] == TOKEN


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "unset it for the default list"),
        ("   ", "unset it for the default list"),
        ("context/token", "is not a path"),
        ("/context//token", "empty segment"),
        ("/context/token/", "empty segment"),
        ("/", "empty segment"),
        ("/input", "masks the whole input"),
        ("/context/a~2b", "'~' must be written ~0"),
        ("/contxt/token", "the input has only subject, action, resource, context"),
        ("/context/a,nope", "is not a path"),
        ('["/context/a"', "is not a JSON list"),
        ('[1, "/context/a"]', "JSON list of strings"),
    ],
)
def test_bad_paths_are_a_configuration_error_naming_the_setting(value: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_mask_paths(value)
    assert err.value.setting == "AP_POLICY_MASK"
    assert says in str(err.value)


def test_a_bad_setting_stops_the_plane_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AP_POLICY_MASK", "/context/token,/contxt/password")
    settings = Settings(data_dir=tmp_path, registry_url="memory", policy_url="memory", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError) as err:
        build_plane(settings)
    assert err.value.setting == "AP_POLICY_MASK"
    assert "'/contxt/password'" in str(err.value)


def test_the_setting_reaches_the_plane_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AP_POLICY_MASK", '["/resource/metadata/ssn"]')
    monkeypatch.setenv("AP_POLICY_LOG_INPUT_MAX_BYTES", "2048")
    settings = Settings(data_dir=tmp_path, registry_url="memory", policy_url="memory", _env_file=None)  # type: ignore[call-arg]
    plane = build_plane(settings)
    assert plane.authz.mask.paths == ("/resource/metadata/ssn",)
    assert plane.authz.mask.max_bytes == 2048


def test_a_cap_below_512_bytes_is_refused() -> None:
    with pytest.raises(ConfigurationError) as err:
        InputMask(max_bytes=100)
    assert err.value.setting == "AP_POLICY_LOG_INPUT_MAX_BYTES"


# -- JSON that every store gives back --------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"


def test_values_become_json_every_store_returns_unchanged() -> None:
    masked = InputMask([]).apply(
        doc(
            metadata={
                "whole": 3.0,
                "huge": 1e20,
                "fraction": 0.25,
                "count": 2**70,
                "nan": float("nan"),
                "inf": float("-inf"),
                "nul": "a\x00b",
                "surrogate": "x\ud800y",
                "tuple": (1, 2),
                3: "int key",
                "when": datetime(2026, 1, 2, tzinfo=UTC),
                "colour": Colour.RED,
                "flag": True,
            }
        )
    )
    meta = masked["resource"]["metadata"]
    assert (meta["whole"], type(meta["whole"])) == (3, int)
    assert (meta["huge"], type(meta["huge"])) == (10**20, int)
    assert meta["fraction"] == 0.25
    assert meta["count"] == 2**70
    assert (meta["nan"], meta["inf"]) == ("NaN", "-Infinity")
    assert (meta["nul"], meta["surrogate"]) == ("a\ufffdb", "x\ufffdy")
    assert meta["tuple"] == [1, 2]
    assert meta["3"] == "int key"
    assert meta["when"] == "2026-01-02 00:00:00+00:00"
    assert (meta["colour"], type(meta["colour"])) == ("red", str)
    assert meta["flag"] is True
    assert json.loads(canonical_json(masked)) == masked  # strict JSON: encodable, no NaN


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, None, "x"], "c": {"d": 0.5}},
        {"note": "version 1.0, or 2e+3", "emoji": "ok \U0001f600", "quote": 'a"b\\c\n\t'},
        {"whole": 3.0, "neg": -0.0, "big": 1e300, "tiny": 1e-300},
        {7: "int key", True: "bool key", None: "null key", 2.5: "float key"},
        [{"nested": [[1, 2.0], {"deep": "\x00"}]}],
        "just text",
    ],
    ids=["plain", "false-alarms", "floats", "keys", "nested", "text"],
)
def test_the_fast_path_gives_what_the_general_one_does(value: Any) -> None:
    from artifact_plane.masking import _copy, _plain

    plain, size = _plain(value)
    general = _copy(value)
    assert canonical_json(plain) == canonical_json(general)
    assert plain == general
    assert size >= len(canonical_json(plain).encode("utf-8"))  # an upper bound, for the cap


# -- the size cap ------------------------------------------------------------------------


def _cut_marker(value: Any) -> str:
    encoded = canonical_json(value).encode("utf-8")
    digest = hashlib.sha256(encoded).hexdigest()
    return f"*** cut: {len(encoded)} bytes over the log's input cap, sha256:{digest} ***"


def test_a_small_input_is_kept_whole() -> None:
    small = doc(metadata={"team": "blue"})
    assert InputMask([], max_bytes=1024).apply(small) == small


def test_large_metadata_is_cut_to_a_marker_with_its_size_and_digest() -> None:
    metadata = {"rows": ["x" * 100] * 200}
    masked = InputMask([], max_bytes=2048).apply(doc(metadata=metadata, uri="artifact://insights/q3"))
    assert masked["resource"]["metadata"] == _cut_marker(metadata)
    assert masked["resource"]["uri"] == "artifact://insights/q3"  # the rest is kept
    assert masked["context"] == {"authorization": TOKEN, "request_id": "r-1"}
    assert len(canonical_json(masked).encode()) <= 2048


def test_the_largest_values_go_first_and_only_as_many_as_needed() -> None:
    big, bigger = "b" * 1500, "c" * 3000
    given = {**doc(note=big), "context": {"blob": bigger, "request_id": "r-1"}}
    masked = InputMask([], max_bytes=2048).apply(given)
    assert masked["context"]["blob"] == _cut_marker(bigger)
    assert masked["resource"]["note"] == big  # fits once the larger one is cut
    assert len(canonical_json(masked).encode()) <= 2048


def test_many_small_keys_cut_their_whole_part() -> None:
    many = {f"k{i:04d}": i for i in range(2000)}
    masked = InputMask([], max_bytes=1024).apply({**doc(), "context": many})
    assert masked["context"] == _cut_marker(many)
    assert masked["subject"]["id"] == "alice"
    assert len(canonical_json(masked).encode()) <= 1024


def test_masking_comes_before_the_cut_so_no_digest_of_a_secret_is_logged() -> None:
    metadata = {"ssn": SSN, "rows": ["x" * 100] * 100}
    masked = InputMask(["/resource/metadata/ssn"], max_bytes=1024).apply(doc(metadata=metadata))
    assert masked["resource"]["metadata"] == _cut_marker({**metadata, "ssn": MASK})
    assert SSN not in canonical_json(masked)


def test_a_value_that_looks_like_a_marker_is_still_cut() -> None:
    sneaky = "*** cut" + "x" * 5000
    masked = InputMask([], max_bytes=1024).apply(doc(note=sneaky))
    assert masked["resource"]["note"] == _cut_marker(sneaky)


# -- the authorizer logs masked inputs; the engine decides on the real ones ---------------


async def test_the_engine_sees_the_input_and_the_log_only_the_masked_one() -> None:
    seen: list[str] = []

    def needs_token(request: PolicyInput) -> tuple[bool, list[str]]:
        seen.append(request.context["authorization"])
        return request.context["authorization"] == TOKEN, ["token checked"]

    log = MemoryDecisionLog()
    authz = Authorizer(MemoryPolicyEngine(needs_token), log, InputMask(["/context/authorization"]))
    subject = Subject(id="alice", tenant="acme", roles=("writer",))
    resources = [{"artifact_id": "a1", "tenant_id": "acme"}, {"artifact_id": "a2", "tenant_id": "acme"}]
    decisions = await authz.decide(subject, "read", resources, {"authorization": TOKEN})
    assert [d.allow for d in decisions] == [True, True]
    assert seen == [TOKEN, TOKEN]
    logged = await log.query("acme", DecisionFilter(), limit=10)
    assert sorted(r.resource_ref for r in logged) == ["artifact_id:a1", "artifact_id:a2"]
    for record in logged:
        assert record.input is not None
        assert record.input["context"] == {"authorization": MASK}
        assert record.input["action"] == "read"
        assert record.input["subject"] == subject.model_dump(mode="json")
        assert record.input["resource"]["artifact_id"] == record.resource_ref.split(":")[1]
    with pytest.raises(PolicyDeniedError):
        await authz.require(subject, "read", resources[:1], {"authorization": "Bearer wrong"})
    denied = [r for r in await log.query("acme", DecisionFilter(allow=False), limit=10)]
    assert [r.input["context"] if r.input else None for r in denied] == [{"authorization": MASK}]


# -- end to end: a create's decision in policyDecisions and in the raw row -------------------

MASKED = "/resource/metadata/ssn,/context/authorization"
DECISIONS = """query { policyDecisions(first: 100) {
  edges { node { action resourceRef allow input } }
} }"""


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(request.param, tmp_path, request=request, policy_mask=MASKED):
        yield built


async def _raw_rows(plane: ArtifactPlane) -> list[str] | None:
    """Every stored decision row as text, read with SQL past the adapter (None: not a SQL log)."""
    database = getattr(plane.decisions, "database", None)
    if database is None:
        return None
    query = text(
        "SELECT tenant_id, decision_id, subject_id, action, resource_ref, CAST(reasons AS TEXT), "
        "CAST(input AS TEXT) FROM decisions"
    )

    def read(conn: Any) -> list[str]:
        return [json.dumps([str(v) for v in row]) + "\n" + str(row[6]) for row in conn.execute(query)]

    rows: list[str] = await database.run(read, write=False)
    return rows


async def test_a_create_logs_its_input_with_the_masked_metadata(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    art_id = await me.create_artifact(
        b"quarterly", artifact_type="report", metadata={"ssn": SSN, "team": "blue"}
    )
    record = await me.get_meta(art_id)
    await plane.authz.decide(ALICE, "read", [record.resource()], {"authorization": TOKEN})
    logged = await plane.decisions.query("acme", DecisionFilter(), limit=100)
    create = next(r for r in logged if r.action == "create")
    assert create.input is not None
    assert create.input["resource"]["metadata"] == {"ssn": MASK, "team": "blue"}
    assert create.input["subject"]["id"] == "alice"
    read = [r for r in logged if r.action == "read"][-1]  # after get_meta's own read
    assert read.input is not None
    assert read.input["context"] == {"authorization": MASK}
    rows = await _raw_rows(plane)
    if rows is not None:
        assert len(rows) == len(logged)
        assert not [row for row in rows if SSN in row or TOKEN in row]
        inputs = [json.loads(row.rsplit("\n", 1)[1]) for row in rows]
        assert {"ssn": MASK, "team": "blue"} in [i["resource"].get("metadata") for i in inputs]
    # The record itself keeps the metadata: only the log is masked.
    assert record.metadata == {"ssn": SSN, "team": "blue"}


@pytest.mark.parametrize("kind", ["embedded", "postgres"])
async def test_policy_decisions_show_the_masked_input(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {"policy_mask": MASKED}
    if kind == "postgres":
        overrides["registry_url"] = request.getfixturevalue("postgres_url")
    app = create_app(make_settings("embedded", tmp_path, **overrides))
    async with asgi_client(app) as client:
        plane: ArtifactPlane = app.state.plane
        await plane.for_subject(ALICE).create_artifact(
            b"q3", artifact_type="report", metadata={"ssn": SSN, "team": "blue"}
        )
        body = await gql(client, DECISIONS, ALICE)
        assert "errors" not in body, body
        nodes = [e["node"] for e in body["data"]["policyDecisions"]["edges"]]
        rows = await _raw_rows(plane)
    [create] = [n for n in nodes if n["action"] == "create"]
    assert create["allow"] is True
    assert create["input"]["resource"]["metadata"] == {"ssn": MASK, "team": "blue"}
    assert create["input"]["action"] == "create"
    assert create["input"]["subject"]["id"] == "alice"
    assert SSN not in json.dumps(body)
    assert rows
    assert not [row for row in rows if SSN in row]
