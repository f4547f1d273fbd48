"""Alerts: tell a human the moment something needs attention; silence means all is well.

Each alert has a key naming its event (`failed:01-marieke/x`); the ledger
records it once, so a restart never repeats it. Delivery is e-mail (stdlib
smtplib, STARTTLS or TLS) and/or a webhook (a JSON POST with a `text` field,
which Slack, Mattermost and Teams incoming webhooks accept). An alert that
cannot be delivered stays in the ledger as unsent, and is tried again by the
scheduler, further apart each time (30 seconds, doubling, up to 30 minutes):
an SMTP host that cannot be reached is not tried, and logged, every few
seconds. `probe_channels` finds out whether each channel can be reached
without sending anything (`doctor`, and once when the scheduler starts);
delivery never raises.

Routine messages (the daily summary) are logged at INFO; alerts at WARNING.

Secrets (SMTP user and password, the webhook URL) come from the environment:
CAMPAIGN_SMTP_USER, CAMPAIGN_SMTP_PASSWORD, CAMPAIGN_ALERT_WEBHOOK_URL.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests

from campaign.config import AlertSettings
from campaign.errors import DeliveryFailed
from campaign.i18n import _
from campaign.ledger import Ledger
from campaign.secrets import redact

log = logging.getLogger("campaign.alerts")
SMTP_TIMEOUT = 20
WEBHOOK_TIMEOUT = 10
# An alert that could not be delivered is tried again after this, doubling up to the cap.
RETRY_FIRST = 30.0
RETRY_MAX = 1800.0
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ChannelState:
    """Whether one alert channel can be reached, found without sending anything."""

    channel: str  # "e-mail" or "webhook"
    ok: bool
    detail: str  # what was found, in plain words; with the fix when not ok


def probe_channels(settings: AlertSettings, env: Mapping[str, str],
                   timeout: float = PROBE_TIMEOUT) -> list[ChannelState]:
    """Each channel that is set up: can it be reached? E-mail: the host resolves and its
    SMTP server answers (greeting and EHLO, nothing is sent). Webhook: its host resolves and
    takes a connection (nothing is posted)."""
    states: list[ChannelState] = []
    if settings.email_to:
        host, port = settings.smtp_host or "localhost", settings.smtp_port
        where = f"{host}:{port}"
        try:
            socket.getaddrinfo(host, port)
        except OSError:
            states.append(ChannelState("e-mail", False, _(
                "the mail server {host} cannot be found (its name does not resolve): "
                "check alerts.smtp_host").format(host=host)))
        else:
            try:
                smtp: smtplib.SMTP
                if settings.smtp_security == "tls":
                    smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                            context=ssl.create_default_context())
                else:
                    smtp = smtplib.SMTP(host, port, timeout=timeout)
                with smtp:
                    smtp.ehlo()
                states.append(ChannelState("e-mail", True, _(
                    "the mail server {where} answers (to {addresses})").format(
                        where=where, addresses=", ".join(settings.email_to))))
            except (OSError, smtplib.SMTPException) as exc:
                states.append(ChannelState("e-mail", False, _(
                    "the mail server {where} does not answer ({error}): check "
                    "alerts.smtp_host and smtp_port, and that this machine may reach it").format(
                        where=where, error=type(exc).__name__)))
    if settings.webhook:
        url = env.get("CAMPAIGN_ALERT_WEBHOOK_URL")
        if not url:
            states.append(ChannelState("webhook", False, _(
                "webhook = true but CAMPAIGN_ALERT_WEBHOOK_URL is not set: set it")))
        else:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    pass
                states.append(ChannelState("webhook", True, _(
                    "the webhook's host {host} answers").format(host=host)))
            except OSError as exc:
                states.append(ChannelState("webhook", False, _(
                    "the webhook's host {host} cannot be reached ({error}): check "
                    "CAMPAIGN_ALERT_WEBHOOK_URL").format(host=host, error=type(exc).__name__)))
    return states


class Alerter:
    """Records alerts in the ledger once per key and delivers them on every channel set up."""

    def __init__(
        self,
        settings: AlertSettings,
        ledger: Ledger,
        env: Mapping[str, str],
        session: requests.Session | None = None,
        *,
        campaign_name: str = "campaign",
        extra_sink: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.env = env
        self.session = session or requests.Session()
        self.campaign_name = campaign_name
        self.extra_sink = extra_sink  # the rehearsal collects alerts for its summary here
        # Per undelivered alert: how often it failed, and when (monotonic) to try again.
        self._backoff: dict[str, tuple[int, float]] = {}
        self.clock: Callable[[], float] = time.monotonic

    @property
    def channels(self) -> list[str]:
        channels = []
        if self.settings.email_to:
            channels.append("email")
        if self.settings.webhook and self.env.get("CAMPAIGN_ALERT_WEBHOOK_URL"):
            channels.append("webhook")
        return channels

    def alert(self, key: str, text: str, now: datetime, *, routine: bool = False) -> bool:
        """Record the alert (once per key) and try to deliver it; True if it was new.

        `routine` (the daily summary) is logged at INFO: nothing is wrong."""
        text = redact(text, self.env)
        if not self.ledger.add_alert(key, text, now):
            return False
        if routine:
            log.info("summary sent: %s", text)
        else:
            log.warning("ALERT %s", text)
        if self.extra_sink is not None and not routine:  # the summary is no alert
            self.extra_sink(text)
        self.deliver_pending(now)
        return True

    def deliver_pending(self, now: datetime) -> int:
        """Try the unsent alerts whose time has come; return how many are still unsent."""
        unsent = self.ledger.unsent_alerts()
        left = 0
        moment = self.clock()
        for key, text in unsent:
            failures, due = self._backoff.get(key, (0, 0.0))
            if moment < due:
                left += 1
                continue
            try:
                self.send(text)
            except DeliveryFailed as exc:
                left += 1
                wait = min(RETRY_FIRST * 2 ** failures, RETRY_MAX)
                self._backoff[key] = (failures + 1, moment + wait)
                if failures == 0 or wait == RETRY_MAX:
                    log.error("alert not delivered, tried %d time(s); next try in %d s: %s",
                              failures + 1, wait, redact(str(exc), self.env))
            else:
                self._backoff.pop(key, None)
                self.ledger.alert_sent(key, now)
        return left

    def announce(self) -> list[ChannelState]:
        """Say once which alert channels work (the scheduler calls this when it starts)."""
        states = probe_channels(self.settings, self.env)
        if not states:
            log.warning("no alert channel is set up: nobody will hear of a failed post "
                        "(set [alerts] email_to or webhook in campaign.toml)")
        for state in states:
            if state.ok:
                log.info("alerts by %s: %s", state.channel, state.detail)
            else:
                log.warning("alerts by %s will not arrive: %s", state.channel, state.detail)
        return states

    def send(self, text: str) -> None:
        """Deliver one text on every channel; raise DeliveryFailed if any channel failed."""
        errors = []
        if self.settings.email_to:
            try:
                self._email(text)
            except (OSError, smtplib.SMTPException) as exc:
                errors.append(f"e-mail via {self.settings.smtp_host}: {exc}")
        if self.settings.webhook:
            url = self.env.get("CAMPAIGN_ALERT_WEBHOOK_URL")
            if not url:
                errors.append("webhook = true but CAMPAIGN_ALERT_WEBHOOK_URL is not set: set it")
            else:
                try:
                    response = self.session.post(url, json={"text": text}, timeout=WEBHOOK_TIMEOUT)
                    if response.status_code >= 300:
                        errors.append(f"webhook answered HTTP {response.status_code}")
                except requests.RequestException as exc:
                    errors.append(f"webhook: {type(exc).__name__}")
        if errors:
            raise DeliveryFailed("; ".join(errors))

    def _email(self, text: str) -> None:
        settings = self.settings
        message = EmailMessage()
        first_line = text.splitlines()[0] if text else _("alert")
        message["Subject"] = f"[{self.campaign_name}] {first_line[:120]}"
        message["From"] = settings.email_from or "campaign@localhost"
        message["To"] = ", ".join(settings.email_to)
        message.set_content(text + "\n\n-- " + _(
            "campaign (run `campaign status` for the whole picture)") + "\n")
        host, port = settings.smtp_host or "localhost", settings.smtp_port
        user = self.env.get("CAMPAIGN_SMTP_USER")
        password = self.env.get("CAMPAIGN_SMTP_PASSWORD")
        context = ssl.create_default_context()
        if self.env.get("CAMPAIGN_SMTP_CA_FILE"):  # a private CA, e.g. a test server's
            context.load_verify_locations(self.env["CAMPAIGN_SMTP_CA_FILE"])
        smtp: smtplib.SMTP
        if settings.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=context)
            if user and password:
                smtp.login(user, password)
            smtp.send_message(message)
