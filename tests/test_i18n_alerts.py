"""Alerts and the daily summary in the staff's language: Dutch with `use_language("nl")`,
English otherwise, through a real SMTP server (aiosmtpd) and a real webhook receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from campaign.alerts import Alerter
from campaign.config import AlertSettings, load_project
from campaign.i18n import use_language
from campaign.ledger import Ledger, StoredFate
from campaign.models import Fate
from campaign.publish import Publishing, WithdrawReport
from campaign.scheduler import Scheduler, _fate_alert
from tests.conftest import REPO, Inbox
from tests.test_alerts import email_settings

NOW = datetime(2027, 3, 8, 10, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        yield opened


def moved_alert() -> str:
    """The alert the scheduler sends when a story moves to another day."""
    fate = Fate(file="08-ingrid.md", story_id="08-ingrid", kind="planned", day=date(2027, 3, 9))
    before = StoredFate("08-ingrid.md", "08-ingrid", "planned", "2027-03-08", None, NOW)
    text = _fate_alert(fate, before, first=False)
    assert text is not None
    return text


def subject_of(message: Message) -> str:
    """The subject, unfolded (a long header arrives on several lines)."""
    return re.sub(r"\r?\n(?=[ \t])", "", str(message["Subject"]))


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_an_email_alert_in_dutch(ledger: Ledger, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    with use_language("nl"):
        alerter = Alerter(email_settings(port), ledger, {}, campaign_name="Week van de Kanker")
        assert alerter.alert("fate:08-ingrid.md:planned", moved_alert(), NOW)
    [message] = inbox.messages
    subject, text = subject_of(message), body(message)
    print(subject, text, sep="\n")
    assert subject == ("[Week van de Kanker] 08-ingrid is verschoven van maandag 8 maart naar "
                       "dinsdag 9 maart: de berichten worden dan geplaatst.")
    assert "voer `campaign status` uit voor het hele overzicht" in text
    for english in ("moved from", "its posts go out", "Monday", "March", "whole picture"):
        assert english not in subject and english not in text


def test_the_same_email_alert_in_english(ledger: Ledger, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    alerter = Alerter(email_settings(port), ledger, {}, campaign_name="Week van de Kanker")
    assert alerter.alert("fate:08-ingrid.md:planned", moved_alert(), NOW)
    [message] = inbox.messages
    subject, text = subject_of(message), body(message)
    assert subject == ("[Week van de Kanker] 08-ingrid moved from Monday 8 March to Tuesday "
                       "9 March: its posts go out then.")
    assert "run `campaign status` for the whole picture" in text
    for dutch in ("verschoven", "maandag", "maart", "overzicht"):
        assert dutch not in subject and dutch not in text


def test_a_webhook_alert_in_dutch(ledger: Ledger, webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    report = WithdrawReport("03-fatima", cancelled=["x", "bluesky"], deleted=["mastodon"],
                            by_hand=[("instagram", None)])
    with use_language("nl"):
        alerter = Alerter(AlertSettings(webhook=True), ledger, {"CAMPAIGN_ALERT_WEBHOOK_URL": url})
        assert alerter.alert("withdrawn:03-fatima", report.text(), NOW)
    [sent] = received
    print(sent["text"])
    assert sent["text"] == (
        "03-fatima: toestemming ingetrokken; het wordt nooit meer geplaatst.\n"
        "Geannuleerd voordat het geplaatst werd: x, bluesky.\n"
        "Verwijderd: mastodon.\n"
        "ZELF VERWIJDEREN op instagram: zoek het bericht op het account en verwijder het")
    assert "consent" not in sent["text"] and "DELETE BY HAND" not in sent["text"]


class _FixedClock:
    def now(self) -> datetime:
        return NOW + timedelta(hours=10)

    def wall(self, moment: datetime) -> datetime:
        return moment

    def wall_seconds(self, campaign: timedelta) -> float:
        return campaign.total_seconds()


def _summary_sent(ledger: Ledger, received: list[dict[str, Any]], url: str) -> str:
    project = load_project(REPO / "campaign.toml")
    for story, platform, state in (("01-marieke", "x", "posted"), ("01-marieke", "bluesky",
                                   "posted"), ("01-marieke", "linkedin", "failed")):
        ledger.ensure_post(story, platform, "2027-03-08", NOW, NOW)
        if state == "failed":
            ledger.set_state(story, platform, "failed", NOW, error="refused")
        else:
            assert ledger.claim(story, platform, "hash", "caption", NOW)
            ledger.set_state(story, platform, "posted", NOW, remote_id="1")
    alerter = Alerter(AlertSettings(webhook=True), ledger, {"CAMPAIGN_ALERT_WEBHOOK_URL": url})
    scheduler = Scheduler(project, ledger, Publishing(project, ledger), alerter, _FixedClock())
    scheduler._summary(date(2027, 3, 8))
    [sent] = received
    return str(sent["text"])


def test_the_daily_summary_in_dutch(ledger: Ledger,
                                    webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    with use_language("nl"):
        text = _summary_sent(ledger, received, url)
    print(text)
    assert text == "Dagoverzicht van maandag 8 maart: 2 geplaatst, 1 mislukt."
    assert "Daily summary" not in text and "posted" not in text


def test_the_daily_summary_in_english(ledger: Ledger,
                                      webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    text = _summary_sent(ledger, received, url)
    assert text == "Daily summary for Monday 8 March: 2 posted, 1 failed."


def test_the_end_of_a_rehearsal_in_dutch() -> None:
    from campaign.account import shown_lateness
    from campaign.rehearsal import summary_lines

    summary: dict[str, Any] = {
        "posts": [{"state": "posted", "story": "01-marieke", "platform": "x"},
                  {"state": "failed", "story": "01-marieke", "platform": "linkedin",
                   "last_error": "LinkedIn refused the token", "reason": None}],
        "states": {"posted": 1, "failed": 1}, "stories": [], "sandbox_posts": {"x": 1},
        "faults_met": 1, "retries": 0, "alerts": [], "feed_url": "file:///f", "workdir": "/w"}
    with use_language("nl"):
        summary["lateness"] = shown_lateness(timedelta(minutes=48), 6)
        lines = summary_lines(summary)
    print("\n".join(lines))
    assert "Oefenweek klaar: 2 berichten, 1 geplaatst, 1 mislukt." in lines
    assert "  MISLUKT: 01-marieke op linkedin: LinkedIn refused the token" in lines
    text = "\n".join(lines)
    assert "0,20 s echte tijd" in text
    for english in ("Rehearsal finished", "Faults met", "Timing", "every post went out"):
        assert english not in text
