"""The test emulator answers preconditions as GCS documents them (tests/gcs.py wraps gcp-storage-emulator).

Against an external ``AP_TEST_GCS_URL`` server these show whether it does too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as api

from tests.gcs import raw_client


@pytest.fixture
def bucket(gcs_server: str, gcs_bucket: str) -> Any:
    return raw_client(gcs_server).bucket(gcs_bucket)


def test_insert_with_generation_zero_refuses_an_existing_object(bucket: Any) -> None:
    blob = bucket.blob("k")
    blob.upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(api.PreconditionFailed):
        bucket.blob("k").upload_from_string(b"second", if_generation_match=0)
    assert bucket.blob("k").download_as_bytes() == b"first"


def test_rewrite_to_an_existing_destination_with_generation_zero_is_refused(bucket: Any) -> None:
    source = bucket.blob("tmp/source")
    source.upload_from_string(b"new")
    bucket.blob("dest").upload_from_string(b"old")
    with pytest.raises(api.PreconditionFailed):
        bucket.blob("dest").rewrite(source, if_generation_match=0)
    assert bucket.blob("dest").download_as_bytes() == b"old"
    fresh = bucket.blob("fresh")
    assert fresh.rewrite(source, if_generation_match=0)[0] is None
    assert fresh.download_as_bytes() == b"new"


def test_a_patch_bumps_the_metageneration_and_fails_a_delete_on_the_old_one(bucket: Any) -> None:
    blob = bucket.blob("k")
    blob.upload_from_string(b"x")
    read = bucket.get_blob("k")
    blob.custom_time = datetime.now(UTC)
    blob.patch(if_generation_match=read.generation)
    assert int(blob.metageneration) > int(read.metageneration)
    with pytest.raises(api.PreconditionFailed):
        bucket.blob("k").delete(
            if_generation_match=read.generation, if_metageneration_match=read.metageneration
        )
    with pytest.raises(api.PreconditionFailed):
        bucket.blob("k").delete(if_generation_match=int(read.generation) + 1)
    bucket.blob("k").delete(if_generation_match=blob.generation, if_metageneration_match=blob.metageneration)
    assert bucket.get_blob("k") is None


def test_a_condition_on_a_missing_object_is_not_found(bucket: Any) -> None:
    with pytest.raises(api.NotFound):
        bucket.blob("gone").delete(if_generation_match=1, if_metageneration_match=1)


def test_a_read_pinned_to_a_replaced_generation_is_refused(bucket: Any) -> None:
    blob = bucket.blob("k")
    blob.upload_from_string(b"first")
    read = bucket.get_blob("k")
    bucket.blob("k").upload_from_string(b"second")
    with pytest.raises(api.PreconditionFailed):
        read.download_as_bytes(if_generation_match=read.generation)
    with pytest.raises(api.PreconditionFailed):
        bucket.get_blob("k", if_generation_match=read.generation)
    assert bucket.blob("k").download_as_bytes() == b"second"
