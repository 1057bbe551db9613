"""Identity rules: IDs, digests, artifact:// URIs and globs, semantic versions, references."""

from __future__ import annotations

import random
import re

import pytest

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import (
    ArtifactUri,
    SemVer,
    artifact_ref,
    compute_artifact_id,
    digest_bytes,
    is_artifact_ref,
    payload_key,
    uri_glob_regex,
    validate_id,
)

# The precedence list of semver.org §11, lowest first.
SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.9.0",
    "1.10.0",
    "1.11.0",
    "2.0.0",
    "10.0.0",
]


def test_semver_precedence_follows_the_spec() -> None:
    shuffled = SPEC_ORDER[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=SemVer.parse) == SPEC_ORDER


def test_sort_key_orders_as_precedence_in_byte_order() -> None:
    # The key is what SQL ORDER BY and >= compare: plain string order must be semver order.
    shuffled = SPEC_ORDER[:]
    random.Random(11).shuffle(shuffled)
    assert sorted(shuffled, key=lambda v: SemVer.parse(v).sort_key()) == SPEC_ORDER
    assert re.fullmatch(r"[0-9a-f]+", SemVer.parse("1.0.0-rc.1").sort_key())


def test_build_metadata_does_not_change_precedence() -> None:
    assert SemVer.parse("1.0.0+build.5") == SemVer.parse("1.0.0+other")
    assert SemVer.parse("1.0.0+build.5").sort_key() == SemVer.parse("1.0.0").sort_key()
    assert str(SemVer.parse("1.2.3-rc.1+b7")) == "1.2.3-rc.1+b7"


@pytest.mark.parametrize(
    "bad", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0 ", "", "1.0.0-ä"]
)
def test_invalid_versions_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        SemVer.parse(bad)
    assert err.value.field == "version"


def test_next_patch() -> None:
    assert str(SemVer.parse("1.2.3").next_patch()) == "1.2.4"
    assert str(SemVer.parse("1.2.3-rc.1").next_patch()) == "1.2.3"


@pytest.mark.parametrize("good", ["a", "A-b_9", "x" * 128, "0" * 32])
def test_valid_ids(good: str) -> None:
    assert validate_id(good) == good


@pytest.mark.parametrize(
    "bad", ["", "..", ".", "a/b", "a\\b", "a\x00", "t\u0435nant", "x" * 129, "a b", "a.b", "ü", None, 5]
)
def test_invalid_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_id(bad)


def test_content_addressing() -> None:
    digest = digest_bytes(b"abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert compute_artifact_id(b"abc") == digest[:32] == compute_artifact_id(digest=digest)
    named = compute_artifact_id(digest=digest, uri="artifact://r/a", version="1.0.0")
    assert named != digest[:32]
    assert named != compute_artifact_id(digest=digest, uri="artifact://r/b", version="1.0.0")
    assert named != compute_artifact_id(digest=digest, uri="artifact://r/a", version="1.0.1")
    assert payload_key("acme", digest) == f"tenants/acme/sha256/ba/78/{digest}"
    with pytest.raises(InvalidInputError):
        payload_key("acme", "BA" + digest[2:])
    with pytest.raises(InvalidInputError):
        payload_key("../etc", digest)


def test_uris_parse_and_resolve_self() -> None:
    uri = ArtifactUri.parse("artifact://self/reports/q3.json", self_realm="insights")
    assert (uri.realm, uri.path, str(uri)) == (
        "insights",
        "reports/q3.json",
        "artifact://insights/reports/q3.json",
    )
    with pytest.raises(InvalidInputError):
        ArtifactUri.parse("artifact://self/x", self_realm=None)


@pytest.mark.parametrize(
    "bad",
    [
        "artifact://r/../x",
        "artifact://r/a//b",
        "artifact://r/./a",
        "artifact://r/",
        "artifact://r",
        "artifact://r/a\x00",
        "artifact://r/ä",
        "file:///etc/passwd",
        "artifact://../a",
        "artifact://r/a b",
    ],
)
def test_bad_uris_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        ArtifactUri.parse(bad)


@pytest.mark.parametrize(
    ("glob", "uri", "matches"),
    [
        ("artifact://mind/pack/**", "artifact://mind/pack/a.json", True),
        ("artifact://mind/pack/**", "artifact://mind/pack/a/b/c.json", True),
        ("artifact://mind/pack/**", "artifact://mind/packs/a.json", False),
        ("artifact://mind/pack/*", "artifact://mind/pack/a.json", True),
        ("artifact://mind/pack/*", "artifact://mind/pack/a/b.json", False),
        ("artifact://mind/*.json", "artifact://mind/axjson", False),  # '.' is literal
        ("artifact://*/pack/*", "artifact://other/pack/x", True),
        ("artifact://mind/pack/a.json", "artifact://mind/pack/a.json", True),
        ("artifact://mind/pack/a.json", "artifact://mind/pack/a.json.bak", False),
    ],
)
def test_uri_globs(glob: str, uri: str, matches: bool) -> None:
    prefix, regex = uri_glob_regex(glob)
    assert (re.fullmatch(regex, uri) is not None) is matches
    assert glob.startswith(prefix)
    if matches:
        assert uri.startswith(prefix)


@pytest.mark.parametrize(
    "bad", ["artifact://mind/../x/**", "artifact://mind/a'b", "artifact://mind/%", "mind/**"]
)
def test_bad_globs_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        uri_glob_regex(bad)


def test_artifact_refs() -> None:
    ref = artifact_ref("abc")
    assert ref == {"$artifact": "abc"}
    assert is_artifact_ref(ref)
    assert not is_artifact_ref({"$artifact": "../x"})
    assert not is_artifact_ref({"$artifact": "abc", "extra": 1})
    assert not is_artifact_ref("abc")
    with pytest.raises(InvalidInputError):
        artifact_ref("a/b")
