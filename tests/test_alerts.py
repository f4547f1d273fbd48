"""Alerts against a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from campaign.alerts import Alerter
from campaign.config import AlertSettings
from campaign.ledger import Ledger
from tests.conftest import Inbox, free_port

NOW = datetime(2027, 3, 8, 10, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        yield opened


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == b"s3cret-pw"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticate)
    controller.start()
    yield inbox, port, cert
    controller.stop()


def email_settings(port: int, security: str = "none") -> AlertSettings:
    return AlertSettings(email_to=["comms@example.org"], email_from="campaign@example.org",
                         smtp_host="127.0.0.1", smtp_port=port, smtp_security=security)  # type: ignore[arg-type]


def test_email_alert_arrives(ledger: Ledger, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    alerter = Alerter(email_settings(port), ledger, {}, campaign_name="Week van de Zeldzame Kanker")
    assert alerter.alert("failed:01-marieke/x", "01-marieke/x failed: HTTP 403", NOW)
    [message] = inbox.messages
    assert message["Subject"] == "[Week van de Zeldzame Kanker] 01-marieke/x failed: HTTP 403"
    assert message["To"] == "comms@example.org"
    assert ledger.unsent_alerts() == []


def test_starttls_with_login(ledger: Ledger, tls_smtp_server: tuple[Inbox, int, Path]) -> None:
    inbox, port, cert = tls_smtp_server
    env = {"CAMPAIGN_SMTP_USER": "alerts", "CAMPAIGN_SMTP_PASSWORD": "s3cret-pw",
           "CAMPAIGN_SMTP_CA_FILE": str(cert)}
    alerter = Alerter(email_settings(port, "starttls"), ledger, env)
    alerter.alert("missed:s/x", "MISSED: s/x", NOW)
    assert len(inbox.messages) == 1
    assert ledger.unsent_alerts() == []


def test_webhook_gets_json_with_text(ledger: Ledger, webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    alerter = Alerter(AlertSettings(webhook=True), ledger, {"CAMPAIGN_ALERT_WEBHOOK_URL": url})
    alerter.alert("withdrawn:s", "s was withdrawn", NOW)
    assert received == [{"text": "s was withdrawn"}]


def test_one_alert_per_event_even_after_a_restart(tmp_path: Path,
                                                  webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    env = {"CAMPAIGN_ALERT_WEBHOOK_URL": url}
    for _ in range(2):  # two runs of the scheduler on the same ledger
        with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
            Alerter(AlertSettings(webhook=True), ledger, env).alert("failed:s/x", "s/x failed", NOW)
    assert len(received) == 1


def test_undeliverable_alert_is_kept_and_retried(ledger: Ledger, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    closed = free_port()
    alerter = Alerter(email_settings(closed), ledger, {})
    assert alerter.alert("failed:s/x", "s/x failed", NOW)  # no exception
    assert ledger.unsent_alerts() == [("failed:s/x", "s/x failed")]
    alerter.settings = email_settings(port)  # the mail server is back
    assert alerter.deliver_pending(NOW) == 1  # not yet: the next try is 30 s after the first
    moment = alerter.clock()
    alerter.clock = lambda: moment + 31
    assert alerter.deliver_pending(NOW) == 0
    assert len(inbox.messages) == 1


def test_an_unreachable_mail_server_is_tried_further_apart_and_logged_rarely(
        ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 21: an unreachable SMTP host was tried, and logged, every 4 seconds."""
    alerter = Alerter(email_settings(free_port()), ledger, {})
    start = alerter.clock()
    elapsed = [0.0]
    alerter.clock = lambda: start + elapsed[0]
    tries = 0
    real_send = alerter.send

    def counted(text: str) -> None:
        nonlocal tries
        tries += 1
        real_send(text)

    alerter.send = counted  # type: ignore[method-assign]
    with caplog.at_level("ERROR", logger="campaign.alerts"):
        alerter.alert("failed:s/x", "s/x failed", NOW)
        for _ in range(720):  # an hour of watch ticks, one every 5 seconds
            elapsed[0] += 5
            alerter.deliver_pending(NOW)
    # At 0 s, then 30, 60, 120, 240, 480 and 960 s after each try before (the gaps double,
    # up to 30 minutes): 7 tries in the hour, not 720.
    assert tries == 7
    assert len(caplog.records) <= 3


def test_probe_channels_says_whether_each_can_be_reached_without_sending(
        smtp_server: tuple[Inbox, int]) -> None:
    from campaign.alerts import probe_channels

    inbox, port = smtp_server
    [ok] = probe_channels(email_settings(port), {})
    assert ok.ok and ok.detail == f"the mail server 127.0.0.1:{port} answers (to comms@example.org)"
    assert inbox.messages == []  # nothing was sent
    nowhere = AlertSettings(email_to=["a@example.org"], email_from="c@example.org",
                            smtp_host="smtp.invalid", smtp_port=587)
    [bad] = probe_channels(nowhere, {})
    assert not bad.ok and bad.detail == ("the mail server smtp.invalid cannot be found (its name "
                                         "does not resolve): check alerts.smtp_host")
    closed = probe_channels(email_settings(free_port()), {})[0]
    assert not closed.ok and "does not answer (ConnectionRefusedError)" in closed.detail


def test_secrets_are_redacted_from_alerts(ledger: Ledger, webhook: tuple[list[dict[str, Any]], str]) -> None:
    received, url = webhook
    env = {"CAMPAIGN_ALERT_WEBHOOK_URL": url, "LINKEDIN_TOKEN": "sentinel-token-98765"}
    Alerter(AlertSettings(webhook=True), ledger, env).alert(
        "failed:s/linkedin", "401 with token sentinel-token-98765", NOW)
    assert "sentinel-token-98765" not in json.dumps(received)
    assert "sentinel-token-98765" not in json.dumps(ledger.unsent_alerts())
