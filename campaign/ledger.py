"""The ledger: the single source of truth for what was posted.

One SQLite file by default; or a shared PostgreSQL database (`[paths] ledger =
"postgresql://..."` or CAMPAIGN_LEDGER_URL), for two machines (SPEC §15). The SQL
dialect differences are in `ledger_backends.py`; everything here is the same for both.

Tables (schema versioned with `PRAGMA user_version`, or the table `schema_version` on
PostgreSQL, migrated forward on open, one migration at a time):

    posts       one row per (story, platform): state, remote id and URL, attempts,
                last error, the content hash it was published from, retry time
    events      append-only audit trail: attempts, outcomes, approved, paused,
                resumed, withdrawn, alerted (who and when)
    approvals   (story, content hash) approved by whom and when
    withdrawals stories whose consent was withdrawn: never posted again
    flags       `paused`
    heartbeat   the running scheduler's pid and last beat
    alerts      one row per alert event key, so an alert is never repeated on restart
    fates       each story's fate as the scheduler last saw it (planned, spare, invalid,
                ...) and since when: a change is an alert, once, across restarts
    users       the workspace's accounts: name, role, argon2 hash of the password
    sessions    signed-in browsers: the sha256 of the cookie's token, its CSRF token, expiry
    login_failures  failed sign-ins per name, for the lockout
    metrics     snapshots of each posted post's numbers (`campaign report`): one row per
                post, fetch time and metric; a fetch that gave no numbers is one row with
                metric '' and the reason (`status`) why. Withdrawal deletes a story's rows.
    lead        (PostgreSQL) which `campaign run` leads: its token, host, pid and the
                expiry of its lease, on the database's clock
    schedulers  (PostgreSQL) every `campaign run` on the database, leading or standing by,
                and when it was last seen

Every write is its own transaction with `synchronous=FULL` in WAL mode (PostgreSQL:
a committed transaction is durable), so a commit that returned is on disk before the
next step (the publishing request) starts. Claiming a post for publishing is one
conditional UPDATE, so two processes racing for the same post cannot both win. On
PostgreSQL, a scheduler's claim also checks, in the same transaction, that it holds
the lead (`lead.py`): a scheduler that lost it sends nothing.

Secrets never reach this file: callers pass messages that publishers already
redacted, and `record_error` redacts again as a last line of defence.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

from campaign import ledger_backends
from campaign.errors import LedgerError, SchedulerLocked
from campaign.i18n import _
from campaign.ledger_backends import PostgresBackend, SQLiteBackend
from campaign.models import PLATFORMS, LedgerFacts, Platform, post_key


def _log_error(message: str, *args: object) -> None:
    """A line in the log; logging is imported only then (`campaign check` never writes one)."""
    import logging

    logging.getLogger("campaign.ledger").error(message, *args)

State = Literal[
    "planned", "held", "publishing", "posted", "failed", "missed",
    "needs_attention", "withdrawn", "deleted", "delete_by_hand",
]
STATES: tuple[State, ...] = get_args(State)
FINAL_STATES: frozenset[str] = frozenset(
    {"posted", "failed", "missed", "needs_attention", "withdrawn", "deleted", "delete_by_hand"}
)
#: The post state machine: each state and the states a post may move to from it. Every
#: write of a post's state (`claim`, `set_state`) is checked against it, in the same
#: UPDATE, so that no process can move a post along an edge that is not here.
#:
#:   planned/held -> publishing (claimed, before any request is sent) -> posted
#:                                   |-> planned (retry later), failed, needs_attention
#:   planned/held -> failed, missed (its day is over), withdrawn
#:   failed/missed -> planned (a person asks to post it again), withdrawn
#:   posted/needs_attention -> deleted, delete_by_hand (consent withdrawn)
TRANSITIONS: dict[State, frozenset[State]] = {
    "planned": frozenset({"planned", "held", "publishing", "failed", "missed", "withdrawn"}),
    "held": frozenset({"planned", "held", "publishing", "failed", "missed", "withdrawn"}),
    "publishing": frozenset({"publishing", "planned", "posted", "failed", "needs_attention"}),
    "posted": frozenset({"posted", "deleted", "delete_by_hand"}),
    "failed": frozenset({"planned", "withdrawn"}),
    "missed": frozenset({"planned", "withdrawn"}),
    "needs_attention": frozenset({"needs_attention", "deleted", "delete_by_hand"}),
    "withdrawn": frozenset(),
    "deleted": frozenset(),
    "delete_by_hand": frozenset(),
}


def sources_of(state: State) -> tuple[State, ...]:
    """The states a post may move to `state` from."""
    return tuple(s for s in STATES if state in TRANSITIONS[s])


#: A claim starts an attempt: only a post that is waiting can be claimed (not one that is
#: `publishing` already, which moves on along publishing -> publishing only as its outcome).
_CLAIMABLE: tuple[State, ...] = ("planned", "held")
assert set(_CLAIMABLE) <= set(sources_of("publishing"))

_MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE posts (
        story_id       TEXT NOT NULL,
        platform       TEXT NOT NULL,
        day            TEXT,
        due            TEXT,
        state          TEXT NOT NULL,
        remote_id      TEXT,
        url            TEXT,
        attempts       INTEGER NOT NULL DEFAULT 0,
        last_error     TEXT,
        content_hash   TEXT,
        caption        TEXT,
        outcome_unknown INTEGER NOT NULL DEFAULT 0,
        next_attempt   TEXT,
        claimed_at     TEXT,
        posted_at      TEXT,
        updated_at     TEXT NOT NULL,
        PRIMARY KEY (story_id, platform)
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        kind      TEXT NOT NULL,
        story_id  TEXT,
        platform  TEXT,
        actor     TEXT,
        detail    TEXT
    );
    CREATE TABLE approvals (
        story_id     TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        approved_by  TEXT NOT NULL,
        approved_at  TEXT NOT NULL,
        PRIMARY KEY (story_id, content_hash)
    );
    CREATE TABLE withdrawals (
        story_id     TEXT PRIMARY KEY,
        withdrawn_by TEXT,
        withdrawn_at TEXT NOT NULL
    );
    CREATE TABLE flags (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE heartbeat (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        pid  INTEGER NOT NULL,
        host TEXT NOT NULL,
        at   TEXT NOT NULL
    );
    CREATE TABLE alerts (
        key     TEXT PRIMARY KEY,
        at      TEXT NOT NULL,
        text    TEXT NOT NULL,
        sent_at TEXT
    );
    """,
    # 2: each story's fate as the scheduler last saw it (SPEC §11).
    """
    CREATE TABLE fates (
        file     TEXT PRIMARY KEY,
        story_id TEXT NOT NULL,
        kind     TEXT NOT NULL,
        day      TEXT,
        reason   TEXT,
        since    TEXT NOT NULL
    );
    """,
    # 3: the workspace's accounts and sessions (`campaign users`, `campaign serve`).
    """
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_name  TEXT NOT NULL,
        csrf       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE login_failures (
        name TEXT NOT NULL,
        at   TEXT NOT NULL
    );
    """,
    # 4: the posts' numbers over time (`campaign report`, SPEC §13).
    """
    CREATE TABLE metrics (
        story_id   TEXT NOT NULL,
        platform   TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        metric     TEXT NOT NULL,
        value      INTEGER,
        status     TEXT NOT NULL,
        detail     TEXT,
        PRIMARY KEY (story_id, platform, fetched_at, metric)
    );
    """,
    # 5: two machines (SPEC §15): the lead and the schedulers on a shared database. Times
    # are the database's own clock (`clock_timestamp()`), never a host's; unused on SQLite.
    """
    CREATE TABLE lead (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        token      TEXT NOT NULL,
        host       TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        since      TIMESTAMP WITH TIME ZONE NOT NULL,
        expires_at TIMESTAMP WITH TIME ZONE NOT NULL
    );
    CREATE TABLE schedulers (
        token   TEXT PRIMARY KEY,
        host    TEXT NOT NULL,
        pid     INTEGER NOT NULL,
        seen_at TIMESTAMP WITH TIME ZONE NOT NULL
    );
    """,
    # 6: a retry's event keeps the moment the retry was planned for, so the rehearsal tells
    # the wait campaign chose (its compressed clock adds minutes of its own to the real one).
    """
    ALTER TABLE events ADD COLUMN next_attempt TEXT;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("ledger times must be aware")
    return moment.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class PostRecord:
    story_id: str
    platform: Platform
    day: str | None
    due: datetime | None
    state: State
    remote_id: str | None
    url: str | None
    attempts: int
    last_error: str | None
    content_hash: str | None
    caption: str | None
    outcome_unknown: bool
    next_attempt: datetime | None
    claimed_at: datetime | None
    posted_at: datetime | None
    updated_at: datetime

    @property
    def key(self) -> str:
        return post_key(self.story_id, self.platform)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    story_id: str | None
    platform: str | None
    actor: str | None
    detail: str | None
    next_attempt: datetime | None = None  # a retry's planned moment


@dataclass(frozen=True)
class StoredFate:
    """A story's fate as the scheduler recorded it, and since when."""

    file: str
    story_id: str
    kind: str
    day: str | None
    reason: str | None
    since: datetime


@dataclass(frozen=True)
class MetricRow:
    """One stored number of one post at one fetch, or (metric '') why a fetch gave none.

    `status` is 'ok' with a `value`, or the reason there is no value ('not_yet',
    'no_permission', 'gone', 'rate_limited', 'failed'); `detail` is the plain-language
    reason and fix, already free of secrets.
    """

    story_id: str
    platform: Platform
    fetched_at: datetime
    metric: str
    value: int | None
    status: str
    detail: str | None


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    host: str
    at: datetime


@dataclass(frozen=True)
class Scheduler:
    """A `campaign run` on a shared database, as `status` names it."""

    host: str
    pid: int
    leading: bool


@dataclass(frozen=True)
class LeadClaim:
    """What a leading scheduler's claims must prove: its lease token, and how many seconds
    of the lease must be left (the longest a publishing request may still take)."""

    token: str
    margin: float


Backend = SQLiteBackend | PostgresBackend


def _use_wal(db: sqlite3.Connection, *, seconds: float = 30) -> None:
    """Switch the file to write-ahead logging. SQLite answers "database is locked" at once,
    without waiting as it otherwise does, when another process is switching the same new
    file at that moment (`campaign status` started while `campaign run` makes the ledger;
    about 1 in 50 such starts): so try again, for as long as a lock is waited for."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Ledger:
    """The ledger. Open with `Ledger.open(path or URL)`; close with `.close()` or `with`.

    `path` is the SQLite file (for a PostgreSQL ledger, where its file locks would be; none
    are made there), `url` the PostgreSQL database or None, `shown` its name for messages
    (a URL without its password).
    """

    def __init__(self, backend: Backend, path: Path, url: str | None = None) -> None:
        self._db = backend
        self.path = path
        self.url = url
        #: Set by a leading scheduler (`lead.py`): its claims then prove the lead.
        self.lead: LeadClaim | None = None
        #: A claim was refused for want of the lead: the scheduler must stand down and
        #: start afresh (its jobs are rebuilt then), not carry on without that post.
        self.lead_refused = False

    @property
    def shown(self) -> str:
        return ledger_backends.shown(self.url) if self.url else str(self.path)

    @property
    def shared(self) -> bool:
        """A PostgreSQL ledger: any number of schedulers and commands on any hosts."""
        return self.url is not None

    @property
    def broken(self) -> bool:
        """The database connection is gone: nothing more can be read or written on it."""
        return self._db.broken

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, target: Path | str) -> Ledger:
        """A ledger file (a Path, or a str that is not a URL), or a `postgresql://` URL."""
        if ledger_backends.is_url(target):
            return cls._open_postgres(str(target))
        path = Path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            backend = SQLiteBackend.connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(_(
                "cannot open the ledger {path} ({error}): check that its folder exists and is "
                "writable, or set paths.ledger in campaign.toml").format(
                    path=path, error=exc)) from None
        db = backend.connection
        try:
            _use_wal(db)
            db.execute("PRAGMA synchronous=FULL")  # a returned commit is on disk
            db.execute("PRAGMA foreign_keys=ON")
            db.execute(f"PRAGMA cache_size=-{ledger_backends.PAGE_CACHE_KIB}")
            ledger = cls(backend, path)
            ledger._migrate()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise LedgerError(_(
                "{path} is not a campaign ledger ({error}): point paths.ledger at the right "
                "file, or move this one away to start a new ledger").format(
                    path=path, error=exc)) from None
        return ledger

    @classmethod
    def _open_postgres(cls, url: str) -> Ledger:
        import psycopg

        try:
            backend = PostgresBackend.connect(url)
        except psycopg.Error as exc:
            raise LedgerError(_(
                "cannot reach the shared database {url} ({error}): check that PostgreSQL runs "
                "there, and the address in CAMPAIGN_LEDGER_URL (or paths.ledger) and the "
                "password in PGPASSWORD").format(
                    url=ledger_backends.shown(url),
                    error=ledger_backends.hide_password(str(exc).strip(), url))) from None
        ledger = cls(backend, Path("shared-database"), url)
        try:
            ledger._migrate()
        except psycopg.Error as exc:
            backend.close()
            raise LedgerError(_(
                "the shared database {url} could not be prepared for campaign ({error}): "
                "the account needs the right to create tables there").format(
                    url=ledger_backends.shown(url),
                    error=ledger_backends.hide_password(str(exc).strip(), url))) from None
        return ledger

    def reconnect(self) -> None:
        """A new connection after the database went away (PostgreSQL), for a scheduler
        that carries on; everything that was not committed is gone."""
        if self.url is None:
            return
        self.close()
        fresh = Ledger._open_postgres(self.url)
        self._db = fresh._db

    def _migrate(self, upto: int = SCHEMA_VERSION) -> None:
        version = self._db.schema_version()
        if version > SCHEMA_VERSION:
            raise LedgerError(_(
                "{path} was written by a newer campaign (schema {version}, this one knows "
                "{known}): upgrade campaign").format(
                    path=self.shown, version=version, known=SCHEMA_VERSION))
        while version < upto:
            with self._transaction():
                # Read again inside the write lock: another process may be migrating too.
                version = self._db.schema_version()
                if version >= upto:
                    break
                for statement in self._db.ddl(_MIGRATIONS[version]):
                    self._db.execute(statement)
                self._db.set_schema_version(version + 1)
            version += 1

    def schema_version(self) -> int:
        return self._db.schema_version()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Backend]:
        with self._db.transaction() as db:
            yield db

    # -- posts -------------------------------------------------------------------
    def ensure_post(self, story_id: str, platform: str, day: str, due: datetime,
                    now: datetime) -> PostRecord:
        """Create the post's row as `planned` if it has none; update due/day if still pending."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO posts (story_id, platform, day, due, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'planned', ?) ON CONFLICT (story_id, platform) DO UPDATE "
                "SET day = excluded.day, due = excluded.due "
                "WHERE posts.state IN ('planned', 'held') AND posts.attempts = 0",
                (story_id, platform, day, _iso(due), _iso(now)),
            )
        record = self.post(story_id, platform)
        assert record is not None
        return record

    def ensure_posts(self, wanted: list[tuple[str, str, str, datetime]],
                     now: datetime) -> dict[str, PostRecord]:
        """`ensure_post` for many posts (story, platform, day, due) in one transaction:
        one commit for the whole plan, so that a rebuild of a long campaign stays quick.
        Returns every post of the ledger by key."""
        rows: list[Sequence[Any]] = [(story, platform, day, _iso(due), _iso(now))
                                     for story, platform, day, due in wanted]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO posts (story_id, platform, day, due, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'planned', ?) ON CONFLICT (story_id, platform) DO UPDATE "
                "SET day = excluded.day, due = excluded.due "
                "WHERE posts.state IN ('planned', 'held') AND posts.attempts = 0", rows)
        return {record.key: record for record in self.posts()}

    def post(self, story_id: str, platform: str) -> PostRecord | None:
        row = self._db.execute(
            "SELECT * FROM posts WHERE story_id = ? AND platform = ?", (story_id, platform)
        ).fetchone()
        return _record(row) if row else None

    def posts(self, story_id: str | None = None) -> list[PostRecord]:
        if story_id is None:
            rows = self._db.execute("SELECT * FROM posts ORDER BY due, platform").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM posts WHERE story_id = ? ORDER BY due, platform", (story_id,)
            ).fetchall()
        return [_record(r) for r in rows]

    def final_by_key(self) -> dict[str, tuple[str, bool]]:
        """Each post's key, with its story and whether it is final: what a scheduler asks
        at every tick, without reading whole records."""
        rows = self._db.execute("SELECT story_id, platform, state FROM posts").fetchall()
        return {post_key(story, platform): (story, state in FINAL_STATES)
                for story, platform, state in rows}

    def claim(self, story_id: str, platform: str, content_hash: str, caption: str,
              now: datetime) -> bool:
        """Move a pending post to `publishing`, durably, before any request is sent.

        Returns False when another process claimed it first or it is no longer
        pending (posted, withdrawn, ...): the caller must not publish then.
        """
        with self._transaction() as db:
            if self.lead is not None and not self._leading(db, self.lead):
                self.lead_refused = True
                _log_error("%s: not claimed: this scheduler no longer provably holds the lead",
                          post_key(story_id, platform))
                return False
            cursor = db.execute(
                "UPDATE posts SET state = 'publishing', attempts = attempts + 1, "  # noqa: S608
                "content_hash = ?, caption = ?, claimed_at = ?, updated_at = ?, "
                "outcome_unknown = 0, next_attempt = NULL "
                f"WHERE story_id = ? AND platform = ? AND state IN ({_marks(_CLAIMABLE)})",
                (content_hash, caption, _iso(now), _iso(now), story_id, platform, *_CLAIMABLE),
            )
            claimed = cursor.rowcount == 1
            if claimed:
                self._event(db, now, "attempt", story_id, platform, None, None)
        return claimed

    def set_state(self, story_id: str, platform: str, state: State, now: datetime, *,
                  error: str | None = None, remote_id: str | None = None,
                  url: str | None = None, next_attempt: datetime | None = None,
                  outcome_unknown: bool = False, event: str | None = None,
                  actor: str | None = None, expect: tuple[str, ...] | None = None) -> bool:
        """Record an outcome. Only along an edge of TRANSITIONS, and with `expect` only
        from those states; returns False (and changes nothing) otherwise."""
        from campaign.secrets import redact

        allowed = sources_of(state)
        if expect is not None and not set(expect) <= set(allowed):
            raise ValueError(f"a post cannot move from {sorted(set(expect) - set(allowed))} "
                             f"to {state}: see ledger.TRANSITIONS")

        error = redact(error) if error else None
        sets = ["state = ?", "updated_at = ?", "outcome_unknown = ?", "next_attempt = ?"]
        params: list[object] = [state, _iso(now), int(outcome_unknown), _iso(next_attempt)]
        if error is not None:
            sets.append("last_error = ?")
            params.append(error)
        if remote_id is not None:
            sets += ["remote_id = ?", "url = ?"]
            params += [remote_id, url]
        if state == "posted":
            sets.append("posted_at = ?")
            params.append(_iso(now))
        sources = expect if expect is not None else allowed
        where = f"story_id = ? AND platform = ? AND state IN ({_marks(sources)})"
        params += [story_id, platform, *sources]
        with self._transaction() as db:
            # Only column names from this function and '?' placeholders are interpolated.
            cursor = db.execute(f"UPDATE posts SET {', '.join(sets)} WHERE {where}", params)  # noqa: S608
            changed = cursor.rowcount == 1
            if changed:
                self._event(db, now, event or state, story_id, platform, actor, error,
                            next_attempt)
        if not changed and expect is None:
            record = self.post(story_id, platform)
            if record is not None:
                _log_error("%s: not moved from %s to %s, which ledger.TRANSITIONS does not allow",
                          record.key, record.state, state)
        return changed

    # -- metrics (campaign report) -------------------------------------------------
    def add_metrics(self, story_id: str, platform: str, fetched_at: datetime,
                    rows: list[tuple[str, int | None, str, str | None]]) -> bool:
        """Store one fetch of a post's numbers: (metric, value, status, detail) rows.

        Nothing is stored for a withdrawn story (its numbers go with it); returns
        whether the rows were stored.
        """
        from campaign.secrets import redact

        with self._transaction() as db:
            if db.execute("SELECT 1 FROM withdrawals WHERE story_id = ?",
                          (story_id,)).fetchone():
                return False
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (story_id, platform, fetched_at, metric) DO UPDATE SET "
                "value = excluded.value, status = excluded.status, detail = excluded.detail",
                [(story_id, platform, _iso(fetched_at), metric, value, status,
                  redact(detail) if detail else None)
                 for metric, value, status, detail in rows])
        return True

    def metrics(self, story_id: str | None = None) -> list[MetricRow]:
        """Every stored snapshot row, oldest first (of one story when given)."""
        query = "SELECT * FROM metrics"
        params: tuple[str, ...] = ()
        if story_id is not None:
            query += " WHERE story_id = ?"
            params = (story_id,)
        rows = self._db.execute(query + " ORDER BY fetched_at, platform, story_id, metric",
                                params).fetchall()
        return [MetricRow(story_id=r["story_id"], platform=cast(Platform, r["platform"]),
                          fetched_at=datetime.fromisoformat(r["fetched_at"]),
                          metric=r["metric"], value=r["value"], status=r["status"],
                          detail=r["detail"]) for r in rows]

    def last_metrics_fetch(self) -> datetime | None:
        row = self._db.execute("SELECT MAX(fetched_at) FROM metrics").fetchone()
        return _time(row[0]) if row else None

    # -- approvals, withdrawals, pause -------------------------------------------
    def approve(self, story_id: str, content_hash: str, by: str, now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (story_id, content_hash, by, _iso(now)),
            )
            self._event(db, now, "approved", story_id, None, by, content_hash)

    def approval(self, story_id: str, content_hash: str) -> tuple[str, datetime] | None:
        row = self._db.execute(
            "SELECT approved_by, approved_at FROM approvals WHERE story_id = ? AND content_hash = ?",
            (story_id, content_hash),
        ).fetchone()
        return (row[0], datetime.fromisoformat(row[1])) if row else None

    def ever_approved(self, story_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM approvals WHERE story_id = ?", (story_id,)).fetchone()
        return row is not None

    def withdraw(self, story_id: str, by: str | None, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO withdrawals VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       (story_id, by, _iso(now)))
            db.execute("DELETE FROM metrics WHERE story_id = ?", (story_id,))
            self._event(db, now, "withdrawn", story_id, None, by, None)

    def is_withdrawn(self, story_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM withdrawals WHERE story_id = ?", (story_id,)
        ).fetchone()
        return row is not None

    def withdrawn_stories(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT story_id FROM withdrawals")}

    def facts(self) -> LedgerFacts:
        """The days already given to stories, and the withdrawals: what the plan needs."""
        return _facts(self._db)

    def set_paused(self, paused: bool, by: str | None, now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO flags VALUES ('paused', ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                ("1" if paused else "0", _iso(now)),
            )
            self._event(db, now, "paused" if paused else "resumed", None, None, by, None)

    def is_paused(self) -> bool:
        row = self._db.execute("SELECT value FROM flags WHERE name = 'paused'").fetchone()
        return bool(row and row[0] == "1")

    # -- fates -------------------------------------------------------------------
    def fates(self) -> dict[str, StoredFate]:
        """Each file's fate as last recorded, by file (relative to the repository)."""
        rows = self._db.execute("SELECT * FROM fates").fetchall()
        return {r["file"]: StoredFate(r["file"], r["story_id"], r["kind"], r["day"],
                                      r["reason"], datetime.fromisoformat(r["since"]))
                for r in rows}

    def set_fate(self, file: str, story_id: str, kind: str, day: str | None, reason: str | None,
                 now: datetime) -> None:
        """Record a file's fate; `since` changes only when the kind or the day changes."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO fates VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE "
                "SET story_id = excluded.story_id, reason = excluded.reason, "
                "since = CASE WHEN fates.kind = excluded.kind "
                "AND fates.day IS NOT DISTINCT FROM excluded.day "
                "THEN fates.since ELSE excluded.since END, "
                "kind = excluded.kind, day = excluded.day",
                (file, story_id, kind, day, reason, _iso(now)),
            )

    def forget_fate(self, file: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM fates WHERE file = ?", (file,))

    # -- accounts and sessions (the workspace) -----------------------------------
    def add_user(self, name: str, role: str, password_hash: str, now: datetime,
                 by: str | None = None) -> bool:
        """A new account; False when the name is taken."""
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                (name, role, password_hash, _iso(now)))
            added = cursor.rowcount == 1
            if added:
                self._event(db, now, "user_added", None, None, by, f"{name} ({role})")
        return added

    def user(self, name: str) -> tuple[str, str, str] | None:
        """(name, role, password hash) of an account, or None."""
        row = self._db.execute("SELECT name, role, password_hash FROM users WHERE name = ?",
                               (name,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def users(self) -> list[tuple[str, str, datetime]]:
        rows = self._db.execute("SELECT name, role, created_at FROM users ORDER BY name")
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    def remove_user(self, name: str, now: datetime, by: str | None = None) -> bool:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM users WHERE name = ?", (name,))
            db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            removed = cursor.rowcount == 1
            if removed:
                self._event(db, now, "user_removed", None, None, by, name)
        return removed

    def set_password(self, name: str, password_hash: str, now: datetime,
                     by: str | None = None) -> bool:
        with self._transaction() as db:
            cursor = db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                                (password_hash, name))
            db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))  # signed out everywhere
            changed = cursor.rowcount == 1
            if changed:
                self._event(db, now, "password_reset", None, None, by, name)
        return changed

    def create_session(self, token_hash: str, user_name: str, csrf: str, now: datetime,
                       expires: datetime) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (_iso(now),))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (token_hash, user_name, csrf, _iso(now), _iso(expires)))
            db.execute("DELETE FROM login_failures WHERE name = ?", (user_name,))
            self._event(db, now, "login", None, None, user_name, None)

    def session(self, token_hash: str, now: datetime) -> tuple[str, str, str] | None:
        """(user name, role, CSRF token) of a live session, or None."""
        row = self._db.execute(
            "SELECT s.user_name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name "
            "WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash, _iso(now))).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def end_session(self, token_hash: str, now: datetime) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT user_name FROM sessions WHERE token_hash = ?",
                             (token_hash,)).fetchone()
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
            if row:
                self._event(db, now, "logout", None, None, row[0], None)

    def login_failed(self, name: str, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO login_failures VALUES (?, ?)", (name, _iso(now)))
            self._event(db, now, "login_failed", None, None, name, None)

    def login_failures(self, name: str, since: datetime) -> list[datetime]:
        rows = self._db.execute("SELECT at FROM login_failures WHERE name = ? AND at > ? ORDER BY at",
                                (name, _iso(since)))
        return [datetime.fromisoformat(r[0]) for r in rows]

    # -- heartbeat ---------------------------------------------------------------
    def beat(self, now: datetime, pid: int | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO heartbeat VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET pid = excluded.pid, host = excluded.host, at = excluded.at",
                (pid or os.getpid(), os.uname().nodename, _iso(now)),
            )

    def heartbeat(self) -> Heartbeat | None:
        row = self._db.execute("SELECT pid, host, at FROM heartbeat WHERE id = 1").fetchone()
        return Heartbeat(row[0], row[1], datetime.fromisoformat(row[2])) if row else None

    # -- the lead (PostgreSQL: any number of schedulers, one of them posts) ----------
    def take_lead(self, token: str, seconds: float, *,
                  took_over: list[Scheduler] | None = None) -> bool:
        """Take the lead, or renew it, for `seconds` on the database's clock: only when no
        one else holds a lease that is still running. Notes this scheduler as seen either
        way (for `status`). True when this scheduler leads now; then `took_over` gets the
        scheduler whose lease ran out, if this one took its place."""
        host, pid = os.uname().nodename, os.getpid()
        with self._transaction() as db:
            before = db.execute("SELECT host, pid, token FROM lead WHERE id = 1").fetchone()
            db.execute("INSERT INTO schedulers VALUES (?, ?, ?, clock_timestamp()) "
                       "ON CONFLICT (token) DO UPDATE SET seen_at = excluded.seen_at",
                       (token, host, pid))
            row = db.execute(
                "INSERT INTO lead VALUES (1, ?, ?, ?, clock_timestamp(), "
                "clock_timestamp() + make_interval(secs => ?)) ON CONFLICT (id) DO UPDATE SET "
                "since = CASE WHEN lead.token = excluded.token THEN lead.since "
                "ELSE excluded.since END, token = excluded.token, host = excluded.host, "
                "pid = excluded.pid, expires_at = excluded.expires_at "
                "WHERE lead.token = excluded.token OR lead.expires_at <= clock_timestamp() "
                "RETURNING token", (token, host, pid, float(seconds))).fetchone()
        if row is not None and before is not None and before[2] != token and took_over is not None:
            took_over.append(Scheduler(before[0], int(before[1]), False))
        return row is not None

    @staticmethod
    def _leading(db: Backend, claim: LeadClaim) -> bool:
        """In the caller's transaction: the lease is this scheduler's and has at least
        `claim.margin` seconds left on the database's clock."""
        row = db.execute("SELECT 1 FROM lead WHERE id = 1 AND token = ? AND expires_at > "
                         "clock_timestamp() + make_interval(secs => ?)",
                         (claim.token, float(claim.margin))).fetchone()
        return row is not None

    def leading(self, claim: LeadClaim) -> bool:
        return self._leading(self._db, claim)

    def leave(self, token: str, *, release: bool) -> None:
        """A scheduler stops: it is no longer listed, and with `release` its lead (if it
        still has it) is free at once for a standby."""
        with self._transaction() as db:
            db.execute("DELETE FROM schedulers WHERE token = ?", (token,))
            if release:
                db.execute("DELETE FROM lead WHERE token = ?", (token,))

    def schedulers(self, seen_within: float = 20.0) -> list[Scheduler]:
        """The schedulers on a shared database seen lately, the leader first; [] on SQLite."""
        if not self.shared:
            return []
        rows = self._db.execute(
            "SELECT s.host, s.pid, (l.token IS NOT NULL AND l.expires_at > clock_timestamp()) "
            "FROM schedulers s LEFT JOIN lead l ON l.token = s.token "
            "WHERE s.seen_at > clock_timestamp() - make_interval(secs => ?) "
            "ORDER BY 3 DESC, s.host, s.pid", (float(seen_within),)).fetchall()
        return [Scheduler(r[0], int(r[1]), bool(r[2])) for r in rows]

    def leader(self) -> Scheduler | None:
        """Who holds a running lease on a shared database; None on SQLite or when no one."""
        if not self.shared:
            return None
        row = self._db.execute("SELECT host, pid FROM lead WHERE id = 1 AND "
                               "expires_at > clock_timestamp()").fetchone()
        return Scheduler(row[0], int(row[1]), True) if row else None

    # -- alerts ------------------------------------------------------------------
    def add_alert(self, key: str, text: str, now: datetime) -> bool:
        """Record an alert once per key; False if it was already recorded (never repeat)."""
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO alerts (key, at, text) VALUES (?, ?, ?) "
                                "ON CONFLICT DO NOTHING",
                                (key, _iso(now), text))
            added = cursor.rowcount == 1
            if added:
                self._event(db, now, "alerted", None, None, None, key)
        return added

    def alerts(self, limit: int = 50) -> list[tuple[datetime, str, datetime | None]]:
        """The latest alerts: (when, text, when sent or None), newest first."""
        rows = self._db.execute("SELECT at, text, sent_at FROM alerts ORDER BY at DESC LIMIT ?",
                                (limit,))
        return [(datetime.fromisoformat(r[0]), r[1], _time(r[2])) for r in rows]

    def unsent_alerts(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT key, text FROM alerts WHERE sent_at IS NULL ORDER BY at")
        return [(r[0], r[1]) for r in rows]

    def alert_sent(self, key: str, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("UPDATE alerts SET sent_at = ? WHERE key = ?", (_iso(now), key))

    # -- events ------------------------------------------------------------------
    def record_event(self, kind: str, now: datetime, *, story_id: str | None = None,
                     platform: str | None = None, actor: str | None = None,
                     detail: str | None = None) -> None:
        with self._transaction() as db:
            self._event(db, now, kind, story_id, platform, actor, detail)

    def events(self, story_id: str | None = None) -> list[Event]:
        if story_id:
            rows = self._db.execute("SELECT * FROM events WHERE story_id = ? ORDER BY id",
                                    (story_id,)).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM events ORDER BY id").fetchall()
        return [Event(r["id"], datetime.fromisoformat(r["at"]), r["kind"], r["story_id"],
                      r["platform"], r["actor"], r["detail"],
                      datetime.fromisoformat(r["next_attempt"]) if r["next_attempt"] else None)
                for r in rows]

    def last_control_event_id(self) -> int:
        """Grows with every approval, pause, resume and withdrawal, from any process: a cheap
        way for the scheduler to see that a human changed something."""
        row = self._db.execute(
            "SELECT coalesce(max(id), 0) FROM events "
            "WHERE kind IN ('approved', 'paused', 'resumed', 'withdrawn', 'saved')"
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _event(db: Backend, now: datetime, kind: str, story_id: str | None,
               platform: str | None, actor: str | None, detail: str | None,
               next_attempt: datetime | None = None) -> None:
        # The column is named only when it is given: it came with schema 6, and the other
        # events are written the same way at every schema (tests write older ledgers so).
        if next_attempt is None:
            db.execute("INSERT INTO events (at, kind, story_id, platform, actor, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (_iso(now), kind, story_id, platform, actor,
                                                     detail))
            return
        db.execute(
            "INSERT INTO events (at, kind, story_id, platform, actor, detail, next_attempt) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_iso(now), kind, story_id, platform, actor, detail, _iso(next_attempt)),
        )


def _facts(db: Backend) -> LedgerFacts:
    withdrawn = frozenset(r[0] for r in db.execute("SELECT story_id FROM withdrawals"))
    pinned: dict[str, date] = {}
    for story_id, day in db.execute(
        "SELECT story_id, day FROM posts WHERE day IS NOT NULL ORDER BY due, platform"
    ):
        if story_id not in withdrawn:
            pinned.setdefault(story_id, date.fromisoformat(day))
    return LedgerFacts(pinned=pinned, withdrawn=withdrawn)


def read_facts(path: Path | str) -> LedgerFacts:
    """`Ledger.facts` of the ledger file at `path` (or the PostgreSQL ledger at that URL),
    read only; empty when there is none yet.

    For `check`, `plan` and `preview`, which must show the week the scheduler
    runs without ever writing to its ledger.
    """
    if ledger_backends.is_url(path):
        return _read_shared_facts(str(path))
    path = Path(path)
    if not path.is_file():
        return LedgerFacts()
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise LedgerError(_("cannot read the ledger {path} ({error}): check its "
                            "permissions").format(path=path, error=exc)) from None
    try:
        if _not_made_yet(db):
            return LedgerFacts()
        return _facts(SQLiteBackend(db))
    except sqlite3.DatabaseError as exc:
        raise LedgerError(_("{path} is not a campaign ledger ({error}): point paths.ledger "
                            "at the right file").format(path=path, error=exc)) from None
    finally:
        db.close()


def _not_made_yet(db: sqlite3.Connection) -> bool:
    """A file with no tables and no schema version: a ledger that `Ledger.open` is making at
    this moment (the file exists before its tables do), or one whose making was cut off.
    Either way it holds no facts yet; a database with other tables is still refused."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    return version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def _read_shared_facts(url: str) -> LedgerFacts:
    import psycopg

    try:
        backend = PostgresBackend.connect(url, read_only=True)
    except psycopg.Error as exc:
        raise LedgerError(_(
            "cannot reach the shared database {url} ({error}): check that PostgreSQL runs "
            "there, and the address in CAMPAIGN_LEDGER_URL (or paths.ledger) and the "
            "password in PGPASSWORD").format(
                url=ledger_backends.shown(url),
                error=ledger_backends.hide_password(str(exc).strip(), url))) from None
    try:
        if backend.schema_version() == 0:
            return LedgerFacts()
        return _facts(backend)
    finally:
        backend.close()


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


def _record(row: Any) -> PostRecord:
    return PostRecord(
        story_id=row["story_id"], platform=cast(Platform, row["platform"]), day=row["day"],
        due=_time(row["due"]), state=row["state"], remote_id=row["remote_id"], url=row["url"],
        attempts=row["attempts"], last_error=row["last_error"],
        content_hash=row["content_hash"], caption=row["caption"],
        outcome_unknown=bool(row["outcome_unknown"]), next_attempt=_time(row["next_attempt"]),
        claimed_at=_time(row["claimed_at"]), posted_at=_time(row["posted_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


class FileLock:
    """An exclusive `flock` on a file, released by the operating system when the process
    dies, however it dies; the pid written in the file only names the holder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> str | None:
        """Take the lock; return None, or the holder's pid when another process has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            return holder
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return None

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock; raise LedgerError naming the holder."""
        deadline = time.monotonic() + timeout
        while (holder := self.try_acquire()) is not None:
            if time.monotonic() >= deadline:
                raise LedgerError(_(
                    "another campaign process (pid {pid}) is posting with this ledger and did "
                    "not finish in time: try again in a minute").format(pid=holder))
            time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SchedulerLock:
    """One scheduler per ledger: a `FileLock` on `<ledger>.lock`, held for the whole run.

    A stale lock from a crashed scheduler is simply taken over: the kernel
    released it when that process died.
    """

    def __init__(self, ledger_path: Path) -> None:
        self.path = ledger_path.with_name(ledger_path.name + ".lock")
        self._lock = FileLock(self.path)

    def acquire(self) -> None:
        holder = self._lock.try_acquire()
        if holder is not None:
            raise SchedulerLocked(_(
                "another `campaign run` (pid {pid}) is already running on {folder}: stop it "
                "first (or use `campaign status` to see what it is doing)").format(
                    pid=holder, folder=self.path.parent))

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def scheduler_lock(target: Path | str) -> contextlib.AbstractContextManager[object]:
    """`SchedulerLock` for a ledger file. A shared (PostgreSQL) ledger has none: any number
    of schedulers start there and one leads (`lead.py`)."""
    if ledger_backends.is_url(target):
        return contextlib.nullcontext()
    return SchedulerLock(Path(target))


@contextlib.contextmanager
def publish_lock(ledger_path: Path | Ledger, timeout: float = 180.0, *,
                 platform: str | None = None) -> Iterator[None]:
    """Held around deciding, claiming, sending and recording one post, by any process.

    Without it, a second process that finds a post in *publishing* could not tell
    a crashed publisher (reconcile it) from one still waiting for the platform's
    answer (leave it alone), and could post twice.

    There is one lock per platform: with `platform`, only that platform's (a post of
    another platform may go out at the same time, as the scheduler's posts of one moment
    do); without, every platform's, taken in one order (start-up reconciliation and
    withdrawal, which touch every platform).

    Given the ledger itself: on PostgreSQL, session-level advisory locks on its
    connection (released by the server when the process or its connection dies).
    """
    names = [platform] if platform is not None else sorted(PLATFORMS)
    deadline = time.monotonic() + timeout
    with contextlib.ExitStack() as held:
        for name in names:
            left = max(0.0, deadline - time.monotonic())
            held.enter_context(_platform_publish_lock(ledger_path, name, left))
        yield


@contextlib.contextmanager
def _platform_publish_lock(ledger_path: Path | Ledger, platform: str,
                           timeout: float) -> Iterator[None]:
    if isinstance(ledger_path, Ledger):
        if isinstance(ledger_path._db, PostgresBackend):
            key = ledger_backends.PUBLISH_LOCK + PLATFORMS.index(cast(Platform, platform))
            with _advisory_publish_lock(ledger_path._db, key, timeout):
                yield
            return
        ledger_path = ledger_path.path
    lock = FileLock(ledger_path.with_name(f"{ledger_path.name}.publish.{platform}.lock"))
    lock.acquire(timeout)
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _advisory_publish_lock(db: PostgresBackend, key: int, timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    while not db.try_publish_lock(key):
        if time.monotonic() >= deadline:
            raise LedgerError(_(
                "another campaign process (pid {pid}) is posting with this ledger and did "
                "not finish in time: try again in a minute").format(
                    pid=db.publish_lock_holder(key)))
        time.sleep(0.05)
    try:
        yield
    finally:
        db.publish_unlock(key)
