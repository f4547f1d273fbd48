"""Alerts: tell a human the moment something needs attention; silence means all is well.

Each alert has a key naming its event (`failed:01-marieke/x`); the ledger
records it once, so a restart never repeats it. Delivery is e-mail (stdlib
smtplib, STARTTLS or TLS) and/or a webhook (a JSON POST with a `text` field,
which Slack, Mattermost and Teams incoming webhooks accept). An alert that
cannot be delivered stays in the ledger as unsent, is logged, and is tried
again by the scheduler; delivery never raises.

Secrets (SMTP user and password, the webhook URL) come from the environment:
CAMPAIGN_SMTP_USER, CAMPAIGN_SMTP_PASSWORD, CAMPAIGN_ALERT_WEBHOOK_URL.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage

import requests

from campaign.config import AlertSettings
from campaign.ledger import Ledger
from campaign.secrets import redact

log = logging.getLogger("campaign.alerts")
SMTP_TIMEOUT = 20
WEBHOOK_TIMEOUT = 10


class DeliveryFailed(Exception):
    """One channel could not deliver an alert; the alert stays unsent and is retried."""


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

    @property
    def channels(self) -> list[str]:
        channels = []
        if self.settings.email_to:
            channels.append("email")
        if self.settings.webhook and self.env.get("CAMPAIGN_ALERT_WEBHOOK_URL"):
            channels.append("webhook")
        return channels

    def alert(self, key: str, text: str, now: datetime) -> bool:
        """Record the alert (once per key) and try to deliver it; True if it was new."""
        text = redact(text, self.env)
        if not self.ledger.add_alert(key, text, now):
            return False
        log.warning("ALERT %s", text)
        if self.extra_sink is not None:
            self.extra_sink(text)
        self.deliver_pending(now)
        return True

    def deliver_pending(self, now: datetime) -> int:
        """Try every unsent alert again; return how many are still unsent."""
        unsent = self.ledger.unsent_alerts()
        left = 0
        for key, text in unsent:
            try:
                self.send(text)
            except DeliveryFailed as exc:
                left += 1
                log.error("alert %s not delivered (will retry): %s", key, redact(str(exc), self.env))
            else:
                self.ledger.alert_sent(key, now)
        return left

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
        first_line = text.splitlines()[0] if text else "alert"
        message["Subject"] = f"[{self.campaign_name}] {first_line[:120]}"
        message["From"] = settings.email_from or "campaign@localhost"
        message["To"] = ", ".join(settings.email_to)
        message.set_content(text + "\n\n-- campaign (run `campaign status` for the whole picture)\n")
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
