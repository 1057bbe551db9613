"""A Google Cloud Storage emulator for tests: ``AP_TEST_GCS_URL``, else ``gcp-storage-emulator`` on loopback.

``gcp-storage-emulator`` (a pure-Python GCS JSON API) runs in a child
process, in memory, on a free loopback port. It serves uploads (media,
multipart, resumable), ranged downloads, listing with delimiters, copy,
rewrite, patch and delete, but it ignores every request precondition
(``ifGenerationMatch``, ``ifMetagenerationMatch``): the conditional writes
and deletes the store relies on would succeed unconditionally. So the child
process wraps the emulator's object handlers with :func:`_enforce_preconditions`,
which answers 412 the way GCS does for the preconditions the store sends
(object inserts, rewrite/copy destinations, patch, delete, and reads pinned
to a generation). The emulator's
server is single-threaded, so a check and the handler it guards run as one
step, as they do in GCS. Resumable-upload sessions are not covered (the store
sends no precondition on them). ``test_gcs_emulator.py`` checks the wrapper
answers as GCS documents. A second wrapper, :func:`_inject_faults`, lets a
fault test make the next requests answer 5xx or stall (to show retries).

When ``AP_TEST_GCS_URL`` (or ``STORAGE_EMULATOR_HOST``) names a server, the
shared tests use that server as it is (``test_gcs_emulator.py`` then fails if
it does not enforce preconditions, as the store needs); fault tests always
start an emulator of their own, since they stop it and make it fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
START_LIMIT = 30.0  # seconds the emulator may take to answer after it was started
URL_SETTINGS = ("AP_TEST_GCS_URL", "STORAGE_EMULATOR_HOST")
NEEDS_EMULATOR = "pip install -e '.[dev]' (gcp-storage-emulator); or set AP_TEST_GCS_URL"


# ------------------------------------------------------------------ the child process


def _enforce_preconditions() -> None:
    """Make the emulator's object handlers honour GCS preconditions (412 when one fails)."""
    from http import HTTPStatus

    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    def failed(request: Any, storage: Any, bucket: str | None, name: str | None) -> str | None:
        """What precondition fails for the object ``bucket/name``, or None."""
        if not bucket or not name:
            return None
        try:
            current = storage.get_file_obj(bucket, name)
        except NotFound:
            current = None
        generation = int(current["generation"]) if current else 0
        for parameter, actual in (
            ("ifGenerationMatch", generation),
            ("ifMetagenerationMatch", int(current["metageneration"]) if current else None),
        ):
            wanted = request.query.get(parameter)
            if not wanted:
                continue
            if actual is None or (current is None and int(wanted[0]) != 0):
                return None  # no such object: GCS answers 404, which the handler does
            if int(wanted[0]) != actual:
                return f"{parameter}={wanted[0]} but the object has {actual}"
        not_wanted = request.query.get("ifGenerationNotMatch")
        if not_wanted and int(not_wanted[0]) == generation:
            return f"ifGenerationNotMatch={not_wanted[0]}"
        return None

    def object_of(request: Any) -> tuple[str | None, str | None]:
        params = request.params or {}
        if "dest_object_id" in params:  # copy and rewrite: the condition is on the destination
            return params.get("dest_bucket_name"), params.get("dest_object_id")
        if "object_id" in params:
            return params.get("bucket_name"), params.get("object_id")
        upload = request.query.get("uploadType", [""])[0]
        if upload not in {"media", "multipart"}:
            return None, None  # resumable sessions: not enforced (see the module docstring)
        name = request.query.get("name", [None])[0]
        if name is None and upload == "multipart":
            name = (request.data or {}).get("meta", {}).get("name")
        return params.get("bucket_name"), name

    def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> Any:
            reason = failed(request, storage, *object_of(request))
            if reason is None:
                return handler(request, response, storage, *args, **kwargs)
            message = f"Precondition failed: {reason}"
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json(
                {"error": {"code": 412, "message": message, "errors": [{"reason": "conditionNotMet"}]}}
            )
            return None

        return run

    wrapped = {
        handler: guarded(handler)
        for handler in (
            objects.insert,
            objects.delete,
            objects.patch,
            objects.copy,
            objects.rewrite,
            objects.get,  # metadata, and media with alt=media
            objects.download,
        )
    }
    for _, methods in server.HANDLERS:
        for method, handler in list(methods.items()):
            if handler in wrapped:
                methods[method] = wrapped[handler]
    objects.insert = wrapped[objects.insert]  # the router's fallback for uploads without /upload


def _inject_faults() -> None:
    """Let a test make the emulator fail: ``GET /_faults?status=503&delay=0&count=2``.

    The next ``count`` storage requests are answered with ``status`` (after
    ``delay`` seconds), or only delayed when no status is given, so the
    client's retries on 5xx answers and timeouts can be shown against a real
    server. ``GET /_faults`` alone answers how many faults are left.
    """
    import json
    from http import HTTPStatus
    from urllib.parse import parse_qs, urlparse

    from gcp_storage_emulator import server

    faults: dict[str, Any] = {"status": None, "delay": 0.0, "count": 0}
    handle = server.Router.handle

    def faulty(self: Any, method: str) -> None:
        handler = self._request_handler
        url = urlparse(handler.path)
        if url.path == "/_faults":
            query = parse_qs(url.query)
            if "count" in query:
                faults["count"] = int(query["count"][0])
                faults["status"] = int(query["status"][0]) if "status" in query else None
                faults["delay"] = float(query.get("delay", ["0"])[0])
            body = json.dumps({"left": faults["count"]}).encode()
            handler.send_response(HTTPStatus.OK)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        if url.path == "/" or faults["count"] <= 0:
            handle(self, method)
            return
        faults["count"] -= 1
        time.sleep(faults["delay"])
        if faults["status"] is None:
            handle(self, method)
            return
        body = json.dumps({"error": {"code": faults["status"], "message": "injected fault"}}).encode()
        handler.send_response(faults["status"])
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server.Router.handle = faulty


def serve(port: int, data_dir: str | None = None) -> None:
    """Run the emulator on ``127.0.0.1:port`` until killed (the child's entry point).

    In memory, or in ``data_dir`` (kept across a restart) when one is given.
    """
    import logging

    from gcp_storage_emulator.server import create_server

    logging.basicConfig(level=logging.CRITICAL)
    _enforce_preconditions()
    _inject_faults()
    create_server("127.0.0.1", port, in_memory=data_dir is None, data_dir=data_dir).run()


# ------------------------------------------------------------------ the parent's handle


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    """True when the emulator's health check at ``url`` says OK."""
    try:
        with urllib.request.urlopen(url + "/", timeout=1) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Emulator:
    """An emulator this test session started (and may stop and start again on the same port)."""

    data_dir: Path | None = None  # None: in memory (a restart starts empty)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        where = repr(str(self.data_dir)) if self.data_dir is not None else "None"
        command = [sys.executable, "-c", f"from tests.gcs import serve; serve({self.port}, {where})"]
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            up = f"the GCS emulator on {self.url}"
            wait_for(lambda: self._exited() or answers(self.url), up, START_LIMIT)
        except TimeoutError:
            self.stop()
            raise
        if self._exited():
            stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
            raise RuntimeError(f"the GCS emulator exited at start: {stderr[-2000:]}")

    def inject(self, count: int, status: int | None = None, delay: float = 0.0) -> None:
        """Make the next ``count`` storage requests fail with ``status`` and/or wait ``delay`` seconds."""
        query = f"count={count}&delay={delay}" + (f"&status={status}" if status is not None else "")
        with urllib.request.urlopen(f"{self.url}/_faults?{query}", timeout=5) as reply:
            assert reply.status == 200

    def faults_left(self) -> int:
        import json

        with urllib.request.urlopen(f"{self.url}/_faults", timeout=5) as reply:
            return int(json.loads(reply.read())["left"])

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        """Kill the emulator and wait until it no longer answers."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=START_LIMIT)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
        wait_for(lambda: not answers(self.url), "the GCS emulator to stop answering", START_LIMIT)


def emulator_available(external_ok: bool = True) -> str | None:
    """Why no emulator can be had here, or None when one can (``external_ok``: a named server will do)."""
    if external_ok and server_url() is not None:
        return None
    try:
        import gcp_storage_emulator  # noqa: F401
        import google.cloud.storage  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed: {NEEDS_EMULATOR}"
    return None


def server_url() -> str | None:
    """The external server's URL from the environment, if one is named."""
    for name in URL_SETTINGS:
        if value := os.environ.get(name):
            return value if "://" in value else f"http://{value}"
    return None


def raw_client(url: str) -> Any:
    """A google-cloud-storage client for ``url`` (anonymous), for fixtures and checks."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )


def new_bucket(url: str) -> str:
    """Create a bucket with a fresh name on the server at ``url``."""
    name = f"ap-test-{uuid.uuid4().hex[:20]}"
    raw_client(url).create_bucket(name)
    return name


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    """``AP_TEST_GCS_URL`` / ``STORAGE_EMULATOR_HOST``, else an emulator shared by the session."""
    from tests.conftest import require_server

    if reason := emulator_available():
        require_server("GCS emulator", reason)
    if url := server_url():
        yield url
        return
    emulator = Emulator()
    try:
        emulator.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        require_server("GCS emulator", f"could not start gcp-storage-emulator: {exc}")
    try:
        yield emulator.url
    finally:
        emulator.stop()


@pytest.fixture
def gcs_bucket(gcs_server: str) -> str:
    """A fresh, empty bucket on the session's server (so every test starts from nothing)."""
    return new_bucket(gcs_server)


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """An emulator of this test's own, keeping its data on disk, which it may stop and restart."""
    from tests.conftest import require_server

    if reason := emulator_available(external_ok=False):
        require_server("GCS emulator", reason)
    emulator = Emulator(data_dir=tmp_path / "gcs-emulator")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
