"""The ledger: durable states, race-safe claims, a lock across processes.

One contract suite for both backends: every test that takes `ledger` or `ledger_backend`
runs on a real SQLite file and on a real PostgreSQL database (tests/servers/
postgres_fixture.py). Tests marked `sqlite_only` are about the file itself (WAL, its bytes,
its flock); the PostgreSQL lead and its fencing are tested at the end.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign.errors import LedgerError, SchedulerLocked
from campaign.ledger import (
    FINAL_STATES,
    SCHEMA_VERSION,
    STATES,
    TRANSITIONS,
    Ledger,
    SchedulerLock,
    sources_of,
)
from campaign.ledger_backends import PostgresBackend, SQLiteBackend
from campaign.models import LedgerFacts, post_key
from tests.servers.postgres_fixture import LedgerBackend

NOW = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(ledger_backend: LedgerBackend):  # type: ignore[no-untyped-def]
    with Ledger.open(ledger_backend.target()) as opened:
        yield opened


def _backend(target: Path | str) -> SQLiteBackend | PostgresBackend:
    """A bare connection to a ledger, without migrating it."""
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteBackend.connect(target)
    return PostgresBackend.connect(target)


@pytest.mark.sqlite_only
def test_new_ledger_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"posts", "events", "approvals", "withdrawals", "flags", "heartbeat", "alerts"} <= tables


def test_a_new_ledger_has_every_table_and_the_latest_schema(ledger: Ledger) -> None:
    assert ledger.schema_version() == SCHEMA_VERSION
    for table in ("posts", "events", "approvals", "withdrawals", "flags", "heartbeat", "alerts",
                  "fates", "users", "sessions", "login_failures", "metrics", "lead", "schedulers"):
        ledger._db.execute(f"SELECT count(*) FROM {table}").fetchone()


def test_a_newer_schema_is_refused(ledger_backend: LedgerBackend) -> None:
    target = ledger_backend.target()
    Ledger.open(target).close()
    db = _backend(target)
    db.set_schema_version(SCHEMA_VERSION + 1)
    db.close()
    with pytest.raises(LedgerError, match="newer campaign"):
        Ledger.open(target)


@pytest.mark.sqlite_only
def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not a campaign ledger"):
        Ledger.open(path)


@pytest.mark.sqlite_only
def test_a_connection_keeps_a_small_page_cache(tmp_path: Path) -> None:
    """A scheduler holds a connection per platform: each keeps 128 KiB of pages, not
    SQLite's default 2,000 KiB (issue 19's memory row)."""
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        assert opened._db.execute("PRAGMA cache_size").fetchone()[0] == -128


def test_final_by_key_matches_the_records(ledger: Ledger) -> None:
    ledger.ensure_post("a", "x", "2027-03-08", NOW, NOW)
    ledger.ensure_post("a", "bluesky", "2027-03-08", NOW, NOW)
    ledger.ensure_post("b", "x", "2027-03-09", NOW, NOW)
    ledger.claim("a", "x", "h", "c", NOW)
    ledger.set_state("a", "x", "posted", NOW, remote_id="1", url="https://x.com/a/status/1")
    ledger.set_state("b", "x", "missed", NOW)
    assert ledger.final_by_key() == {r.key: (r.story_id, r.final) for r in ledger.posts()}
    assert ledger.final_by_key() == {post_key("a", "x"): ("a", True),
                                     post_key("a", "bluesky"): ("a", False),
                                     post_key("b", "x"): ("b", True)}


def test_claim_is_won_once(ledger: Ledger) -> None:
    ledger.ensure_post("01-marieke", "x", "2027-03-08", NOW, NOW)
    assert ledger.claim("01-marieke", "x", "hash", "caption", NOW) is True
    assert ledger.claim("01-marieke", "x", "hash", "caption", NOW) is False
    record = ledger.post("01-marieke", "x")
    assert record is not None
    assert record.state == "publishing" and record.attempts == 1


def test_posted_is_never_claimed_again(ledger: Ledger) -> None:
    ledger.ensure_post("s", "x", "2027-03-08", NOW, NOW)
    ledger.claim("s", "x", "h", "c", NOW)
    ledger.set_state("s", "x", "posted", NOW, remote_id="123", url="https://x.com/a/status/123")
    assert ledger.claim("s", "x", "h", "c", NOW) is False
    # ensure_post after posting changes nothing
    record = ledger.ensure_post("s", "x", "2027-03-09", NOW + timedelta(days=1), NOW)
    assert record.state == "posted" and record.day == "2027-03-08"
    assert record.remote_id == "123" and record.posted_at == NOW


def test_pending_post_follows_a_new_plan(ledger: Ledger) -> None:
    ledger.ensure_post("s", "x", "2027-03-08", NOW, NOW)
    record = ledger.ensure_post("s", "x", "2027-03-10", NOW + timedelta(days=2), NOW)
    assert record.day == "2027-03-10"


def test_set_state_with_expect_only_moves_from_those_states(ledger: Ledger) -> None:
    ledger.ensure_post("s", "x", "2027-03-08", NOW, NOW)
    assert not ledger.set_state("s", "x", "posted", NOW, expect=("publishing",))
    assert ledger.post("s", "x").state == "planned"  # type: ignore[union-attr]


def test_events_are_an_audit_trail(ledger: Ledger) -> None:
    ledger.ensure_post("s", "x", "2027-03-08", NOW, NOW)
    ledger.approve("s", "hash1", "Anna de Vries", NOW)
    ledger.claim("s", "x", "hash1", "c", NOW)
    ledger.set_state("s", "x", "posted", NOW, remote_id="1")
    ledger.set_paused(True, "Piet", NOW)
    ledger.set_paused(False, "Piet", NOW)
    ledger.withdraw("s", "Anna de Vries", NOW)
    kinds = [(e.kind, e.actor) for e in ledger.events()]
    assert kinds == [("approved", "Anna de Vries"), ("attempt", None), ("posted", None),
                     ("paused", "Piet"), ("resumed", "Piet"), ("withdrawn", "Anna de Vries")]


def test_a_retry_s_event_keeps_the_moment_the_retry_was_planned_for(ledger: Ledger) -> None:
    ledger.ensure_post("s", "x", "2027-03-08", NOW, NOW)
    ledger.claim("s", "x", "hash1", "c", NOW)
    planned = NOW + timedelta(seconds=37)
    ledger.set_state("s", "x", "planned", NOW, error="rate limited", next_attempt=planned,
                     event="retry")
    ledger.claim("s", "x", "hash1", "c", NOW + timedelta(minutes=4))
    ledger.set_state("s", "x", "posted", NOW + timedelta(minutes=4), remote_id="1")
    assert [(e.kind, e.next_attempt) for e in ledger.events()] == [
        ("attempt", None), ("retry", planned), ("attempt", None), ("posted", None)]


def test_approval_is_per_content_hash(ledger: Ledger) -> None:
    ledger.approve("s", "v1", "Anna", NOW)
    assert ledger.approval("s", "v1") == ("Anna", NOW)
    assert ledger.approval("s", "v2") is None
    assert ledger.ever_approved("s")


def test_pause_flag(ledger: Ledger) -> None:
    assert not ledger.is_paused()
    ledger.set_paused(True, None, NOW)
    assert ledger.is_paused()


def test_alert_is_recorded_once(ledger: Ledger) -> None:
    assert ledger.add_alert("failed:s/x", "X failed", NOW)
    assert not ledger.add_alert("failed:s/x", "X failed", NOW)
    assert ledger.unsent_alerts() == [("failed:s/x", "X failed")]
    ledger.alert_sent("failed:s/x", NOW)
    assert ledger.unsent_alerts() == []


def test_heartbeat(ledger: Ledger) -> None:
    ledger.beat(NOW, pid=4242)
    beat = ledger.heartbeat()
    assert beat is not None and beat.pid == 4242 and beat.at == NOW


@pytest.mark.sqlite_only
def test_errors_are_redacted_before_they_reach_the_file(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", "sentinel-secret-7f3a9")
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.ensure_post("s", "mastodon", "2027-03-08", NOW, NOW)
        ledger.set_state("s", "mastodon", "failed", NOW, error="401 for sentinel-secret-7f3a9")
        assert "sentinel-secret-7f3a9" not in (ledger.post("s", "mastodon").last_error or "")  # type: ignore[union-attr]
    for file in tmp_path.iterdir():
        assert b"sentinel-secret-7f3a9" not in file.read_bytes()


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from campaign.ledger import SchedulerLock
    lock = SchedulerLock(Path(sys.argv[1]))
    lock.acquire()
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.mark.sqlite_only
def test_second_scheduler_is_refused_and_named_then_takes_over_after_a_crash(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ledger_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(SchedulerLocked, match=f"pid {holder.pid}"):
            SchedulerLock(ledger_path).acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs; the OS drops the flock
        holder.wait()
    lock = SchedulerLock(ledger_path)
    lock.acquire()  # the stale lock is taken over
    lock.release()


def test_two_processes_opening_a_new_ledger_at_once_both_get_it(ledger_backend: LedgerBackend) -> None:
    """`campaign status` started while `campaign run` creates the ledger: one migrates, the
    other waits for it and finds the schema there (seen: 'table posts already exists')."""
    import threading

    # On SQLite a round failed about 1 in 50 times before `_use_wal`: many rounds.
    for round_ in range(80 if ledger_backend.cluster is None else 2):
        path = ledger_backend.target(f"ledger-{round_}")
        errors: list[Exception] = []

        def open_it(path: Path | str = path, errors: list[Exception] = errors) -> None:
            try:
                Ledger.open(path).close()
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == [], f"round {round_}"


def test_switching_to_wal_waits_while_another_process_switches_the_same_file() -> None:
    from campaign.ledger import _use_wal

    class Switching:
        """A connection whose file another process is switching to WAL: locked twice."""

        def __init__(self, error: str, times: int) -> None:
            self.error, self.left, self.calls = error, times, 0

        def execute(self, statement: str) -> None:
            assert statement == "PRAGMA journal_mode=WAL"
            self.calls += 1
            if self.left:
                self.left -= 1
                raise sqlite3.OperationalError(self.error)

    switching = Switching("database is locked", 2)
    _use_wal(switching)  # type: ignore[arg-type]
    assert switching.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # not for ever
        _use_wal(Switching("database is locked", 10**6), seconds=0.05)  # type: ignore[arg-type]
    other = Switching("disk I/O error", 1)
    with pytest.raises(sqlite3.OperationalError, match="disk"):  # other errors at once
        _use_wal(other)  # type: ignore[arg-type]
    assert other.calls == 1


@pytest.mark.sqlite_only
def test_a_ledger_of_schema_1_gains_the_fates_table_and_keeps_its_posts(tmp_path: Path) -> None:
    from campaign.ledger import _MIGRATIONS

    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0])
    db.execute("INSERT INTO posts (story_id, platform, day, state, updated_at) "
               "VALUES ('01-a', 'x', '2027-03-08', 'posted', '2027-03-08T09:00:00+00:00')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Ledger.open(path) as ledger:
        assert [r.state for r in ledger.posts()] == ["posted"]
        ledger.set_fate("stories/01-a.md", "01-a", "planned", "2027-03-08", None, NOW)
        assert ledger.fates()["stories/01-a.md"].kind == "planned"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_each_migration_is_one_step_forward_from_the_schema_before(
        ledger_backend: LedgerBackend, version: int) -> None:
    """A ledger left at schema `version` (an older campaign's) opens at the latest one with
    its posts and events kept, on both backends; each migration runs in its own step."""
    target = ledger_backend.target()
    db = _backend(target)
    older = Ledger(db, Path("older"), None if isinstance(target, Path) else target)
    older._migrate(upto=version)
    assert db.schema_version() == version
    older.ensure_post("01-a", "x", "2027-03-08", NOW, NOW)
    assert older.claim("01-a", "x", "h", "c", NOW)
    older.set_state("01-a", "x", "posted", NOW, remote_id="9")
    db.close()
    with Ledger.open(target) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert [(r.state, r.remote_id) for r in ledger.posts()] == [("posted", "9")]
        assert [e.kind for e in ledger.events()] == ["attempt", "posted"]
        assert ledger.add_metrics("01-a", "x", NOW, [("likes", 1, "ok", None)])


def _in_state(ledger: Ledger, state: str, story: str = "01-marieke") -> None:
    """Drive <story>/x into `state` along allowed edges."""
    ledger.ensure_post(story, "x", "2027-03-08", NOW, NOW)
    path = {
        "planned": [], "held": ["held"], "publishing": ["claim"], "posted": ["claim", "posted"],
        "failed": ["failed"], "missed": ["missed"], "needs_attention": ["claim", "needs_attention"],
        "withdrawn": ["withdrawn"], "deleted": ["claim", "posted", "deleted"],
        "delete_by_hand": ["claim", "posted", "delete_by_hand"],
    }[state]
    for step in path:
        if step == "claim":
            assert ledger.claim(story, "x", "hash", "caption", NOW)
        else:
            assert ledger.set_state(story, "x", step, NOW)  # type: ignore[arg-type]
    record = ledger.post(story, "x")
    assert record is not None and record.state == state


@pytest.mark.parametrize("start", STATES)
def test_every_state_change_follows_the_state_machine(ledger: Ledger, start: str) -> None:
    for target in STATES:
        story = f"from-{start}-to-{target}"
        _in_state(ledger, start, story)
        moved = ledger.set_state(story, "x", target, NOW)
        assert moved == (target in TRANSITIONS[start]), f"{start} -> {target}"  # type: ignore[index]
        record = ledger.post(story, "x")
        assert record is not None
        assert record.state == (target if moved else start)


def test_final_states_have_no_way_out_but_taking_down() -> None:
    for state in FINAL_STATES:
        assert TRANSITIONS[state] <= {state, "planned", "withdrawn", "deleted",  # type: ignore[index]
                                      "delete_by_hand"}
    # A post that may exist on the platform never becomes planned again by itself.
    assert "planned" not in TRANSITIONS["posted"] | TRANSITIONS["needs_attention"]
    assert sources_of("posted") == ("publishing", "posted")  # only a sent request posts


def test_an_expect_outside_the_state_machine_is_a_bug(ledger: Ledger) -> None:
    ledger.ensure_post("01-marieke", "x", "2027-03-08", NOW, NOW)
    with pytest.raises(ValueError, match="cannot move"):
        ledger.set_state("01-marieke", "x", "posted", NOW, expect=("planned",))


def test_the_post_key_is_built_in_one_place() -> None:
    assert post_key("01-marieke", "bluesky") == "01-marieke/bluesky"
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (Path(__file__).parent.parent / "campaign").rglob("*.py"))
    assert source.count('f"{story_id}/{platform}"') == 1  # in models.post_key


def test_metrics_snapshots_are_stored_in_order_and_go_with_a_withdrawal(
        ledger_backend: LedgerBackend) -> None:
    with Ledger.open(ledger_backend.target()) as ledger:
        first = datetime(2026, 3, 8, 12, tzinfo=UTC)
        later = datetime(2026, 3, 8, 18, tzinfo=UTC)
        assert ledger.add_metrics("01-a", "x", later, [("likes", 7, "ok", None)])
        assert ledger.add_metrics("01-a", "x", first, [("likes", 3, "ok", None),
                                                       ("impressions", None, "no_permission",
                                                        "add the scope")])
        assert ledger.add_metrics("02-b", "mastodon", first, [("", None, "gone", "deleted")])
        rows = ledger.metrics()
        assert [(r.story_id, r.fetched_at, r.metric, r.value) for r in rows] == [
            ("02-b", first, "", None), ("01-a", first, "impressions", None),
            ("01-a", first, "likes", 3), ("01-a", later, "likes", 7)]
        assert ledger.last_metrics_fetch() == later
        ledger.withdraw("01-a", "anna", later)
        assert {r.story_id for r in ledger.metrics()} == {"02-b"}
        # A withdrawn story's numbers are never stored again.
        assert not ledger.add_metrics("01-a", "x", later, [("likes", 9, "ok", None)])
        assert ledger.metrics("01-a") == []


def test_accounts_sessions_and_sign_in_failures(ledger: Ledger) -> None:
    later = NOW + timedelta(hours=1)
    assert ledger.add_user("anna", "admin", "hash1", NOW)
    assert not ledger.add_user("anna", "editor", "hash2", NOW)
    assert ledger.user("anna") == ("anna", "admin", "hash1")
    ledger.create_session("tok", "anna", "csrf", NOW, later)
    assert ledger.session("tok", NOW) == ("anna", "admin", "csrf")
    assert ledger.session("tok", later) is None  # expired
    ledger.login_failed("piet", NOW)
    assert ledger.login_failures("piet", NOW - timedelta(minutes=1)) == [NOW]
    assert ledger.set_password("anna", "hash3", NOW)
    assert ledger.session("tok", NOW) is None  # signed out everywhere
    assert [u[0] for u in ledger.users()] == ["anna"]
    assert ledger.remove_user("anna", NOW) and ledger.user("anna") is None


def test_a_fate_keeps_its_since_until_kind_or_day_change(ledger: Ledger) -> None:
    later = NOW + timedelta(hours=1)
    ledger.set_fate("stories/a.md", "a", "spare", None, "full", NOW)
    ledger.set_fate("stories/a.md", "a", "spare", None, "still full", later)
    assert ledger.fates()["stories/a.md"].since == NOW
    ledger.set_fate("stories/a.md", "a", "planned", "2027-03-09", None, later)
    assert ledger.fates()["stories/a.md"].since == later
    ledger.forget_fate("stories/a.md")
    assert ledger.fates() == {}


def test_alerts_newest_first_and_the_control_events(ledger: Ledger) -> None:
    ledger.add_alert("a", "first", NOW)
    ledger.add_alert("b", "second", NOW + timedelta(minutes=1))
    assert [text for _, text, _ in ledger.alerts()] == ["second", "first"]
    before = ledger.last_control_event_id()
    ledger.set_paused(True, "Piet", NOW)
    assert ledger.last_control_event_id() > before


def test_facts_read_only_and_empty_before_there_is_a_ledger(ledger_backend: LedgerBackend) -> None:
    from campaign.ledger import read_facts

    target = ledger_backend.target()
    assert read_facts(target).pinned == {}
    with Ledger.open(target) as ledger:
        ledger.ensure_post("01-a", "x", "2027-03-09", NOW, NOW)
        ledger.withdraw("02-b", None, NOW)
        assert ledger.facts() == read_facts(target)
    facts = read_facts(target)
    assert facts.pinned == {"01-a": datetime(2027, 3, 9).date()} and facts.withdrawn == {"02-b"}


@pytest.mark.sqlite_only
def test_facts_of_a_ledger_file_still_being_made_are_empty(tmp_path: Path) -> None:
    """`campaign check` while `campaign run` makes the ledger: the file exists before its
    tables (or its making was cut off). That is no facts yet, not "not a campaign ledger"."""
    from campaign.ledger import read_facts

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert read_facts(empty) == LedgerFacts()
    switched = tmp_path / "switched.sqlite"  # Ledger.open's first step: WAL, no tables yet
    db = sqlite3.connect(switched)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    assert read_facts(switched) == LedgerFacts()
    Ledger.open(switched).close()
    assert read_facts(switched) == LedgerFacts()
    other = tmp_path / "other.sqlite"  # another program's database is still refused
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE photos (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="not a campaign ledger"):
        read_facts(other)


def test_the_publish_lock_is_one_at_a_time_across_connections(ledger_backend: LedgerBackend) -> None:
    from campaign.ledger import publish_lock

    target = ledger_backend.target()
    with Ledger.open(target) as first, Ledger.open(target) as second:
        with publish_lock(first), pytest.raises(LedgerError, match="another campaign process"), \
                publish_lock(second, timeout=0.3):
            pass
        with publish_lock(second):  # free again once the first let go
            pass


def test_the_publish_lock_is_per_platform_and_the_whole_lock_waits_for_each(
        ledger_backend: LedgerBackend) -> None:
    from campaign.ledger import publish_lock

    target = ledger_backend.target()
    with Ledger.open(target) as first, Ledger.open(target) as second:
        with publish_lock(first, platform="x"):
            with publish_lock(second, platform="mastodon", timeout=0.3):  # another platform
                pass
            with pytest.raises(LedgerError, match="another campaign process"), \
                    publish_lock(second, platform="x", timeout=0.3):
                pass
            with pytest.raises(LedgerError, match="another campaign process"), \
                    publish_lock(second, timeout=0.3):  # every platform: x is held
                pass
        with publish_lock(second, platform="mastodon"):  # the whole lock let go of all
            pass


# -- PostgreSQL: the lead and its fencing (SPEC §15) --------------------------------------

@pytest.fixture
def shared(postgres):  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    with Ledger.open(url) as ledger:
        yield ledger


@pytest.mark.postgresql
def test_one_lead_at_a_time_and_a_standby_takes_it_when_the_lease_runs_out(shared: Ledger) -> None:
    import time

    assert shared.take_lead("a", 0.5)
    assert not shared.take_lead("b", 0.5)
    assert shared.take_lead("a", 0.5)  # renewed by its holder
    assert [(s.leading) for s in shared.schedulers()] == [True, False]
    time.sleep(0.7)
    assert shared.take_lead("b", 30)
    assert not shared.take_lead("a", 30)  # the old holder is standing by now
    shared.leave("b", release=True)
    assert shared.leader() is None
    assert shared.take_lead("a", 30)


@pytest.mark.postgresql
def test_a_claim_proves_the_lead_in_its_own_transaction(shared: Ledger) -> None:
    import time

    from campaign.ledger import LeadClaim

    for story in ("s1", "s2", "s3", "s4"):
        shared.ensure_post(story, "x", "2027-03-08", NOW, NOW)
    assert shared.take_lead("mine", 1.0)
    shared.lead = LeadClaim("mine", margin=0.2)
    assert shared.claim("s1", "x", "h", "c", NOW)  # held, enough of it left
    shared.lead = LeadClaim("mine", margin=5.0)
    assert not shared.claim("s2", "x", "h", "c", NOW)  # too little of the lease left to send
    shared.lead = LeadClaim("someone-else", margin=0.0)
    assert not shared.claim("s3", "x", "h", "c", NOW)
    shared.lead = LeadClaim("mine", margin=0.0)
    time.sleep(1.1)
    assert not shared.claim("s4", "x", "h", "c", NOW)  # the lease ran out
    assert {r.story_id: r.state for r in shared.posts()} == {
        "s1": "publishing", "s2": "planned", "s3": "planned", "s4": "planned"}


@pytest.mark.postgresql
def test_the_shared_database_is_named_without_its_password(postgres) -> None:  # type: ignore[no-untyped-def]
    from campaign.ledger_backends import shown

    url = "postgresql://campaign:s3cr3t-pw@db.example.org:5432/campaign?sslmode=require"
    assert shown(url) == "postgresql://campaign@db.example.org:5432/campaign?sslmode=require"
    assert "s3cr3t" not in shown("postgresql://u@h/db?password=s3cr3t&sslmode=require")
    # A database that does not answer: the message names it, never the password.
    dead = f"postgresql://campaign:s3cr3t-pw@/nowhere?host={postgres.socket_dir}&port=1"
    with pytest.raises(LedgerError) as caught:
        Ledger.open(dead)
    assert "s3cr3t" not in str(caught.value) and "shared database" in str(caught.value)
