"""One engine per database, shared by the SQL registry, lineage store and decision log.

Every unit of work runs in a worker thread (``anyio.to_thread.run_sync``) in
one transaction. On SQLite a write transaction starts with ``BEGIN
IMMEDIATE``: taking the write lock up front lets the busy handler wait for
it, where a deferred transaction that upgrades its lock later fails at once
with "database is locked". Reads stay deferred and never block writers (WAL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from artifact_plane.adapters.sql.errors import translate_errors
from artifact_plane.errors import ConfigurationError

if TYPE_CHECKING:
    from artifact_plane.settings import Settings

__all__ = ["SqlDatabase", "loads_json", "normalize_url"]

# Most JSON cells are empty lists or objects (tags, capabilities, metadata):
# answered without the decoder, the common case of every record read. SQLite
# hands the deserializer text; psycopg hands it the JSONB's bytes.
_EMPTY_JSON: dict[str | bytes, Any] = {"[]": [], "{}": {}, b"[]": [], b"{}": {}}


def loads_json(text: str | bytes) -> Any:
    """A JSON cell as the database hands it (text or bytes); empty lists and objects skip the decoder."""
    empty = _EMPTY_JSON.get(text)
    if empty is not None:
        return type(empty)()  # a fresh list or dict: callers may change what they get
    return json.loads(text)


T = TypeVar("T")

SETTING = "AP_REGISTRY_URL"
_WRITE_OPTION = "artifact_plane_write"
_SYNCHRONOUS = {"FULL", "NORMAL", "EXTRA"}


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; a bare ``postgresql://`` means psycopg 3, as users write it.

    Raises:
        ConfigurationError: the URL cannot be parsed, names an unsupported
            backend, or is an in-memory SQLite database (use the memory adapters).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(SETTING, f"cannot parse {url!r}: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed  # an explicit driver is the user's choice
    if backend != "sqlite":
        raise ConfigurationError(SETTING, f"unsupported database {backend!r}: use sqlite or postgresql")
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        raise ConfigurationError(
            SETTING, "an in-memory SQLite database is not shared across threads; give a file path"
        )
    return parsed


class SqlDatabase:
    """A database: its engine, connection policy and migrations.

    Args:
        url: ``sqlite:///path/to/registry.db`` or ``postgresql://user@host/db``.
        sqlite_synchronous: SQLite ``PRAGMA synchronous`` (``FULL`` keeps
            acknowledged writes through a power loss in WAL mode).
        busy_timeout: seconds a SQLite writer waits for the write lock.
        engine_options: extra ``create_engine`` keyword arguments (pool sizes, echo).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        sqlite_synchronous: str = "FULL",
        busy_timeout: float = 30.0,
        **engine_options: Any,
    ) -> None:
        self.url = normalize_url(url)
        if sqlite_synchronous.upper() not in _SYNCHRONOUS:
            raise ConfigurationError(
                "AP_SQLITE_SYNCHRONOUS", f"{sqlite_synchronous!r} is not FULL, NORMAL or EXTRA"
            )
        self._synchronous = sqlite_synchronous.upper()
        self._busy_ms = int(busy_timeout * 1000)
        self._migrated = False
        self._prepared = False
        self._migrate_lock = threading.Lock()
        if not self.is_sqlite:
            engine_options.setdefault("pool_pre_ping", True)
            # A host that silently drops packets must fail in seconds (then
            # BackendUnavailableError), not after the OS's TCP timeout of minutes.
            connect_args = dict(engine_options.pop("connect_args", {}))
            if "connect_timeout" not in str(url):
                connect_args.setdefault("connect_timeout", 10)
            engine_options["connect_args"] = connect_args
        engine_options.setdefault("json_deserializer", loads_json)
        try:
            self.engine: Engine = create_engine(self.url, **engine_options)
        except (ImportError, NoSuchModuleError) as exc:
            raise ConfigurationError(
                SETTING,
                f"no driver for {self.url.drivername}: pip install 'artifact-plane[postgres]' ({exc})",
            ) from exc
        if self.is_sqlite:
            event.listen(self.engine, "connect", self._on_sqlite_connect)
            event.listen(self.engine, "begin", self._on_sqlite_begin)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlDatabase:
        """Build from :class:`artifact_plane.settings.Settings`."""
        return cls(settings.resolved_registry_url(), sqlite_synchronous=settings.sqlite_synchronous)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def __repr__(self) -> str:
        return f"SqlDatabase({self.url.render_as_string(hide_password=True)!r})"

    def _on_sqlite_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it never begins for SELECT and
        # cannot do IMMEDIATE); _on_sqlite_begin emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so the journal-mode switch itself waits for a lock.
            cursor.execute(f"PRAGMA busy_timeout = {self._busy_ms:d}")
            self._enable_wal(cursor)
            cursor.execute(f"PRAGMA synchronous = {self._synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # 64 MiB of page cache per connection (the default is 2 MiB): deep
            # lineage walks and large listings re-read the same index pages.
            cursor.execute("PRAGMA cache_size = -65536")
        finally:
            cursor.close()

    def _enable_wal(self, cursor: Any) -> None:
        # SQLite answers a journal-mode change that races another connection
        # (replicas opening a new file together) with "database is locked" at
        # once, without calling the busy handler: wait here, bounded the same way.
        deadline = time.monotonic() + self._busy_ms / 1000
        delay = 0.001
        while True:
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _on_sqlite_begin(self, connection: Connection) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    def _prepare(self) -> None:
        # SQLite creates the file but not its directory (AP_DATA_DIR on a first run).
        if self.is_sqlite and not self._prepared:
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            self._prepared = True

    def transact(self, work: Callable[[Connection], T], *, write: bool, conflict_ref: str = "record") -> T:
        """Run ``work`` in one transaction in this thread (blocking); commit on return.

        Raises:
            ConflictError, InvalidInputError, BackendUnavailableError: see
                :func:`~artifact_plane.adapters.sql.errors.translate_errors`.
        """
        with translate_errors(conflict_ref):
            self._prepare()
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    return work(conn)

    async def run(self, work: Callable[[Connection], T], *, write: bool, conflict_ref: str = "record") -> T:
        """:meth:`transact` in a worker thread, off the event loop."""
        return await anyio.to_thread.run_sync(
            lambda: self.transact(work, write=write, conflict_ref=conflict_ref)
        )

    def migrate(self) -> None:
        """Bring the schema to the newest revision (blocking); done once per instance."""
        from artifact_plane.adapters.sql.migrate import upgrade_connection

        with self._migrate_lock:
            if self._migrated:
                return
            self.transact(upgrade_connection, write=True)
            self._migrated = True

    async def initialize(self) -> None:
        """Create or migrate the schema (Raises: BackendUnavailableError)."""
        await anyio.to_thread.run_sync(self.migrate)

    async def ping(self) -> None:
        """Check the database answers (Raises: BackendUnavailableError)."""
        await self.run(lambda conn: conn.execute(text("SELECT 1")).scalar_one(), write=False)

    async def dispose(self) -> None:
        """Close pooled connections; the engine reconnects if used again."""
        await anyio.to_thread.run_sync(self.engine.dispose)
