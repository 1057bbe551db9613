"""The Rego engine decides once per distinct combination of what the policies read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from artifact_plane.adapters.rego import RegoPolicyEngine
from artifact_plane.adapters.rego.cache import Asked, DecisionCache, denial_of
from artifact_plane.adapters.rego.inputs import DecisionInputs, collect_limits, glob_regex, request_key
from artifact_plane.errors import ConfigurationError
from artifact_plane.models import PolicyInput, Subject
from artifact_plane.realms_manifest import load_realm_manifests, policy_data
from tests.plane_fixtures import REPO

POLICIES = REPO / "policies"
# resource.<field>, resource["<field>"] and object.get(<x>.resource, "<field>", ...)
FIELD_READS = re.compile(
    r"""resource\.(?P<dot>[a-z_]+)|resource\[\s*"(?P<index>[a-z_]+)"\s*\]"""
    r"""|object\.get\(\s*[\w.]*resource\s*,\s*"(?P<get>[a-z_]+)\"""",
)


# After a read of a threshold field: `> limit` (the only read the cache may key on).
COMPARED_ABOVE = re.compile(r"""\s*(?:,[^()]*\))?\s*>(?!=)""")


def declaration() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((POLICIES / "decision_inputs.json").read_text())
    return loaded


def declared_fields() -> set[str]:
    return set(declaration()["resource"])  # type: ignore[call-overload]


def threshold_fields() -> set[str]:
    return set(declaration().get("thresholds") or {})  # type: ignore[call-overload]


def test_every_resource_field_a_policy_reads_is_declared() -> None:
    read: set[str] = set()
    misread: list[str] = []
    thresholds = threshold_fields()
    for path in POLICIES.glob("*.rego"):
        if path.name.endswith("_test.rego"):
            continue
        text = path.read_text()
        for match in FIELD_READS.finditer(text):
            name = next(group for group in match.groups() if group)
            read.add(name)
            if name in thresholds and not COMPARED_ABOVE.match(text, match.end()):
                line = text.count("\n", 0, match.start()) + 1
                misread.append(f"{path.name}:{line}: {name}")
    assert read, "the scan found no resource field reads: the pattern no longer matches the policies"
    undeclared = read - declared_fields() - thresholds
    assert not undeclared, f"policies read {sorted(undeclared)}; add them to policies/decision_inputs.json"
    assert not misread, (
        f"{misread} read a threshold field other than as `field > limit`; "
        "compare it that way or move it from thresholds to resource in policies/decision_inputs.json"
    )


def _engine(policy_dir: Path = POLICIES) -> RegoPolicyEngine:
    return RegoPolicyEngine(policy_dir, policy_data(load_realm_manifests(REPO / "realms")), reload_interval=0)


def _request(
    artifact_id: str, *, realm: str = "insights", subject_realm: str | None = "insights"
) -> PolicyInput:
    subject = Subject(id="alice", tenant="acme", roles=("writer",), realm=subject_realm)
    resource = {
        "tenant_id": "acme",
        "realm": realm,
        "artifact_type": "report",
        "artifact_id": artifact_id,
        "sha256": artifact_id * 2,
        "size_bytes": len(artifact_id),
    }
    return PolicyInput(subject=subject, action="read", resource=resource)


async def test_a_batch_that_differs_only_in_unread_fields_is_one_evaluation() -> None:
    engine = _engine()
    decisions = await engine.decide_many([_request(f"a{n:031d}") for n in range(200)])
    assert engine.evaluations == 1
    assert all(d.allow for d in decisions)
    assert len({(d.allow, d.reasons, d.revision) for d in decisions}) == 1


async def test_a_read_field_that_differs_is_decided_separately() -> None:
    engine = _engine()
    allowed, denied = await engine.decide_many(
        [_request("a" * 32), _request("b" * 32, realm="outcomes", subject_realm="content")]
    )
    assert engine.evaluations == 2
    assert allowed.allow
    assert not denied.allow
    assert any("realm_read" in reason for reason in denied.reasons)
    # Cached across calls too, and still the right answer for each combination.
    again = await engine.decide_many([_request("c" * 32, realm="outcomes", subject_realm="content")])
    assert engine.evaluations == 2
    assert again[0].reasons == denied.reasons


async def test_a_policy_change_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    policy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES, policy_dir, ignore=shutil.ignore_patterns("*_test.rego"))
    engine = _engine(policy_dir)
    assert (await engine.decide(_request("a" * 32))).allow
    roles = policy_dir / "roles.rego"
    text = roles.read_text().replace('"reader": ', '"nobody": ').replace('"writer": ', '"nobody2": ')
    roles.write_text(text)
    after = await engine.decide(_request("a" * 32))
    assert not after.allow
    assert engine.evaluations == 2


@pytest.mark.parametrize(
    "declared",
    [
        '{"resource": "realm"}',
        '{"resource": ["realm"], "thresholds": ["size_bytes"]}',
        '{"resource": ["realm"], "thresholds": {"size_bytes": 100}}',
        '{"resource": ["realm"], "thresholds": {"size_bytes": ""}}',
        '{"resource": ["realm", "size_bytes"], "thresholds": {"size_bytes": "maxSizeBytes"}}',
    ],
)
def test_a_malformed_declaration_is_a_configuration_error(tmp_path: Path, declared: str) -> None:
    policy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES, policy_dir, ignore=shutil.ignore_patterns("*_test.rego"))
    (policy_dir / "decision_inputs.json").write_text(declared)
    with pytest.raises(ConfigurationError, match=r"decision_inputs\.json"):
        _engine(policy_dir)


# A size rule as the content policies write it: deny above the realm's maxSizeBytes.
SIZE_POLICY = """package artifact_plane.authz

decision := {"allow": false, "reasons": ["max_size: larger than the realm allows"]} if {
	input.resource.size_bytes > data.realms[input.resource.realm].content.maxSizeBytes
} else := {"allow": true, "reasons": []}
"""
SIZE_DATA = {
    "realms": {
        "small": {"content": {"maxSizeBytes": 100}},
        "large": {"content": {"maxSizeBytes": 1000}},
        "free": {"content": {}},
    }
}


def _size_engine(tmp_path: Path) -> RegoPolicyEngine:
    policy_dir = tmp_path / "size-policies"
    policy_dir.mkdir()
    (policy_dir / "size.rego").write_text(SIZE_POLICY)
    (policy_dir / "decision_inputs.json").write_text(
        json.dumps({"resource": ["realm"], "thresholds": {"size_bytes": "maxSizeBytes"}})
    )
    return RegoPolicyEngine(policy_dir, SIZE_DATA, reload_interval=0)


def _create(realm: str, size: int | None) -> PolicyInput:
    resource: dict[str, object] = {"tenant_id": "acme", "realm": realm, "artifact_type": "report"}
    if size is not None:
        resource["size_bytes"] = size
    subject = Subject(id="alice", tenant="acme", roles=("writer",), realm=realm)
    return PolicyInput(subject=subject, action="create", resource=resource)


async def test_sizes_on_the_same_side_of_every_limit_are_one_evaluation(tmp_path: Path) -> None:
    engine = _size_engine(tmp_path)
    # All at or below both limits (100 and 1000, whichever realm states them).
    decisions = await engine.decide_many([_create("small", size) for size in (0, 1, 37, 99, 100)])
    assert [d.allow for d in decisions] == [True] * 5
    assert engine.evaluations == 1
    # Above 100, not above 1000: one more evaluation for all of them.
    decisions = await engine.decide_many([_create("small", size) for size in (101, 500, 1000)])
    assert [d.allow for d in decisions] == [False] * 3
    assert decisions[0].reasons == ("max_size: larger than the realm allows",)
    assert engine.evaluations == 2


async def test_sizes_across_a_limit_are_decided_separately_and_correctly(tmp_path: Path) -> None:
    engine = _size_engine(tmp_path)
    asked = [
        ("small", 100, True),
        ("small", 101, False),
        ("large", 101, True),  # the other realm's limit is higher
        ("large", 1000, True),
        ("large", 1001, False),
        ("small", 5000, False),
        ("free", 10**9, True),  # no limit stated
        ("small", None, True),  # no size: the comparison is undefined, nothing to deny
    ]
    decisions = await engine.decide_many([_create(realm, size) for realm, size, _ in asked])
    assert [d.allow for d in decisions] == [allow for _, _, allow in asked]
    # One evaluation per (realm, side of 100 and of 1000, or no size): large 101
    # and large 1000 are both above 100 and not above 1000, so they share one.
    assert engine.evaluations == 7
    again = await engine.decide_many([_create("small", 150), _create("large", 500), _create("small", None)])
    assert [d.allow for d in again] == [False, True, True]
    assert engine.evaluations == 7


def test_limits_are_every_number_under_the_key_anywhere_in_the_data() -> None:
    data = {
        "realms": {"a": {"content": {"maxSizeBytes": 10}}, "b": {"content": {"maxSizeBytes": 2.5}}},
        "other": [{"maxSizeBytes": 10}, {"nested": {"maxSizeBytes": 7}}, {"maxSizeBytes": "big"}],
        "flag": {"maxSizeBytes": True},
    }
    assert collect_limits(data, "maxSizeBytes") == (2.5, 7, 10)


# -- batch queries ---------------------------------------------------------------------

# A batch entrypoint as decision.rego declares it, over a rule that can fail per request
# (concat of a number is a built-in error) and one that denies by name.
BATCH_POLICY = """package artifact_plane.authz

decision := decide(input)

decisions := [answer | some req in input.requests; answer := decide(req)]

decide(req) := {"allow": false, "reasons": [concat("", ["named: ", req.resource.name, " is refused"])]} if {
\tstartswith(req.resource.name, "no-")
} else := {"allow": true, "reasons": [concat("", ["ok: ", req.resource.name])]}
"""


def _batch_engine(tmp_path: Path, policy: str = BATCH_POLICY) -> RegoPolicyEngine:
    policy_dir = tmp_path / "batch-policies"
    policy_dir.mkdir(parents=True)
    (policy_dir / "batch.rego").write_text(policy)
    (policy_dir / "decision_inputs.json").write_text(json.dumps({"resource": ["name"]}))
    return RegoPolicyEngine(policy_dir, {}, reload_interval=0)


def _named(name: object) -> PolicyInput:
    subject = Subject(id="alice", tenant="acme", roles=("reader",))
    return PolicyInput(subject=subject, action="read", resource={"name": name})


async def test_a_batch_of_mixed_answers_comes_back_in_the_order_asked(tmp_path: Path) -> None:
    names = [f"no-{n}" if n % 3 == 0 else f"yes-{n}" for n in range(120)]
    engine = _batch_engine(tmp_path)
    batched = await engine.decide_many([_named(name) for name in names])
    assert engine.evaluations == 120
    assert engine.queries < 10  # many requests per query
    for name, decision in zip(names, batched, strict=True):
        if name.startswith("no-"):
            assert (decision.allow, decision.reasons) == (False, (f"named: {name} is refused",))
        else:
            assert (decision.allow, decision.reasons) == (True, (f"ok: {name}",))
    # The same answers one query at a time (a fresh engine: no cache).
    single = _batch_engine(tmp_path / "single")
    one_by_one = [await single.decide(_named(name)) for name in names[:12]]
    assert [(d.allow, d.reasons) for d in one_by_one] == [(d.allow, d.reasons) for d in batched[:12]]
    assert single.queries == 12


async def test_one_failing_request_fails_closed_alone_in_a_batch(tmp_path: Path) -> None:
    engine = _batch_engine(tmp_path)
    decisions = await engine.decide_many([_named("yes-1"), _named(42), _named("no-2"), _named("yes-3")])
    assert [d.allow for d in decisions] == [True, False, False, True]
    assert decisions[1].reasons[0].startswith("policy engine error:")
    assert decisions[2].reasons == ("named: no-2 is refused",)
    # The failure is not cached: asked again, it is evaluated again.
    before = engine.evaluations
    again = await engine.decide(_named(42))
    assert not again.allow
    assert engine.evaluations == before + 1


@pytest.mark.parametrize(
    ("module", "text"),
    [
        ("batch.rego", BATCH_POLICY + "\nextra := input.resource.name\n"),
        # Named like the entrypoint, but in another package: still a direct read.
        ("other.rego", "package other\n\ndecision := input.resource.name\n"),
    ],
)
async def test_a_policy_that_reads_input_directly_is_not_batched(
    tmp_path: Path, module: str, text: str
) -> None:
    # In a batch query `input` is every request: such a rule would answer wrongly there.
    engine = _batch_engine(tmp_path)
    (tmp_path / "batch-policies" / module).write_text(text)
    decisions = await engine.decide_many([_named("yes-1"), _named("no-2"), _named("yes-3")])
    assert [d.allow for d in decisions] == [True, False, True]
    assert engine.queries == engine.evaluations == 3


async def test_worker_processes_answer_a_large_batch_as_this_process_does(tmp_path: Path) -> None:
    names = [f"no-{n}" if n % 7 == 0 else f"yes-{n}" for n in range(450)] + ["bad"]
    requests = [_named(name) for name in names]
    requests[-1] = _named(42)  # fails in the worker: denied with the engine's error, alone
    here = _batch_engine(tmp_path / "here")
    pooled = RegoPolicyEngine(tmp_path / "here" / "batch-policies", {}, reload_interval=0, workers=2)
    try:
        expected = await here.decide_many(requests)
        got = await pooled.decide_many(requests)
        assert [(d.allow, d.reasons) for d in got[:-1]] == [(d.allow, d.reasons) for d in expected[:-1]]
        assert not got[-1].allow
        assert got[-1].reasons[0].startswith("policy engine error:")
        assert pooled.evaluations == pooled.in_workers == 451
        assert here.in_workers == 0
        assert pooled.queries < 451 // 10  # batch queries in the workers too
        # The successful answers are cached here as usual; the failure is not.
        again = await pooled.decide_many(requests[:5])
        assert [d.allow for d in again] == [d.allow for d in expected[:5]]
        assert pooled.evaluations == 451
    finally:
        await pooled.close()
        await here.close()


async def test_input_strings_and_values_reach_the_policy_intact(tmp_path: Path) -> None:
    names = ["héllo ✓ 日本", 'a "quoted" name', "back\\slash", "tab\there", "yes-" + "x" * 5000]
    engine = _batch_engine(tmp_path)
    batched = await engine.decide_many([_named(name) for name in names])
    single = [await _batch_engine(tmp_path / str(n)).decide(_named(name)) for n, name in enumerate(names)]
    for name, one, many in zip(names, single, batched, strict=True):
        assert (one.allow, one.reasons) == (many.allow, many.reasons) == (True, (f"ok: {name}",))
    # A value regopy cannot hold (an integer past 64 bits) is a deny naming the problem, not a crash.
    huge = await engine.decide(_named(2**70))
    assert not huge.allow
    assert huge.reasons[0].startswith("policy engine error:")


async def test_the_shipped_batch_entrypoint_answers_as_the_single_decision() -> None:
    # Every realm x every action x reader/writer/steward, named and unnamed, some across tenants:
    # allows and denials of every concern, decided in batch queries and one query at a time.
    realms = ("content", "insights", "journey", "outcomes")
    actions = ("read", "create", "delete", "export", "lineage.read")
    requests = []
    for n, (realm, action, role) in enumerate(
        (realm, action, role)
        for realm in realms
        for action in actions
        for role in ("reader", "writer", "steward")
    ):
        subject = Subject(id=f"u{n % 3}", tenant="acme", roles=(role,), realm=realms[n % len(realms)])
        resource = {
            "tenant_id": "acme" if n % 11 else "globex",
            "realm": realm,
            "artifact_type": ("report", "dataset", "interpretation", "roadmap")[n % 4],
            "uri": f"artifact://{realm}/reports/{n}.json" if n % 2 else None,
            "tags": ["pii"] if n % 5 == 0 else [],
            "size_bytes": 10**n % 10**9,
        }
        requests.append(PolicyInput(subject=subject, action=action, resource=resource))
    data = policy_data(load_realm_manifests(REPO / "realms"))
    batched = RegoPolicyEngine(POLICIES, data, reload_interval=3600)
    single = RegoPolicyEngine(POLICIES, data, reload_interval=3600, batch_entrypoint=None)
    many = await batched.decide_many(requests)
    one_by_one = await single.decide_many(requests)
    assert batched.queries < batched.evaluations  # batch queries were used
    assert single.queries == single.evaluations
    assert [(d.allow, d.reasons) for d in many] == [(d.allow, d.reasons) for d in one_by_one]
    assert {d.allow for d in many} == {True, False}
    assert not any(r.startswith("policy engine error") for d in many for r in d.reasons)


# -------------------------------------------------------------- URIs projected for allows

GLOBS = ["**", "*", "*.json", "reports/**", "inbox/*", "roadmaps/**", "a*b/**", "**/x.json", "r*/**/q*"]
PATHS = [
    "x.json",
    "top.json",
    "a/top.json",
    "reports/q3.json",
    "reports/",
    "reports",
    "reports/deep/q3.csv",
    "inbox/x",
    "inbox/x/y",
    "inbox/",
    "roadmaps/2027/plan.md",
    "axb/c",
    "ab/c",
    "a/b/c",
    "deep/a/x.json",
    "x.json/more",
    "r/z/q1",
    "rq",
    "r/q",
    ".json",
    "a.b-c_d/e.json",
]


def test_the_projection_matches_globs_exactly_as_regopy_does() -> None:
    from regopy import Interpreter

    from artifact_plane.adapters.rego.inputs import glob_regex

    rego = Interpreter()
    for glob in GLOBS:
        pattern = glob_regex(glob)
        assert pattern is not None
        for path in PATHS:
            output = rego.query(f'x := glob.match("{glob}", ["/"], "{path}")')
            expected = output.ok() and output.binding("x").json() == "true"
            assert bool(pattern.fullmatch(path)) == expected, (glob, path)
    assert glob_regex("reports/?.json") is None  # beyond `*` and `**`: not projected


def _at_uri(
    uri: str, subject_realm: str | None, *, action: str = "read", realm: str | None = None
) -> PolicyInput:
    subject = Subject(id="svc", tenant="acme", roles=("writer",), realm=subject_realm)
    place = realm or uri.removeprefix("artifact://").split("/", 1)[0]
    resource = {"tenant_id": "acme", "realm": place, "artifact_type": "roadmap", "uri": uri}
    return PolicyInput(subject=subject, action=action, resource=resource)


async def test_an_allow_is_shared_by_uris_with_the_same_realm_and_glob_matches() -> None:
    engine = _engine()
    # Journey may read outcomes' roadmaps/**: a thousand roadmaps are one evaluation.
    many = [_at_uri(f"artifact://outcomes/roadmaps/{n}/plan.json", "journey") for n in range(1000)]
    decisions = await engine.decide_many(many)
    assert all(d.allow and d.reasons == () for d in decisions)
    assert engine.evaluations == 1
    # Outside the glob: denied, each with its own URI in the reason, from one evaluation:
    # the first one's reasons with the URI each quotes replaced.
    outside = [_at_uri(f"artifact://outcomes/drafts/{n}.json", "journey") for n in range(3)]
    denied = await engine.decide_many(outside)
    assert [d.allow for d in denied] == [False, False, False]
    for n, decision in enumerate(denied):
        assert decision.reasons == (
            f"realm_read: realm journey may not read artifact://outcomes/drafts/{n}.json (type roadmap)",
        )
    assert engine.evaluations == 2
    # A later call with another URI of that projection: still no evaluation.
    [later] = await engine.decide_many([_at_uri("artifact://outcomes/drafts/x/y.json", "journey")])
    assert later.reasons == (
        "realm_read: realm journey may not read artifact://outcomes/drafts/x/y.json (type roadmap)",
    )
    assert engine.evaluations == 2


async def test_shared_allows_answer_as_deciding_each_request_alone(tmp_path: Path) -> None:
    # The same requests through an engine with no declaration (no cache at all).
    plain_dir = tmp_path / "plain"
    shutil.copytree(POLICIES, plain_dir, ignore=shutil.ignore_patterns("*_test.rego"))
    (plain_dir / "decision_inputs.json").unlink()
    requests = [
        _at_uri(uri, subject_realm, action=action)
        for uri in [
            "artifact://outcomes/roadmaps/a.json",
            "artifact://outcomes/roadmaps/b/c.json",
            "artifact://outcomes/solutions/s.json",
            "artifact://outcomes/pocs/p.json",
            "artifact://journey/blueprints/b.json",
            "artifact://self/roadmaps/x.json",
            "artifact://outcomes/",
            "not-a-uri",
            "artifact://insights/reports/r.json",
        ]
        for subject_realm in ("journey", "outcomes", None)
        for action in ("read", "create")
    ]
    # Many URIs per projection, denied ones among them, some awkward: a quote, non-ASCII,
    # the realm's name inside the path, a URI a declared field repeats (it must be evaluated).
    odd = [
        "artifact://outcomes/drafts/1.json",
        "artifact://outcomes/drafts/2.json",
        "artifact://outcomes/drafts/outcomes/3.json",
        'artifact://outcomes/drafts/"q".json',
        "artifact://outcomes/drafts/é✓.json",
        "artifact://outcomes/roadmaps/r1.json",
        "artifact://outcomes/roadmaps/deep/r2.json",
        "artifact://insights/reports/a.json",
        "artifact://insights/reports/b.json",
    ]
    requests += [
        _at_uri(uri, realm, action=action)
        for uri in odd
        for realm in ("journey", "content")
        for action in ("read", "create")
    ]
    echoed = _at_uri("artifact://outcomes/drafts/9.json", "journey")
    echoed.resource["retention_policy"] = "artifact://outcomes/drafts/9.json"
    echoed_again = _at_uri("artifact://outcomes/drafts/10.json", "journey")
    echoed_again.resource["retention_policy"] = "artifact://outcomes/drafts/9.json"
    requests += [echoed, echoed_again]
    engine = _engine()
    cached = await engine.decide_many(requests * 2)
    cached += [await engine.decide(request) for request in requests]  # from the cache, one at a time
    plain = _engine(plain_dir)
    alone = [await plain.decide(request) for request in requests * 3]
    assert [(d.allow, d.reasons) for d in cached] == [(d.allow, d.reasons) for d in alone]
    assert any(d.allow for d in alone)
    assert sum(not d.allow for d in alone) > len(odd)
    assert engine.evaluations < plain.evaluations / 3  # answers were shared, allows and denials


def test_reasons_move_to_another_uri_only_when_nothing_else_could_quote_it() -> None:
    inputs = DecisionInputs(
        frozenset({"uri", "realm", "retention_policy"}),
        globs=(("uri", (glob_regex("**"),)),),  # type: ignore[arg-type]
    )
    a, b = "artifact://r/x/1.json", "artifact://r/x/2.json"
    subject = Subject(id="svc", tenant="acme", roles=("reader",), realm="r")

    def asked(uri: object, **fields: object) -> Asked:
        request = PolicyInput(subject, "read", {"uri": uri, "realm": "r", **fields})
        return Asked(request, request_key(subject.model_dump(mode="json"), "read", {}), {})

    def move(reasons: tuple[str, ...], source: Asked, target: Asked) -> tuple[str, ...] | None:
        moved = DecisionCache(8).transfer(inputs, ("k",), target, denial_of((False, reasons), inputs, source))
        return None if moved is None else moved[1]

    reasons = (f"content_type: no {a}", f"realm_read: may not read {a}")
    assert move(reasons, asked(a), asked(b)) == (f"content_type: no {b}", f"realm_read: may not read {b}")
    # The old URI in what else the policies see: another declared field, the context.
    assert move(reasons, asked(a, retention_policy=a), asked(b, retention_policy=a)) is None
    in_context = Asked(PolicyInput(subject, "read", {"uri": a, "realm": "r"}, {"about": a}), "", {})
    in_context.prefix = request_key(subject.model_dump(mode="json"), "read", {"about": a})
    assert move(reasons, in_context, asked(b)) is None
    # Escaped alike: a URI with a quote or non-ASCII is still found.
    odd = 'artifact://r/x/"é".json'
    assert move((f"x: {odd}",), asked(odd, retention_policy=odd), asked(b, retention_policy=odd)) is None
    assert move((f"x: {odd}",), asked(odd), asked(b)) == (f"x: {b}",)
    # Reasons the replacement would reorder, or that were not in sorted order to begin with.
    suffixed = (f"x: {a}", f"x: {a}9")
    assert move(suffixed, asked(a), asked("artifact://r/x/3.json")) is not None
    reordered = (f"x: {a}", "x: artifact://r/x/1.jsoo")  # sorted; with b in place of a it would not be
    assert move(reordered, asked(a), asked(b)) is None
    assert move(tuple(reversed(reasons)), asked(a), asked(b)) is None
    # Not strings: nothing to replace.
    assert move(reasons, asked(a), asked(7)) is None
    # The same URI: the reasons as they are; no denial remembered: nothing to move.
    assert move(reasons, asked(a), asked(a)) == reasons
    assert DecisionCache(8).transfer(inputs, ("k",), asked(b)) is None
