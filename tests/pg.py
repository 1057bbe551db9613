"""A PostgreSQL server for tests: ``AP_TEST_POSTGRES_URL``, else a throw-away cluster.

Registered as a pytest plugin in ``conftest.py`` so every test module shares
one server per session; each test gets its own fresh database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from bench.postgres import find_binary, user_exists
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from artifact_plane.adapters.sql.engine import normalize_url
from tests.conftest import require_server

NEEDS_DRIVER = "the PostgreSQL driver: pip install -e '.[postgres]'"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """``AP_TEST_POSTGRES_URL``, else a throwaway server started from the machine's binaries."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_server("PostgreSQL", NEEDS_DRIVER)
    if url := os.environ.get("AP_TEST_POSTGRES_URL"):
        yield url
        return
    binaries = {name: find_binary(name) for name in ("initdb", "pg_ctl")}
    if None in binaries.values():
        require_server("PostgreSQL", "no initdb/pg_ctl on PATH; or set AP_TEST_POSTGRES_URL")
    # PostgreSQL refuses to run as root: run it as 'postgres' (or 'nobody') in a directory it owns.
    owner = "postgres" if user_exists("postgres") else "nobody"
    as_user = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="ap-pg-"))
    if as_user:
        shutil.chown(data, owner)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    run = partial(subprocess.run, check=True, capture_output=True, timeout=120)
    run([*as_user, binaries["initdb"], "-D", str(data / "db"), "-U", "postgres", "-A", "trust"])
    run(
        [
            *as_user,
            binaries["pg_ctl"],
            "-D",
            str(data / "db"),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ]
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([*as_user, binaries["pg_ctl"], "-D", str(data / "db"), "-m", "immediate", "stop"])
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    server = normalize_url(postgres_server)
    name = f"ap_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # A generated name, not input. A locale-aware (ICU) default collation, as
        # production servers often have, so byte-order assumptions get tested.
        try:
            conn.exec_driver_sql(
                f'CREATE DATABASE "{name}" TEMPLATE template0'
                " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except DBAPIError:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()
