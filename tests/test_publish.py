"""The publish path: the real sandbox over HTTP, a real SQLite ledger, the example stories."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from campaign.config import Project, load_project
from campaign.errors import PostRefused
from campaign.ledger import Ledger
from campaign.publish import Publishing, publish_post, reconcile_all, retry_time, withdraw_story
from campaign.publishers import supported_platforms
from campaign.sandbox import Fault, Sandbox
from campaign.stories import read_story
from tests.conftest import REPO

# 09:00 local on the first campaign day: every example story's consent is valid.
NOW = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)
PLATFORMS = supported_platforms()
STORY = "01-marieke"  # consents to all six platforms


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "campaign"
    root.mkdir()
    shutil.copy2(REPO / "campaign.toml", root / "campaign.toml")
    shutil.copytree(REPO / "stories", root / "stories")
    shutil.copytree(REPO / "assets", root / "assets")
    return load_project(root / "campaign.toml")


@pytest.fixture
def ledger(project: Project) -> Iterator[Ledger]:
    with Ledger.open(project.ledger_path) as opened:
        yield opened


@pytest.fixture
def ctx(project: Project, ledger: Ledger, sandbox: Sandbox) -> Iterator[Publishing]:
    session = requests.Session()
    started = datetime.now(UTC)  # the sandbox stamps posts with the real clock
    yield Publishing(project=project, ledger=ledger, session=session, env=sandbox.env(),
                     publisher_options={"instagram": {"poll_interval": 0.01}},
                     platform_time=lambda moment: started + (moment - NOW))
    session.close()


def approve(project: Project, ledger: Ledger, story_id: str = STORY) -> None:
    story = read_story(project.stories_dir / f"{story_id}.md", project).story
    assert story is not None
    ledger.approve(story_id, story.content_hash, "Anna", NOW)


def live(sandbox: Sandbox, platform: str, story: str | None = None) -> list[dict[str, Any]]:
    return [p for p in sandbox.posts() if p["platform"] == platform]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_post_publishes_once_and_never_again(ctx: Publishing, ledger: Ledger, project: Project,
                                            sandbox: Sandbox, platform: str) -> None:
    approve(project, ledger)
    first = publish_post(ctx, STORY, platform, NOW)
    assert first.state == "posted" and first.remote_id and first.url
    again = publish_post(ctx, STORY, platform, NOW)
    assert again.state == "posted" and again.message.startswith("already posted")
    [held] = live(sandbox, platform)
    assert held["alt_text"].startswith("Twee jaar zoeken naar een diagnose")
    record = ledger.post(STORY, platform)
    assert record is not None and record.state == "posted" and record.attempts == 1
    assert record.remote_id == first.remote_id


def test_pause_blocks_and_resume_allows(ctx: Publishing, ledger: Ledger, project: Project,
                                        sandbox: Sandbox) -> None:
    approve(project, ledger)
    ledger.set_paused(True, "Piet", NOW)
    with pytest.raises(PostRefused, match="paused"):
        publish_post(ctx, STORY, PLATFORMS[0], NOW)
    assert sandbox.posts() == []
    ledger.set_paused(False, "Piet", NOW)
    assert publish_post(ctx, STORY, PLATFORMS[0], NOW).state == "posted"


def test_unapproved_story_is_held_and_an_edit_holds_it_again(ctx: Publishing, ledger: Ledger,
                                                            project: Project, sandbox: Sandbox) -> None:
    platform = PLATFORMS[0]
    with pytest.raises(PostRefused, match="not approved"):
        publish_post(ctx, STORY, platform, NOW)
    assert ledger.post(STORY, platform).state == "held"  # type: ignore[union-attr]
    approve(project, ledger)
    path = project.stories_dir / f"{STORY}.md"
    path.write_text(path.read_text().replace("Vraag door.", "Blijf doorvragen."))
    with pytest.raises(PostRefused, match="edited after approval"):
        publish_post(ctx, STORY, platform, NOW)
    assert sandbox.posts() == []
    approve(project, ledger)
    assert publish_post(ctx, STORY, platform, NOW).state == "posted"


def test_consent_that_does_not_cover_the_platform_is_refused(ctx: Publishing, ledger: Ledger,
                                                           project: Project) -> None:
    approve(project, ledger, "03-fatima")  # consents to facebook, instagram, linkedin only
    with pytest.raises(PostRefused, match="does not cover x"):
        publish_post(ctx, "03-fatima", "x", NOW)


def test_consent_not_valid_today_is_refused(ctx: Publishing, ledger: Ledger, project: Project) -> None:
    approve(project, ledger, "04-henk")  # expires 2027-06-30
    with pytest.raises(PostRefused, match="not valid today"):
        publish_post(ctx, "04-henk", PLATFORMS[0], datetime(2027, 7, 1, 9, tzinfo=UTC))


def test_invalid_story_file_is_not_posted(ctx: Publishing, ledger: Ledger, project: Project,
                                          sandbox: Sandbox) -> None:
    approve(project, ledger)
    path = project.stories_dir / f"{STORY}.md"
    path.write_text(path.read_text().replace("signed: 2026-10-30", "signed: gisteren"))
    with pytest.raises(PostRefused, match="not valid"):
        publish_post(ctx, STORY, PLATFORMS[0], NOW)
    assert sandbox.posts() == []


# Each fault kind, per platform, ends in the state SPEC §7 names.
EXPECTED = {
    "rate_limit": "planned",       # retried after the reset time
    "server_error": "planned",     # retried with backoff
    "expired_token": "failed",     # rejected: a human must renew the token
    "duplicate": "failed",         # rejected
    "drop_response": "posted",     # unknown outcome, found by the lookup: not posted twice
    "timeout": "planned",          # unknown outcome, proven absent by the lookup: retried
}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_fault_kind_ends_in_its_state(ctx: Publishing, ledger: Ledger, project: Project,
                                           sandbox: Sandbox, platform: str, kind: str) -> None:
    if kind not in sandbox.platforms[platform].fault_kinds:
        pytest.skip(f"{platform} has no {kind} fault (the platform has no such error)")
    approve(project, ledger)
    sandbox.add_fault(Fault(platform=platform, call="create", kind=kind,
                            reset_after=5, delay=0.3))
    outcome = publish_post(ctx, STORY, platform, NOW)
    record = ledger.post(STORY, platform)
    assert record is not None
    expected = EXPECTED[kind]
    if (platform, kind) == ("bluesky", "expired_token"):
        expected = "posted"  # an expired Bluesky session is refreshed and the call sent again
    assert record.state == expected, (outcome.message, record.last_error)
    if kind == "rate_limit":
        assert outcome.retry_at is not None and outcome.retry_at >= NOW
        assert record.next_attempt == outcome.retry_at
    if kind == "drop_response":
        assert len(live(sandbox, platform)) == 1
    if expected == "failed":
        assert outcome.alert and platform in outcome.alert
    if expected == "planned":
        assert live(sandbox, platform) == []
        again = publish_post(ctx, STORY, platform, outcome.retry_at or NOW)  # the retry
        assert again.state == "posted"
        assert len(live(sandbox, platform)) == 1


def test_a_retry_s_wait_counts_from_when_the_failure_came_back(
        ctx: Publishing, ledger: Ledger, project: Project, sandbox: Sandbox) -> None:
    """The attempt began at NOW and its answer came back ten minutes later (a slow upload;
    in a rehearsal, a few milliseconds of a compressed clock): the backoff starts then, so
    the retry is not due at once, and the ledger notes the failure when it was known."""
    approve(project, ledger)
    sandbox.add_fault(Fault(platform="mastodon", call="create", kind="server_error"))
    failed = NOW + timedelta(minutes=10)
    slow = dataclasses.replace(ctx, clock=lambda: failed)
    outcome = publish_post(slow, STORY, "mastodon", NOW)
    assert outcome.state == "planned"
    assert outcome.retry_at == retry_time(1, failed, None, key=f"{STORY}/mastodon")
    assert outcome.retry_at is not None and outcome.retry_at >= failed + timedelta(seconds=30)
    [retry] = [e for e in ledger.events(STORY) if e.kind == "retry"]
    assert retry.at == failed and retry.next_attempt == outcome.retry_at


@pytest.mark.parametrize(("kind", "state"), [("stuck_in_progress", "planned"),
                                             ("container_error", "planned")])
def test_instagram_container_faults_end_in_their_state(project: Project, ledger: Ledger,
                                                       sandbox: Sandbox, kind: str, state: str) -> None:
    """A container that never finishes, or fails, published nothing: a retry makes a new one."""
    approve(project, ledger)
    ctx = Publishing(project=project, ledger=ledger, env=sandbox.env(),
                     publisher_options={"instagram": {"poll_interval": 0.01, "poll_timeout": 0.5}})
    sandbox.add_fault(Fault(platform="instagram", call="container", kind=kind))
    outcome = publish_post(ctx, STORY, "instagram", NOW)
    assert ledger.post(STORY, "instagram").state == state  # type: ignore[union-attr]
    assert outcome.retry_at is not None
    assert live(sandbox, "instagram") == []
    assert sandbox.media == {}  # the hosted copy of the card was removed


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_post_left_publishing_is_reconciled_not_sent_again(ctx: Publishing, ledger: Ledger,
                                                              project: Project, sandbox: Sandbox,
                                                              platform: str) -> None:
    approve(project, ledger)
    assert publish_post(ctx, STORY, platform, NOW).state == "posted"
    # As if the process died after the platform answered, before the outcome was written:
    # the row is still what `claim` made it (the state machine has no edge posted ->
    # publishing, so the file is written directly, as the crash left it).
    with sqlite3.connect(ledger.path) as db:
        db.execute("UPDATE posts SET state = 'publishing', remote_id = NULL, url = NULL "
                   "WHERE story_id = ? AND platform = ?", (STORY, platform))
    [outcome] = reconcile_all(ctx, NOW)
    assert outcome.state == "posted"
    assert len(live(sandbox, platform)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_withdraw_deletes_where_the_api_allows(ctx: Publishing, ledger: Ledger, project: Project,
                                              sandbox: Sandbox, platform: str) -> None:
    approve(project, ledger)
    publish_post(ctx, STORY, platform, NOW)
    report = withdraw_story(ctx, STORY, "Anna", NOW)
    record = ledger.post(STORY, platform)
    assert record is not None
    if platform in report.deleted:
        assert record.state == "deleted"
        assert live(sandbox, platform) == []
    else:
        assert [p for p, _ in report.by_hand] == [platform]
        assert record.state == "delete_by_hand"
    assert not list((project.build_dir / "cards").glob(f"{STORY}-*"))
    with pytest.raises(PostRefused, match="withdrawn"):
        publish_post(ctx, STORY, platform, NOW)
    assert [e.kind for e in ledger.events(STORY)].count("withdrawn") == 1


def test_withdraw_cancels_pending_posts(ctx: Publishing, ledger: Ledger, project: Project) -> None:
    ledger.ensure_post("02-joost", "facebook", "2027-03-09", NOW, NOW)
    report = withdraw_story(ctx, "02-joost", "Anna", NOW)
    assert report.cancelled == ["facebook"]
    assert ledger.post("02-joost", "facebook").state == "withdrawn"  # type: ignore[union-attr]


def test_status_json_shape(project: Project, ledger: Ledger) -> None:
    from campaign.status import status_report

    document = status_report(project, ledger, NOW)
    # SPEC §10's keys, and what it may grow by: each story file's fate, each post's reason.
    assert set(document) == {"scheduler", "paused", "posts", "stories"}
    assert document["scheduler"]["alive"] is False
    first = document["posts"][0]
    assert set(first) == {"story", "platform", "due", "state", "remote_id", "url", "attempts",
                          "last_error", "reason"}
    assert first["state"] == "held"  # require_approval, nothing approved yet
    assert "not approved" in first["reason"]
    assert {"file", "id", "fate", "day", "reason", "since"} <= set(document["stories"][0])
    json.dumps(document)


@pytest.mark.postgresql
def test_two_machines_with_different_copies_of_a_story_never_post_them_silently(
        project: Project, sandbox: Sandbox, postgres: Any) -> None:
    """Issue 20: what a host posts is decided by the content hash in the shared ledger; a
    host whose copy differs posts nothing unapproved, and an approved other version is
    posted with an alert, once."""
    with Ledger.open(postgres.new_database()) as shared:
        started = datetime.now(UTC)
        ctx = Publishing(project=project, ledger=shared, env=sandbox.env(),
                         publisher_options={"instagram": {"poll_interval": 0.01}},
                         platform_time=lambda moment: started + (moment - NOW))
        approve(project, shared)
        assert publish_post(ctx, STORY, "x", NOW).state == "posted"
        # The other host's copy of the file says something else.
        path = project.stories_dir / f"{STORY}.md"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "quote: ", "quote: Anders. ", 1), encoding="utf-8")
        with pytest.raises(PostRefused, match="held"):
            publish_post(ctx, STORY, "facebook", NOW)
        assert shared.alerts() == []
        approve(project, shared)  # someone approves that version too
        assert publish_post(ctx, STORY, "facebook", NOW).state == "posted"
        assert publish_post(ctx, STORY, "mastodon", NOW).state == "posted"
        [(_, text, _)] = shared.alerts()
        assert "another version of the story file" in text and "already sent to x" in text
