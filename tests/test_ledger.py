"""The ledger: a real SQLite file, durable states, race-safe claims, a lock across processes."""

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
from campaign.models import post_key

NOW = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Ledger.open(tmp_path / "state" / "ledger.sqlite") as opened:
        yield opened


def test_new_ledger_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"posts", "events", "approvals", "withdrawals", "flags", "heartbeat", "alerts"} <= tables


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="newer campaign"):
        Ledger.open(path)


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not a campaign ledger"):
        Ledger.open(path)


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


def test_two_processes_opening_a_new_ledger_at_once_both_get_it(tmp_path: Path) -> None:
    """`campaign status` started while `campaign run` creates the ledger: one migrates, the
    other waits for it and finds the schema there (seen: 'table posts already exists')."""
    import threading

    path = tmp_path / "ledger.sqlite"
    errors: list[Exception] = []

    def open_it() -> None:
        try:
            Ledger.open(path).close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


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


def _in_state(ledger: Ledger, state: str) -> None:
    """Drive 01-marieke/x into `state` along allowed edges."""
    ledger.ensure_post("01-marieke", "x", "2027-03-08", NOW, NOW)
    path = {
        "planned": [], "held": ["held"], "publishing": ["claim"], "posted": ["claim", "posted"],
        "failed": ["failed"], "missed": ["missed"], "needs_attention": ["claim", "needs_attention"],
        "withdrawn": ["withdrawn"], "deleted": ["claim", "posted", "deleted"],
        "delete_by_hand": ["claim", "posted", "delete_by_hand"],
    }[state]
    for step in path:
        if step == "claim":
            assert ledger.claim("01-marieke", "x", "hash", "caption", NOW)
        else:
            assert ledger.set_state("01-marieke", "x", step, NOW)  # type: ignore[arg-type]
    record = ledger.post("01-marieke", "x")
    assert record is not None and record.state == state


@pytest.mark.parametrize("start", STATES)
def test_every_state_change_follows_the_state_machine(tmp_path: Path, start: str) -> None:
    for target in STATES:
        with Ledger.open(tmp_path / f"{start}-{target}.sqlite") as ledger:
            _in_state(ledger, start)
            moved = ledger.set_state("01-marieke", "x", target, NOW)
            assert moved == (target in TRANSITIONS[start]), f"{start} -> {target}"  # type: ignore[index]
            record = ledger.post("01-marieke", "x")
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


def test_metrics_snapshots_are_stored_in_order_and_go_with_a_withdrawal(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
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
