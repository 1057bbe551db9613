"""The contract every :class:`~artifact_plane.ports.registry.Registry` must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from artifact_plane.errors import BackendUnavailableError, ConflictError, InvalidInputError, NotFoundError
from artifact_plane.models import (
    SCAN_IDENTITY,
    ArtifactFilter,
    ArtifactRecord,
    ArtifactStatus,
    DecisionFilter,
    ExecutionStatus,
    scanned_fields,
)
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.registry import Registry
from tests.contracts.builders import (
    T0,
    consumed,
    make_decision,
    make_execution,
    make_full_record,
    make_record,
    produced,
    ts,
)

READY, PENDING = ArtifactStatus.READY, ArtifactStatus.PENDING
FAILED, EXPIRED = ArtifactStatus.FAILED, ArtifactStatus.EXPIRED
Q3 = "artifact://insights/reports/q3.json"
DEEP = "artifact://insights/reports/deep/q3.csv"
Q4 = "artifact://outcomes/reports/q4.json"


def _ids(records: list[ArtifactRecord]) -> list[str]:
    return [r.artifact_id for r in records]


async def _insert_all(registry: Registry, *records: ArtifactRecord) -> None:
    for record in records:
        await registry.insert_artifact(record)


def _assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# fmt: off
# The catalog the filter tests list from.
CATALOG_COLUMNS = ("artifact_id", "second", "realm", "artifact_type", "status", "tags", "uri", "version",
                   "execution_id")
CATALOG: list[tuple[Any, ...]] = [
    ("r1", 10, "insights", "report", READY, ("q3", "finance"), Q3, "1.0.0", "exec-a"),
    ("r2", 20, "insights", "dataset", PENDING, ("q3",), DEEP, "1.9.0", "exec-a"),
    ("r3", 30, "outcomes", "report", FAILED, ("finance",), Q4, "1.10.0", "exec-b"),
    ("r4", 40, "outcomes", "dataset", EXPIRED, (), None, None, None),
    ("r5", 50, "insights", "report", READY, ("q3", "finance", "draft"), Q3, "2.0.0-rc.1", "exec-b"),
]

FILTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("none", {}, ["r1", "r2", "r3", "r4", "r5"]),
    ("realm", {"realm": "insights"}, ["r1", "r2", "r5"]),
    ("artifact_type", {"artifact_type": "dataset"}, ["r2", "r4"]),
    ("status-one", {"status": (READY,)}, ["r1", "r5"]),
    ("status-any-of", {"status": (PENDING, FAILED)}, ["r2", "r3"]),
    ("tag", {"tags": ("q3",)}, ["r1", "r2", "r5"]),
    ("tags-all-of", {"tags": ("q3", "finance")}, ["r1", "r5"]),
    ("tags-none-has-all", {"tags": ("draft", "missing")}, []),
    ("glob-double-star-crosses-segments", {"uri_glob": "artifact://insights/reports/**"}, ["r1", "r2", "r5"]),
    ("glob-star-one-segment", {"uri_glob": "artifact://insights/reports/*"}, ["r1", "r5"]),
    ("glob-star-in-segment", {"uri_glob": "artifact://*/reports/*.json"}, ["r1", "r3", "r5"]),
    ("glob-no-uri-never-matches", {"uri_glob": "artifact://*/**"}, ["r1", "r2", "r3", "r5"]),
    ("glob-exact", {"uri_glob": "artifact://outcomes/reports/q4.json"}, ["r3"]),
    ("min-version-semver-not-string", {"min_version": "1.9.0"}, ["r2", "r3", "r5"]),
    ("min-version-1.10", {"min_version": "1.10.0"}, ["r3", "r5"]),
    ("min-version-prerelease-below-release", {"min_version": "2.0.0"}, []),
    ("min-version-prerelease-order", {"min_version": "2.0.0-alpha"}, ["r5"]),
    ("created-after-inclusive", {"created_after": ts(20)}, ["r2", "r3", "r4", "r5"]),
    ("created-before-exclusive", {"created_before": ts(30)}, ["r1", "r2"]),
    ("created-window", {"created_after": ts(20), "created_before": ts(40)}, ["r2", "r3"]),
    ("execution", {"execution_id": "exec-a"}, ["r1", "r2"]),
    ("combined-all", {"realm": "insights", "artifact_type": "report", "status": (READY,),
                      "tags": ("q3", "finance"), "uri_glob": "artifact://insights/**",
                      "min_version": "1.0.0-0", "created_after": ts(10), "created_before": ts(60),
                      "execution_id": "exec-b"}, ["r5"]),
    ("combined-narrows", {"realm": "outcomes", "tags": ("q3",)}, []),
    ("type-and-glob", {"artifact_type": "report", "uri_glob": "artifact://insights/**"}, ["r1", "r5"]),
]
# fmt: on


class RegistryContract:
    """Behaviour every registry must show; a backend's test class inherits it.

    Override the ``registry`` fixture (an initialized, empty registry).
    Capability hooks skip what a backend cannot do, with a reason:
    :meth:`lineage_of` (the lineage store that receives this registry's edges),
    :meth:`decision_log_of` (the decision log this registry commits decisions into),
    :meth:`unreachable_registry` (one whose backend does not answer) and
    :meth:`batch_insert_is_atomic` (``insert_artifacts`` writes all or none).
    """

    @pytest.fixture
    def registry(self) -> Registry:
        pytest.fail(f"{type(self).__name__} must override the `registry` fixture")

    def lineage_of(self, registry: Registry) -> LineageStore | None:
        """The lineage store that receives ``registry``'s edges, or None."""
        return None

    def decision_log_of(self, registry: Registry) -> DecisionLog | None:
        """The decision log ``registry`` commits decisions into with its records, or None."""
        return None

    async def unreachable_registry(self) -> Registry | None:
        """A registry whose backend cannot be reached, or None when that cannot happen."""
        return None

    def batch_insert_is_atomic(self) -> bool:
        """True when ``insert_artifacts`` is one transaction (the port's default is not)."""
        return False

    async def _edges(self, registry: Registry, tenant: str, node: str, direction: Direction) -> list[Any]:
        """Edges one step from ``node`` when the lineage hook is there, else ``[]``."""
        lineage = self.lineage_of(registry)
        return [] if lineage is None else list(await lineage.neighbors(tenant, [node], direction))

    def _lineage(self, registry: Registry) -> LineageStore:
        store = self.lineage_of(registry)
        if store is None:
            pytest.skip("this backend exposes no lineage store for its registry (lineage_of hook)")
        return store

    async def _unreachable(self) -> Registry:
        registry = await self.unreachable_registry()
        if registry is None:
            pytest.skip("this backend cannot be unreachable (unreachable_registry hook)")
        return registry

    async def _insert_catalog(self, registry: Registry) -> None:
        for row in CATALOG:
            fields = dict(zip(CATALOG_COLUMNS, row, strict=True))
            created = ts(fields.pop("second"))
            await registry.insert_artifact(make_record("t1", created_at=created, **fields))
        # Another tenant with a look-alike of r1; never visible to t1.
        fields = dict(zip(CATALOG_COLUMNS, CATALOG[0], strict=True)) | {"artifact_id": "r6"}
        await registry.insert_artifact(make_record("t2", created_at=ts(fields.pop("second")), **fields))

    # -- lifecycle ---------------------------------------------------------

    async def test_initialize_again_keeps_data_and_ping_answers(self, registry: Registry) -> None:
        record = make_record()
        await registry.insert_artifact(record)
        await registry.initialize()
        await registry.ping()
        assert await registry.get_artifact("t1", record.artifact_id) == record

    @pytest.mark.parametrize("operation", ["initialize", "ping", "insert_artifact"])
    async def test_unreachable_backend_raises_backend_unavailable(self, operation: str) -> None:
        registry = await self._unreachable()
        args = (make_record(),) if operation == "insert_artifact" else ()
        with pytest.raises(BackendUnavailableError):
            await getattr(registry, operation)(*args)
        await registry.close()

    # -- insert / get --------------------------------------------------------

    async def test_round_trip_keeps_every_field(self, registry: Registry) -> None:
        record = make_full_record("t1", "art-full_1")
        assert record.expires_at is not None
        await registry.insert_artifact(record)
        got = await registry.get_artifact("t1", "art-full_1")
        assert got.model_dump() == record.model_dump()
        assert got == record
        for value in (got.created_at, got.updated_at, got.expires_at):
            _assert_utc(value)

    async def test_round_trip_keeps_unset_fields_unset(self, registry: Registry) -> None:
        record = make_record()
        await registry.insert_artifact(record)
        got = await registry.get_artifact("t1", record.artifact_id)
        assert got == record
        unset = (got.expires_at, got.uri, got.version, got.metadata, got.tags, got.capabilities)
        assert unset == (None, None, None, {}, (), ())
        _assert_utc(got.created_at)

    async def test_stored_record_is_not_shared_with_callers(self, registry: Registry) -> None:
        record = make_record(metadata={"k": "v"})
        await registry.insert_artifact(record)
        record.metadata["k"] = "changed by caller"
        got = await registry.get_artifact("t1", record.artifact_id)
        got.metadata["added"] = True
        again = await registry.get_artifact("t1", record.artifact_id)
        assert again.metadata == {"k": "v"}

    async def test_get_missing_raises_not_found(self, registry: Registry) -> None:
        with pytest.raises(NotFoundError) as caught:
            await registry.get_artifact("t1", "no-such-id")
        assert caught.value.ref == "no-such-id"

    async def test_get_other_tenant_is_indistinguishable_from_missing(self, registry: Registry) -> None:
        record = make_record("t1")
        await registry.insert_artifact(record)
        with pytest.raises(NotFoundError) as cross:
            await registry.get_artifact("t2", record.artifact_id)
        with pytest.raises(NotFoundError) as missing:
            await registry.get_artifact("t-empty", record.artifact_id)
        assert str(cross.value) == str(missing.value)

    async def test_duplicate_id_conflicts_and_writes_nothing(self, registry: Registry) -> None:
        first = make_record("t1", "dup", metadata={"n": 1})
        await registry.insert_artifact(first)
        second = make_record("t1", "dup", uri=Q4, version="1.0.0", metadata={"n": 2}, created_at=ts(5))
        with pytest.raises(ConflictError):
            await registry.insert_artifact(second, [produced("exec-x", "dup")])
        assert await registry.get_artifact("t1", "dup") == first
        assert await registry.list_versions("t1", Q4) == []
        assert _ids(await registry.list_artifacts("t1", ArtifactFilter(), limit=10)) == ["dup"]
        assert await self._edges(registry, "t1", "exec-x", Direction.DOWNSTREAM) == []

    async def test_duplicate_uri_and_version_conflicts_and_writes_nothing(self, registry: Registry) -> None:
        first = make_record("t1", "v-one", uri=Q3, version="1.0.0")
        await registry.insert_artifact(first)
        with pytest.raises(ConflictError):
            await registry.insert_artifact(
                make_record("t1", "v-two", uri=Q3, version="1.0.0"), [produced("exec-y", "v-two")]
            )
        with pytest.raises(NotFoundError):
            await registry.get_artifact("t1", "v-two")
        assert await registry.list_versions("t1", Q3) == [first]
        assert await self._edges(registry, "t1", "exec-y", Direction.DOWNSTREAM) == []

    async def test_same_id_and_version_in_two_tenants_do_not_conflict(self, registry: Registry) -> None:
        one = make_record("t1", "same", uri=Q3, version="1.0.0", data=b"x")
        two = make_record("t2", "same", uri=Q3, version="1.0.0", data=b"x")
        await _insert_all(registry, one, two)
        assert await registry.get_artifact("t1", "same") == one
        assert await registry.get_artifact("t2", "same") == two

    async def test_insert_hands_edges_to_lineage(self, registry: Registry) -> None:
        lineage = self._lineage(registry)
        edges = [consumed("input-1", "exec-1", at=ts(1)), produced("exec-1", "out-1", at=ts(2))]
        await registry.insert_artifact(make_record(artifact_id="out-1"), edges)
        assert await lineage.neighbors("t1", ["out-1"], Direction.UPSTREAM) == [edges[1]]
        assert await lineage.neighbors("t1", ["input-1"], Direction.DOWNSTREAM) == [edges[0]]

    async def test_insert_skips_edges_already_present(self, registry: Registry) -> None:
        lineage = self._lineage(registry)
        shared = consumed("input-1", "exec-1", at=ts(1))
        await registry.insert_artifact(
            make_record(artifact_id="out-1"), [shared, produced("exec-1", "out-1")]
        )
        again = consumed("input-1", "exec-1", at=ts(9))
        await registry.insert_artifact(make_record(artifact_id="out-2"), [again, produced("exec-1", "out-2")])
        assert await lineage.neighbors("t1", ["input-1"], Direction.DOWNSTREAM) == [shared]
        downstream = await lineage.neighbors("t1", ["exec-1"], Direction.DOWNSTREAM)
        assert sorted(e.target_id for e in downstream) == ["out-1", "out-2"]

    async def test_edges_of_another_tenant_are_refused(self, registry: Registry) -> None:
        record = make_record("t1", "out-1")
        with pytest.raises(InvalidInputError):
            await registry.insert_artifact(record, [produced("exec-1", "out-1", tenant="t2")])
        with pytest.raises(NotFoundError):
            await registry.get_artifact("t1", "out-1")
        assert await self._edges(registry, "t2", "exec-1", Direction.DOWNSTREAM) == []

    # -- batches -------------------------------------------------------------

    async def test_insert_artifacts_inserts_every_record_and_edge(self, registry: Registry) -> None:
        one, two = make_record(artifact_id="one"), make_record("t2", "two")
        edges_one = [produced("exec-1", "one", at=ts(1))]
        edges_two = [produced("exec-2", "two", tenant="t2", at=ts(2))]
        await registry.insert_artifacts([(one, edges_one), (two, edges_two)])
        assert await registry.get_artifact("t1", "one") == one
        assert await registry.get_artifact("t2", "two") == two
        await registry.insert_artifacts([])
        lineage = self.lineage_of(registry)
        if lineage is not None:
            assert await lineage.neighbors("t1", ["one"], Direction.UPSTREAM) == edges_one
            assert await lineage.neighbors("t2", ["two"], Direction.UPSTREAM) == edges_two

    async def test_insert_artifacts_conflict_raises_and_keeps_the_stored_record(
        self, registry: Registry
    ) -> None:
        stored = make_record(artifact_id="dup", metadata={"n": 1})
        await registry.insert_artifact(stored)
        batch = [
            (make_record(artifact_id="fresh"), []),
            (make_record(artifact_id="dup", metadata={"n": 2}), []),
        ]
        with pytest.raises(ConflictError):
            await registry.insert_artifacts(batch)
        assert await registry.get_artifact("t1", "dup") == stored
        with pytest.raises(ConflictError):
            await registry.insert_artifacts(
                [(make_record(artifact_id="twice"), []), (make_record(artifact_id="twice"), [])]
            )

    async def test_insert_artifacts_conflict_writes_none(self, registry: Registry) -> None:
        if not self.batch_insert_is_atomic():
            pytest.skip("this backend inserts a batch one by one (batch_insert_is_atomic hook)")
        await registry.insert_artifact(make_record(artifact_id="stored", uri=Q3, version="1.0.0"))
        cases = [
            [make_record(artifact_id="fresh"), make_record(artifact_id="stored")],
            [make_record(artifact_id="fresh"), make_record(artifact_id="clash", uri=Q3, version="1.0.0")],
            [make_record(artifact_id="fresh"), make_record(artifact_id="fresh", data=b"other")],
            [
                make_record(artifact_id="fresh", uri=Q3, version="2.0.0"),
                make_record(artifact_id="other", uri=Q3, version="2.0.0"),
            ],
        ]
        for records in cases:
            with pytest.raises(ConflictError):
                await registry.insert_artifacts([(r, [produced("exec-b", r.artifact_id)]) for r in records])
            assert await registry.get_many("t1", ["fresh", "clash", "other"]) == {}
        assert [r.version for r in await registry.list_versions("t1", Q3)] == ["1.0.0"]
        assert await self._edges(registry, "t1", "exec-b", Direction.DOWNSTREAM) == []

    def _decision_log(self, registry: Registry) -> DecisionLog:
        log = self.decision_log_of(registry)
        if log is None:
            pytest.skip("this backend holds no decision log (decision_log_of hook)")
        assert registry.holds_decisions_of(log)
        return log

    async def test_decisions_commit_with_the_record(self, registry: Registry) -> None:
        log = self._decision_log(registry)
        allowed = [make_decision(action="create"), make_decision(action="read")]
        await registry.insert_artifact(make_record(artifact_id="a1"), decisions=allowed)
        batch = [make_decision(action="create")]
        await registry.insert_artifacts(
            [(make_record(artifact_id="b1"), ()), (make_record(), ())], decisions=batch
        )
        logged = await log.query("t1", DecisionFilter(), limit=10)
        assert {d.decision_id for d in logged} == {d.decision_id for d in allowed + batch}
        assert set(await registry.get_many("t1", ["a1", "b1"])) == {"a1", "b1"}

    async def test_a_conflicting_insert_writes_no_decision(self, registry: Registry) -> None:
        log = self._decision_log(registry)
        await registry.insert_artifact(make_record(artifact_id="a1"))
        with pytest.raises(ConflictError):
            await registry.insert_artifact(make_record(artifact_id="a1"), decisions=[make_decision()])
        if self.batch_insert_is_atomic():
            pair = [(make_record(artifact_id="fresh"), ()), (make_record(artifact_id="a1"), ())]
            with pytest.raises(ConflictError):
                await registry.insert_artifacts(pair, decisions=[make_decision()])
        assert await log.query("t1", DecisionFilter(), limit=10) == []

    async def test_decisions_of_another_tenant_are_refused(self, registry: Registry) -> None:
        log = self._decision_log(registry)
        with pytest.raises(InvalidInputError) as err:
            await registry.insert_artifact(make_record(artifact_id="a1"), decisions=[make_decision("t2")])
        assert err.value.field == "decisions"
        assert await registry.get_many("t1", ["a1"]) == {}
        assert await log.query("t2", DecisionFilter(), limit=10) == []

    async def test_a_registry_refuses_decisions_for_a_log_it_does_not_hold(self, registry: Registry) -> None:
        from artifact_plane.adapters.memory import MemoryDecisionLog

        assert not registry.holds_decisions_of(MemoryDecisionLog())

    async def test_get_many_returns_existing_and_skips_missing(self, registry: Registry) -> None:
        a, b = make_record(artifact_id="a"), make_record(artifact_id="b")
        await _insert_all(registry, a, b, make_record("t2", "theirs"))
        assert await registry.get_many("t1", ["a", "missing", "b", "theirs"]) == {"a": a, "b": b}
        assert await registry.get_many("t2", ["a", "b"]) == {}
        assert await registry.get_many("t1", []) == {}

    # -- listing -------------------------------------------------------------

    @pytest.mark.parametrize(
        ("query", "expected"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
    )
    async def test_list_filters(self, registry: Registry, query: dict[str, Any], expected: list[str]) -> None:
        await self._insert_catalog(registry)
        found = await registry.list_artifacts("t1", ArtifactFilter(**query), limit=100)
        assert _ids(found) == expected

    async def test_list_is_tenant_scoped(self, registry: Registry) -> None:
        await self._insert_catalog(registry)
        assert _ids(await registry.list_artifacts("t2", ArtifactFilter(), limit=100)) == ["r6"]
        assert await registry.list_artifacts("t3", ArtifactFilter(), limit=100) == []

    async def test_list_orders_by_created_at_then_id(self, registry: Registry) -> None:
        for artifact_id, second in [("c", 5), ("b", 1), ("z", 1), ("a", 5), ("m", 3)]:
            await registry.insert_artifact(make_record(artifact_id=artifact_id, created_at=ts(second)))
        found = await registry.list_artifacts("t1", ArtifactFilter(), limit=100)
        assert _ids(found) == ["b", "z", "m", "a", "c"]
        assert _ids(await registry.list_artifacts("t1", ArtifactFilter(), limit=2)) == ["b", "z"]

    async def test_list_pages_walk_every_record_once_in_order(self, registry: Registry) -> None:
        records = [
            make_record(artifact_id=f"p{(i * 7) % 25:02d}", created_at=ts(i // 3), metadata={"i": i})
            for i in range(25)
        ]
        for record in reversed(records):
            await registry.insert_artifact(record)
        expected = [r.artifact_id for r in sorted(records, key=lambda r: (r.created_at, r.artifact_id))]
        seen: list[str] = []
        sizes: list[int] = []
        after: tuple[datetime, str] | None = None
        while True:
            page = await registry.list_artifacts("t1", ArtifactFilter(), limit=10, after=after)
            sizes.append(len(page))
            seen.extend(_ids(page))
            if len(page) < 10:
                break
            after = (page[-1].created_at, page[-1].artifact_id)
        assert sizes == [10, 10, 5]
        assert seen == expected

    async def test_list_after_is_exclusive_within_equal_timestamps(self, registry: Registry) -> None:
        for artifact_id in ["a", "b", "c"]:
            await registry.insert_artifact(make_record(artifact_id=artifact_id, created_at=ts(1)))
        page = await registry.list_artifacts("t1", ArtifactFilter(), limit=10, after=(ts(1), "a"))
        assert _ids(page) == ["b", "c"]

    # -- resource scans (what a policy audit reads) ----------------------------

    SCAN_FIELD_SETS: tuple[tuple[str, ...] | None, ...] = (
        None,  # every field
        (),  # the identity only
        ("tags", "inherited_tags", "size_bytes", "retention_policy"),  # what the shipped policies read
        (
            "metadata",
            "capabilities",
            "expires_at",
            "created_at",
            "updated_at",
            "status",
            "regenerable",
            "ttl",
        ),
        ("new_retention_policy", "version_key", "payload_key", "no_such_field"),  # none is a resource field
    )

    async def test_scan_resources_give_exactly_the_records_resources(self, registry: Registry) -> None:
        full = make_full_record()
        plain = make_record(artifact_id="plain", created_at=ts(5))  # no uri, no creator, empty lists
        tagged = make_record(
            artifact_id="tagged",
            created_at=ts(6),
            tags=("pii",),
            inherited_tags=("phi", "confidential"),
            metadata={"api_key": "x", "n": [1, 2.5, None, True]},
            expires_at=ts(9),
            ttl=3,
            created_by="writer-1",
            uri="artifact://insights/reports/deep/q3.csv",
        )
        await _insert_all(registry, full, plain, tagged)
        ordered = sorted([full, plain, tagged], key=lambda r: (r.created_at, r.artifact_id))
        for fields in self.SCAN_FIELD_SETS:
            page = await registry.scan_resources("t1", ArtifactFilter(), fields=fields, limit=10)
            keep = None if fields is None else scanned_fields(fields)
            assert page.resources == [record.resource(keep) for record in ordered], fields
            assert page.after == (ordered[-1].created_at, ordered[-1].artifact_id)
            if keep is not None:
                assert all(set(resource) == keep for resource in page.resources)
                assert keep >= SCAN_IDENTITY
                assert not keep & {"version_key", "payload_key", "new_retention_policy", "no_such_field"}
        whole = (await registry.scan_resources("t1", ArtifactFilter(), fields=None, limit=10)).resources
        assert whole[-1] == full.resource()  # the full record is the newest
        assert "payload_key" not in whole[-1]
        assert "version_key" not in whole[-1]

    async def test_scan_resources_page_filter_and_tenant_like_list_artifacts(
        self, registry: Registry
    ) -> None:
        await self._insert_catalog(registry)
        for query in (
            {},
            {"realm": "insights"},
            {"tags": ("q3",)},
            {"uri_glob": "artifact://*/reports/*.json"},
        ):
            listed = await registry.list_artifacts("t1", ArtifactFilter(**query), limit=100)
            seen: list[str] = []
            after: tuple[datetime, str] | None = None
            while True:
                page = await registry.scan_resources(
                    "t1", ArtifactFilter(**query), fields=("tags",), limit=2, after=after
                )
                seen.extend(resource["artifact_id"] for resource in page.resources)
                assert all(resource["tenant_id"] == "t1" for resource in page.resources)
                if not page.resources:
                    assert page.after is None
                    break
                after = page.after
            assert seen == _ids(listed), query
        other = await registry.scan_resources("t2", ArtifactFilter(), fields=("tags",), limit=100)
        assert [r["artifact_id"] for r in other.resources] == ["r6"]
        empty = await registry.scan_resources("t3", ArtifactFilter(), fields=None, limit=100)
        assert empty.resources == []
        assert empty.after is None
        assert (await registry.scan_resources("t1", ArtifactFilter(), fields=(), limit=0)).resources == []

    # -- versions ------------------------------------------------------------

    async def test_list_versions_orders_by_semver(self, registry: Registry) -> None:
        inserted = ["1.10.0", "1.9.0", "2.0.0", "2.0.0-rc.1", "1.0.0"]
        for n, version in enumerate(inserted):
            status = PENDING if version == "1.9.0" else READY
            await registry.insert_artifact(
                make_record(uri=Q3, version=version, status=status, created_at=ts(100 - n))
            )
        await _insert_all(
            registry, make_record(uri=Q4, version="0.1.0"), make_record("t2", uri=Q3, version="0.0.1")
        )
        found = await registry.list_versions("t1", Q3)
        assert [r.version for r in found] == ["1.0.0", "1.9.0", "1.10.0", "2.0.0-rc.1", "2.0.0"]
        assert await registry.list_versions("t1", "artifact://insights/unknown.json") == []
        assert [r.version for r in await registry.list_versions("t2", Q3)] == ["0.0.1"]
        assert await registry.list_versions("t3", Q3) == []

    # -- status --------------------------------------------------------------

    async def test_update_status_sets_status_and_updated_at(self, registry: Registry) -> None:
        record = make_record(status=PENDING, created_at=ts(1))
        await registry.insert_artifact(record)
        updated = await registry.update_status("t1", record.artifact_id, [PENDING], READY, ts(99))
        assert updated.status is READY
        assert updated.updated_at == ts(99)
        assert updated.model_dump(exclude={"status", "updated_at"}) == record.model_dump(
            exclude={"status", "updated_at"}
        )
        assert await registry.get_artifact("t1", record.artifact_id) == updated

    async def test_update_status_accepts_any_expected_status(self, registry: Registry) -> None:
        record = make_record(status=READY)
        await registry.insert_artifact(record)
        updated = await registry.update_status("t1", record.artifact_id, [PENDING, READY], EXPIRED, ts(5))
        assert updated.status is EXPIRED

    async def test_update_status_missing_raises_not_found(self, registry: Registry) -> None:
        record = make_record(status=PENDING)
        await registry.insert_artifact(record)
        with pytest.raises(NotFoundError):
            await registry.update_status("t1", "no-such-id", [PENDING], READY, ts(5))
        with pytest.raises(NotFoundError):
            await registry.update_status("t2", record.artifact_id, [PENDING], READY, ts(5))
        assert await registry.get_artifact("t1", record.artifact_id) == record

    async def test_update_status_wrong_current_raises_conflict(self, registry: Registry) -> None:
        record = make_record(status=FAILED)
        await registry.insert_artifact(record)
        with pytest.raises(ConflictError):
            await registry.update_status("t1", record.artifact_id, [PENDING], READY, ts(5))
        assert await registry.get_artifact("t1", record.artifact_id) == record

    # -- retention -----------------------------------------------------------

    async def test_update_retention_sets_policy_ttl_and_expiry(self, registry: Registry) -> None:
        record = make_record(created_at=ts(1), retention_policy="short", ttl=60)
        await registry.insert_artifact(record)
        updated = await registry.update_retention(
            "t1",
            record.artifact_id,
            retention_policy="keep-7y",
            ttl=3600,
            expires_at=ts(3601),
            at=ts(99),
            expected_updated_at=record.updated_at,
        )
        assert (updated.retention_policy, updated.ttl, updated.expires_at) == ("keep-7y", 3600, ts(3601))
        assert updated.updated_at == ts(99)
        unchanged = {"retention_policy", "ttl", "expires_at", "updated_at"}
        assert updated.model_dump(exclude=unchanged) == record.model_dump(exclude=unchanged)
        assert await registry.get_artifact("t1", record.artifact_id) == updated
        _assert_utc((await registry.get_artifact("t1", record.artifact_id)).expires_at)

    async def test_update_retention_clears_and_the_sweep_follows(self, registry: Registry) -> None:
        kept = make_record(artifact_id="kept", status=PENDING, retention_policy="short", ttl=5)
        await registry.insert_artifact(kept)
        cleared = await registry.update_retention(
            "t1", "kept", retention_policy=None, ttl=None, expires_at=None, at=ts(2), expected_updated_at=T0
        )
        assert (cleared.retention_policy, cleared.ttl, cleared.expires_at) == (None, None, None)
        assert cleared.status is PENDING
        # A shortened TTL makes a ready record due; a cleared one never is.
        due = make_record(artifact_id="due", ttl=3600)
        await registry.insert_artifact(due)
        await registry.update_retention(
            "t1", "due", retention_policy=None, ttl=1, expires_at=ts(1), at=ts(2), expected_updated_at=T0
        )
        await registry.update_status("t1", "kept", [PENDING], READY, ts(3))
        assert _ids(await registry.expire_due(ts(10_000), 10)) == ["due"]

    async def test_update_retention_missing_or_other_tenant_raises_not_found(
        self, registry: Registry
    ) -> None:
        record = make_record(retention_policy="short")
        await registry.insert_artifact(record)
        for tenant, art_id in (("t1", "no-such-id"), ("t2", record.artifact_id)):
            with pytest.raises(NotFoundError):
                await registry.update_retention(
                    tenant,
                    art_id,
                    retention_policy="x",
                    ttl=None,
                    expires_at=None,
                    at=ts(5),
                    expected_updated_at=record.updated_at,
                )
        assert await registry.get_artifact("t1", record.artifact_id) == record

    @pytest.mark.parametrize("status", [EXPIRED, FAILED])
    async def test_update_retention_of_a_final_status_conflicts(
        self, registry: Registry, status: ArtifactStatus
    ) -> None:
        record = make_record(status=status, retention_policy="short")
        await registry.insert_artifact(record)
        with pytest.raises(ConflictError) as err:
            await registry.update_retention(
                "t1",
                record.artifact_id,
                retention_policy="long",
                ttl=None,
                expires_at=None,
                at=ts(5),
                expected_updated_at=record.updated_at,
            )
        assert status.value in str(err.value)
        assert await registry.get_artifact("t1", record.artifact_id) == record

    async def test_update_retention_of_a_changed_record_conflicts(self, registry: Registry) -> None:
        record = make_record(status=PENDING, retention_policy="short")
        await registry.insert_artifact(record)
        moved = await registry.update_status("t1", record.artifact_id, [PENDING], READY, ts(7))
        with pytest.raises(ConflictError) as err:
            await registry.update_retention(
                "t1",
                record.artifact_id,
                retention_policy="long",
                ttl=None,
                expires_at=None,
                at=ts(8),
                expected_updated_at=record.updated_at,
            )
        assert "retry" in str(err.value)
        assert await registry.get_artifact("t1", record.artifact_id) == moved

    @pytest.mark.parametrize(
        ("ttl", "expires_at"),
        [(-1, ts(0)), (2**31, ts(0)), (60, None), (None, ts(60))],
        ids=["negative", "too-large", "no-expiry", "no-ttl"],
    )
    async def test_update_retention_refuses_bad_ttl_and_expiry(
        self, registry: Registry, ttl: int | None, expires_at: datetime | None
    ) -> None:
        record = make_record(ttl=30)
        await registry.insert_artifact(record)
        with pytest.raises(InvalidInputError):
            await registry.update_retention(
                "t1",
                record.artifact_id,
                retention_policy=None,
                ttl=ttl,
                expires_at=expires_at,
                at=ts(5),
                expected_updated_at=record.updated_at,
            )
        assert await registry.get_artifact("t1", record.artifact_id) == record

    # -- delete --------------------------------------------------------------

    async def test_delete_returns_deleted_records(self, registry: Registry) -> None:
        a, b, c = (make_record(artifact_id=i) for i in "abc")
        await _insert_all(registry, a, b, c)
        deleted = await registry.delete_artifacts("t1", ["a", "missing", "b"], ts(100))
        assert sorted(deleted, key=lambda r: r.artifact_id) == [a, b]
        for gone in ("a", "b"):
            with pytest.raises(NotFoundError):
                await registry.get_artifact("t1", gone)
        assert _ids(await registry.list_artifacts("t1", ArtifactFilter(), limit=10)) == ["c"]
        assert await registry.delete_artifacts("t1", ["a"], ts(101)) == []

    async def test_delete_does_not_cross_tenants(self, registry: Registry) -> None:
        record = make_record("t1")
        await registry.insert_artifact(record)
        assert await registry.delete_artifacts("t2", [record.artifact_id], ts(100)) == []
        assert await registry.get_artifact("t1", record.artifact_id) == record

    async def test_delete_frees_the_version(self, registry: Registry) -> None:
        old = make_record(artifact_id="old", uri=Q3, version="1.0.0")
        await registry.insert_artifact(old)
        await registry.delete_artifacts("t1", ["old"], ts(100))
        assert await registry.list_versions("t1", Q3) == []
        new = make_record(artifact_id="new", uri=Q3, version="1.0.0")
        await registry.insert_artifact(new)
        assert await registry.list_versions("t1", Q3) == [new]

    async def test_delete_closes_open_edges_at_the_given_time(self, registry: Registry) -> None:
        lineage = self._lineage(registry)
        into = consumed("input-1", "exec-1", at=ts(1))
        out = produced("exec-1", "gone", at=ts(1))
        kept = produced("exec-2", "kept", at=ts(1))
        await registry.insert_artifact(make_record(artifact_id="gone"), [into, out])
        await registry.insert_artifact(make_record(artifact_id="kept"), [kept])
        await registry.delete_artifacts("t1", ["gone"], ts(100))
        assert await lineage.neighbors("t1", ["gone"], Direction.UPSTREAM) == []
        before = await lineage.neighbors("t1", ["gone"], Direction.UPSTREAM, as_of=ts(50))
        assert before == [out.model_copy(update={"closed_at": ts(100)})]
        assert await lineage.neighbors("t1", ["gone"], Direction.UPSTREAM, as_of=ts(100)) == []
        # The input's edge does not touch the deleted artifact: still open.
        assert await lineage.neighbors("t1", ["input-1"], Direction.DOWNSTREAM) == [into]
        assert await lineage.neighbors("t1", ["kept"], Direction.UPSTREAM) == [kept]

    # -- executions and sweeps ---------------------------------------------

    async def test_find_by_execution(self, registry: Registry) -> None:
        a = make_record(artifact_id="a", execution_id="exec-1", created_at=ts(2))
        b = make_record(artifact_id="b", execution_id="exec-1", created_at=ts(1))
        c = make_record(artifact_id="c", execution_id="exec-2")
        theirs = make_record("t2", "d", execution_id="exec-1")
        await _insert_all(registry, a, b, c, make_record(artifact_id="no-execution"), theirs)
        found = await registry.find_by_execution("t1", "exec-1")
        assert sorted(found, key=lambda r: r.artifact_id) == [a, b]
        assert await registry.find_by_execution("t1", "exec-unknown") == []
        assert _ids(await registry.find_by_execution("t2", "exec-1")) == ["d"]
        assert await registry.find_by_execution("t3", "exec-1") == []

    async def test_add_inherited_tags_is_a_union_within_the_tenant(self, registry: Registry) -> None:
        own = make_record(artifact_id="own", tags=("q3",), inherited_tags=("pii",))
        plain = make_record(artifact_id="plain")
        other = make_record(artifact_id="other", inherited_tags=("confidential",))
        theirs = make_record("t2", "plain")
        await _insert_all(registry, own, plain, other, theirs)
        changed = await registry.add_inherited_tags(
            "t1", ["own", "plain", "other", "nobody"], ["pii", "phi"], ts(50)
        )
        assert sorted(changed) == ["other", "own", "plain"]
        got = await registry.get_many("t1", ["own", "plain", "other"])
        assert got["other"].inherited_tags == ("confidential", "pii", "phi")  # each row its own union
        assert got["own"].inherited_tags == ("pii", "phi")
        assert got["own"].tags == ("q3",)  # own tags are never touched
        assert got["plain"].inherited_tags == ("pii", "phi")
        assert got["plain"].updated_at == ts(50)
        # Again: nothing changes, nothing is stamped.
        assert await registry.add_inherited_tags("t1", ["own", "plain"], ["phi"], ts(60)) == []
        assert (await registry.get_artifact("t1", "plain")).updated_at == ts(50)
        # Another tenant's record with the same ID is never touched.
        assert (await registry.get_artifact("t2", "plain")).inherited_tags == ()
        # The tag filter matches inherited tags as well as own ones.
        found = await registry.list_artifacts("t1", ArtifactFilter(tags=("phi",)), limit=10)
        assert sorted(_ids(found)) == ["other", "own", "plain"]
        assert _ids(await registry.list_artifacts("t2", ArtifactFilter(tags=("phi",)), limit=10)) == []

    async def test_expire_due_expires_only_ready_and_due(self, registry: Registry) -> None:
        cases = {
            "due-early": ("t1", READY, ts(10)),
            "due-now": ("t1", READY, ts(20)),  # expires_at == now is due
            "due-other-tenant": ("t2", READY, ts(15)),
            "future": ("t1", READY, ts(21)),
            "pending": ("t1", PENDING, ts(5)),
            "failed": ("t1", FAILED, ts(5)),
            "no-ttl": ("t1", READY, None),
        }
        for artifact_id, (tenant, status, at) in cases.items():
            await registry.insert_artifact(make_record(tenant, artifact_id, status=status, expires_at=at))
        expired = await registry.expire_due(ts(20), limit=100)
        assert sorted(_ids(expired)) == ["due-early", "due-now", "due-other-tenant"]
        for record in expired:
            assert record.status is EXPIRED
            assert record.updated_at == ts(20)
            assert await registry.get_artifact(record.tenant_id, record.artifact_id) == record
        for artifact_id in ("future", "pending", "failed", "no-ttl"):
            record = await registry.get_artifact("t1", artifact_id)
            assert record.status is cases[artifact_id][1]
            assert record.updated_at == ts(0)
        assert await registry.expire_due(ts(20), limit=100) == []

    async def test_fail_abandoned_executions_fails_only_old_running_ones(self, registry: Registry) -> None:
        running, done = ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED
        cases = {
            "old": ("t1", running, ts(1)),
            "old-other-tenant": ("t2", running, ts(2)),
            "just-started": ("t1", running, ts(10)),  # started_at == cutoff is not before it
            "finished": ("t1", done, ts(0)),
        }
        for execution_id, (tenant, status, started) in cases.items():
            execution = make_execution(tenant, execution_id, status=status, started_at=started)
            await registry.put_execution(execution)
        failed = await registry.fail_abandoned_executions(ts(10), "abandoned", ts(30), limit=100)
        assert [e.execution_id for e in failed] == ["old", "old-other-tenant"]
        for execution in failed:
            assert (execution.status, execution.error, execution.finished_at) == (
                ExecutionStatus.FAILED,
                "abandoned",
                ts(30),
            )
            assert await registry.get_execution(execution.tenant_id, execution.execution_id) == execution
        assert (await registry.get_execution("t1", "just-started")).status is running
        assert (await registry.get_execution("t1", "finished")).status is done
        assert await registry.fail_abandoned_executions(ts(10), "abandoned", ts(30), limit=100) == []

    async def test_fail_abandoned_executions_respects_limit(self, registry: Registry) -> None:
        for n in range(3):
            stuck = make_execution("t1", f"e{n}", status=ExecutionStatus.RUNNING, started_at=ts(n))
            await registry.put_execution(stuck)
        first = await registry.fail_abandoned_executions(ts(10), "abandoned", ts(30), limit=2)
        assert [e.execution_id for e in first] == ["e0", "e1"]
        assert await registry.fail_abandoned_executions(ts(10), "abandoned", ts(30), limit=0) == []
        rest = await registry.fail_abandoned_executions(ts(10), "abandoned", ts(30), limit=2)
        assert [e.execution_id for e in rest] == ["e2"]

    async def test_expire_due_respects_limit(self, registry: Registry) -> None:
        for n in range(3):
            await registry.insert_artifact(make_record(artifact_id=f"due-{n}", expires_at=ts(n)))
        first = await registry.expire_due(ts(10), limit=2)
        second = await registry.expire_due(ts(10), limit=2)
        assert len(first) == 2
        assert len(second) == 1
        assert sorted(_ids(first + second)) == ["due-0", "due-1", "due-2"]
        assert await registry.expire_due(ts(10), limit=2) == []

    async def test_referenced_digests_applies_the_grace(self, registry: Registry) -> None:
        grace_end = ts(100)
        rows = [  # (artifact id, payload, status, updated second)
            ("live", b"live", READY, 0),
            ("old-expired", b"old", EXPIRED, 50),
            ("boundary-expired", b"boundary", EXPIRED, 100),  # not before the grace end
            ("recent-expired", b"recent", EXPIRED, 150),
            ("shared-expired", b"shared", EXPIRED, 50),
            ("shared-live", b"shared", READY, 0),
            ("pending", b"pending", PENDING, 0),
            ("failed", b"failed", FAILED, 0),
        ]
        digests: dict[bytes, str] = {}
        for artifact_id, data, status, updated in rows:
            record = make_record("t1", artifact_id, data=data, status=status, updated_at=ts(updated))
            digests[data] = record.sha256
            await registry.insert_artifact(record)
        theirs = make_record("t2", "theirs", data=b"theirs")
        await registry.insert_artifact(theirs)
        unknown = make_record(data=b"never stored").sha256
        asked = [*digests.values(), theirs.sha256, unknown]
        needed = await registry.referenced_digests("t1", asked, grace_end)
        assert needed == {
            digests[d] for d in (b"live", b"boundary", b"recent", b"shared", b"pending", b"failed")
        }
        assert await registry.referenced_digests("t2", asked, grace_end) == {theirs.sha256}
        assert await registry.referenced_digests("t1", [], grace_end) == set()

    async def test_execution_round_trip_and_replace(self, registry: Registry) -> None:
        started = datetime(2024, 2, 2, 2, 2, 2, 222222, tzinfo=UTC)
        execution = make_execution("t1", "exec-1", realm="insights", intent="quality_report", operator="op-1")
        execution = execution.model_copy(
            update={"status": ExecutionStatus.RUNNING, "inputs": ("a", "b"), "started_at": started}
        )
        await registry.put_execution(execution)
        assert await registry.get_execution("t1", "exec-1") == execution
        _assert_utc((await registry.get_execution("t1", "exec-1")).started_at)
        failed = {"status": ExecutionStatus.FAILED, "outputs": ("c",), "error": "boom", "finished_at": ts(60)}
        done = execution.model_copy(update=failed)
        await registry.put_execution(done)
        assert await registry.get_execution("t1", "exec-1") == done

    async def test_get_execution_missing_or_other_tenant_raises_not_found(self, registry: Registry) -> None:
        await registry.put_execution(make_execution("t1", "exec-1"))
        with pytest.raises(NotFoundError):
            await registry.get_execution("t1", "exec-unknown")
        with pytest.raises(NotFoundError):
            await registry.get_execution("t2", "exec-1")
        theirs = make_execution("t2", "exec-1", intent="theirs")
        await registry.put_execution(theirs)
        assert await registry.get_execution("t2", "exec-1") == theirs
        assert (await registry.get_execution("t1", "exec-1")).intent is None

    async def test_get_executions_returns_existing_and_skips_missing(self, registry: Registry) -> None:
        one, two = make_execution("t1", "exec-1"), make_execution("t1", "exec-2", intent="second")
        for execution in (one, two, make_execution("t2", "exec-3")):
            await registry.put_execution(execution)
        found = await registry.get_executions("t1", ["exec-1", "missing", "exec-2", "exec-3"])
        assert found == {"exec-1": one, "exec-2": two}
        assert await registry.get_executions("t2", ["exec-1", "exec-2"]) == {}
        assert await registry.get_executions("t1", []) == {}

    # -- names ---------------------------------------------------------------

    async def test_claim_name_is_new_once(self, registry: Registry) -> None:
        assert await registry.claim_name("t1", Q3, exclusive=True) is True
        assert await registry.claim_name("t1", Q3, exclusive=False) is False
        with pytest.raises(ConflictError):
            await registry.claim_name("t1", Q3, exclusive=True)
        assert await registry.claim_name("t2", Q3, exclusive=True) is True

    async def test_release_name_forgets_a_name_without_versions(self, registry: Registry) -> None:
        await registry.claim_name("t1", Q3, exclusive=True)
        await registry.claim_name("t2", Q3, exclusive=True)
        await registry.release_name("t1", Q3)
        assert await registry.claim_name("t1", Q3, exclusive=True) is True
        with pytest.raises(ConflictError):
            await registry.claim_name("t2", Q3, exclusive=True)
        await registry.release_name("t1", "artifact://insights/never-claimed.json")

    async def test_a_name_with_versions_exists_and_is_not_released(self, registry: Registry) -> None:
        await registry.claim_name("t1", Q3, exclusive=True)
        await registry.insert_artifact(make_record(uri=Q3, version="1.0.0"))
        await registry.release_name("t1", Q3)
        with pytest.raises(ConflictError):
            await registry.claim_name("t1", Q3, exclusive=True)
        assert await registry.claim_name("t1", Q3, exclusive=False) is False

    async def test_inserting_a_version_makes_its_name_exist(self, registry: Registry) -> None:
        await registry.insert_artifact(make_record(uri=Q3, version="1.0.0"))
        with pytest.raises(ConflictError):
            await registry.claim_name("t1", Q3, exclusive=True)
        assert await registry.claim_name("t2", Q3, exclusive=True) is True
