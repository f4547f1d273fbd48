"""The ledger's two databases, behind the few calls `Ledger` makes of them.

    SQLiteBackend    one file (the default): `BEGIN IMMEDIATE` takes the database-wide write
                     lock, `PRAGMA user_version` holds the schema version
    PostgresBackend  a shared PostgreSQL database (two machines, SPEC §15), through psycopg 3:
                     every write transaction first takes one transaction-level advisory lock,
                     so writes are serialised exactly as SQLite's write lock serialises them;
                     the schema version lives in the table `schema_version`

`Ledger` writes its SQL once, in the dialect both understand (`?` placeholders, `INSERT ...
ON CONFLICT`, `IS NOT DISTINCT FROM`); `PostgresBackend` turns `?` into psycopg's `%s`, and
`ddl` turns the migrations' `INTEGER PRIMARY KEY AUTOINCREMENT` into an identity column and
gives text columns the "C" collation, so that both sort text the same way (byte order).

The URL of a PostgreSQL ledger may carry a password; it is only ever shown through `shown`,
which leaves the password out.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")
#: The advisory lock keys (one namespace for campaign, then the lock).
LOCK_SPACE = 0x63616D70  # "camp"
WRITE_LOCK = 1  # transaction level: every write transaction
PUBLISH_LOCK = 2  # session level: the publish path (ledger.publish_lock), plus the platform's
#: index in `models.PLATFORMS`: one lock per platform, so two platforms post at once.


class Cursor(Protocol):
    """What the ledger reads of a cursor: both drivers' cursors are this."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


def is_url(target: str | Path) -> bool:
    """Whether a ledger setting names a PostgreSQL database rather than a file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def shown(url: str) -> str:
    """The URL as messages and logs may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None and "password=" not in parts.query:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def hide_password(text: str, url: str) -> str:
    """`text` (a driver's error, say) with the URL's password taken out wherever it appears."""
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "***")
    return re.sub(r"password=\S+", "password=***", text)


#: Each SQLite connection's page cache, in KiB (SQLite's default is 2,000). A scheduler
#: holds one connection per platform; with the default, each grew with the ledger file
#: and together they held about 3 MiB more over a week of 1,000 posts (issue 19's memory
#: row, bench/bench_scheduler.py). The operating system keeps the file's pages anyway.
#: Set by `Ledger.open`, where a file that is not a database is told apart.
PAGE_CACHE_KIB = 128


class SQLiteBackend:
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @classmethod
    def connect(cls, path: Path) -> SQLiteBackend:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        return cls(db)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.connection.execute(sql, params)

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SQLiteBackend]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.connection.execute(f"PRAGMA user_version = {int(version)}")

    def ddl(self, migration: str) -> list[str]:
        return [s for s in migration.split(";") if s.strip()]

    @property
    def broken(self) -> bool:
        return False

    def close(self) -> None:
        self.connection.close()


class _Row:
    """A row readable by position and by column name, like sqlite3.Row."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: _Row(index, values)


_PLACEHOLDERS: dict[str, str] = {}


def _pg(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (the ledger's SQL has no literal `?`)."""
    if sql not in _PLACEHOLDERS:
        _PLACEHOLDERS[sql] = sql.replace("%", "%%").replace("?", "%s")
    return _PLACEHOLDERS[sql]


class PostgresBackend:
    dialect = "postgresql"

    def __init__(self, connection: Any, url: str) -> None:
        self.connection = connection
        self.url = url

    @classmethod
    def connect(cls, url: str, *, read_only: bool = False) -> PostgresBackend:
        import psycopg

        # Keepalives and a user timeout: a connection whose network is gone is noticed in
        # seconds (the lead then stops posting), not after the kernel's two hours.
        options = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                   "keepalives_count": 3, "tcp_user_timeout": 15000, "connect_timeout": 10,
                   "application_name": f"campaign {os.uname().nodename} pid {os.getpid()}"}
        if read_only:
            options["options"] = "-c default_transaction_read_only=on"
        connection = psycopg.connect(url, autocommit=True, row_factory=_row_factory,
                                     **options)  # type: ignore[arg-type]
        return cls(connection, url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor: Cursor = self.connection.execute(_pg(sql), params)
        return cursor

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PostgresBackend]:
        with self.connection.transaction():
            # The ledger's write lock: one write transaction at a time, as with SQLite.
            self.connection.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                                    (LOCK_SPACE, WRITE_LOCK))
            yield self

    def schema_version(self) -> int:
        # The catalogue by a query (a fresh snapshot), not to_regclass: its cache may not yet
        # see the table another process created while this one waited for the write lock.
        row = self.connection.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'schema_version' "
            "AND schemaname = current_schema())").fetchone()
        if not row[0]:
            return 0
        row = self.connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, version: int) -> None:
        self.connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        self.connection.execute("DELETE FROM schema_version")
        self.connection.execute("INSERT INTO schema_version VALUES (%s)", (version,))

    def ddl(self, migration: str) -> list[str]:
        text = migration.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        text = re.sub(r"\bINTEGER\b", "BIGINT", text)
        text = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)
        return [s for s in text.split(";") if s.strip()]

    @property
    def broken(self) -> bool:
        return bool(self.connection.closed or self.connection.broken)

    def close(self) -> None:
        self.connection.close()

    # -- the publish lock: a session-level advisory lock ------------------------------------
    def try_publish_lock(self, key: int = PUBLISH_LOCK) -> bool:
        row = self.connection.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                      (LOCK_SPACE, key)).fetchone()
        return bool(row[0])

    def publish_lock_holder(self, key: int = PUBLISH_LOCK) -> str:
        row = self.connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_SPACE, key)).fetchone()
        if not row:
            return "unknown"
        host, _, pid = str(row[0]).removeprefix("campaign ").rpartition(" pid ")
        return f"{pid} on {host}" if host else str(row[0])

    def publish_unlock(self, key: int = PUBLISH_LOCK) -> None:
        if not self.broken:
            self.connection.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, key))
