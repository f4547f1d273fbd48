"""`campaign doctor` against the sandbox: all green, then each fault found with its fix.

Faults are set through the sandbox's own API (`POST /_sandbox/accounts`): a token
that expires on a given date, a missing scope, an image host that cannot be
reached, a sunset LinkedIn version, a clock that is off. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from campaign.cli import app
from campaign.config import load_project
from campaign.doctor import Finding, api_version_finding
from campaign.models import PLATFORMS
from campaign.publishers import ApiVersion, publisher_class
from campaign.sandbox import Sandbox
from tests.conftest import REPO


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


@pytest.fixture
def campaign(tmp_path: Path, sandbox: Sandbox, smtp_server: tuple[Any, int]) -> Path:
    """The example campaign with exactly the platforms the sandbox serves enabled, and its
    alerts sent to a real SMTP server on this machine (the example's host does not exist)."""
    root = tmp_path / "campaign"
    root.mkdir()
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    text = (text.replace('smtp_host = "smtp.example.org"', 'smtp_host = "127.0.0.1"')
            .replace("smtp_port = 587", f"smtp_port = {smtp_server[1]}")
            .replace('smtp_security = "starttls"', 'smtp_security = "none"'))
    for platform in ("x", "facebook", "instagram", "linkedin", "mastodon", "bluesky"):
        enabled = "true" if platform in sandbox.platforms else "false"
        text = text.replace(f"[platforms.{platform}]\nenabled = true",
                            f"[platforms.{platform}]\nenabled = {enabled}")
    (root / "campaign.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "stories", root / "stories")
    shutil.copytree(REPO / "assets", root / "assets")
    # The organisation's own logo, not the placeholder (which a real pre-flight refuses).
    from PIL import Image

    Image.new("RGBA", (200, 80), (255, 255, 255, 255)).save(root / "assets" / "logo.png")
    config = root / "campaign.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "assets/logo-placeholder.png", "assets/logo.png"), encoding="utf-8")
    return root


def doctor(campaign: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    # Against the sandbox on purpose: --allow-overrides (without it, see the override tests).
    flags = [] if "--real" in args else ["--allow-overrides"]
    args = tuple(a for a in args if a != "--real")
    result = CliRunner().invoke(app, ["--config", str(campaign / "campaign.toml"), "doctor", "--json",
                                      *flags, *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def findings(report: dict[str, Any], check: str, platform: str | None = None) -> list[dict[str, Any]]:
    return [f for f in report["findings"]
            if f["check"] == check and (platform is None or f["platform"] == platform)]


def only(report: dict[str, Any], check: str, platform: str | None = None) -> dict[str, Any]:
    found = findings(report, check, platform)
    assert len(found) == 1, found
    return found[0]


def set_account(sandbox: Sandbox, **body: Any) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/accounts", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_all_green(campaign: Path, sandbox: Sandbox) -> None:
    code, report = doctor(campaign, sandbox.env())
    assert code == 0, [f for f in report["findings"] if f["status"] != "ok"]
    # The one warning: every API address is the sandbox's, said first.
    assert report["ok"] is True and report["errors"] == 0 and report["warnings"] == 1
    assert report["findings"][0]["check"] == "api_urls"
    assert report["campaign_end"] == "2027-03-14"
    assert set(report["platforms"]) == set(sandbox.platforms)
    assert set(report["platforms"].values()) == {"ok"}
    for platform in sandbox.platforms:
        for check in ("secrets", "credentials", "token_expiry", "clock"):
            assert only(report, check, platform)["status"] == "ok"
    for platform in set(sandbox.platforms) & {"x", "facebook", "instagram", "linkedin"}:
        assert only(report, "permissions", platform)["status"] == "ok"
    assert only(report, "media_host", "instagram")["message"].startswith(
        "a test image was fetched at its public URL as image/jpeg")
    assert sandbox.media == {}  # the test image was removed again
    for check in ("ledger", "disk_space", "alerts"):
        assert only(report, check)["status"] == "ok"
    # Every finding has the documented keys.
    for finding in report["findings"]:
        assert {"check", "platform", "status", "message", "fix"} <= set(finding)


def test_token_expiring_during_the_campaign(campaign: Path, sandbox: Sandbox) -> None:
    set_account(sandbox, platform="instagram", token_expires_at="2027-03-10T12:00:00+00:00")
    code, report = doctor(campaign, sandbox.env())
    assert code == 1 and report["ok"] is False
    finding = only(report, "token_expiry", "instagram")
    assert finding["status"] == "error"
    assert "expires on Wednesday 10 March 2027" in finding["message"]
    assert "before the campaign's last day (Sunday 14 March 2027)" in finding["message"]
    # Renew before the week starts, but not so early that the new 60-day token ends first.
    assert finding["renew_by"] == "2027-03-07"
    assert finding["renew_from"] == "2027-01-16"
    assert "refresh_access_token" in finding["fix"]
    assert "between Saturday 16 January 2027 and Sunday 7 March 2027" in finding["fix"]
    assert report["platforms"]["instagram"] == "error"
    assert report["platforms"]["facebook"] == "ok"


def test_token_expiring_soon_after_the_campaign_is_a_warning(campaign: Path, sandbox: Sandbox) -> None:
    set_account(sandbox, platform="facebook", token_expires_at="2027-03-20T12:00:00+00:00")
    code, report = doctor(campaign, sandbox.env())
    assert code == 0
    finding = only(report, "token_expiry", "facebook")
    assert finding["status"] == "warning" and "consent withdrawal" in finding["message"]


def test_expired_token(campaign: Path, sandbox: Sandbox) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    set_account(sandbox, platform="facebook", token_expires_at=past)
    code, report = doctor(campaign, sandbox.env())
    assert code == 1
    finding = only(report, "credentials", "facebook")
    assert finding["status"] == "error" and "FACEBOOK_PAGE_TOKEN" in finding["message"]
    assert sandbox.env()["FACEBOOK_PAGE_TOKEN"] not in json.dumps(report)


@pytest.mark.parametrize(("platform", "scopes", "missing"), [
    ("facebook", ["pages_show_list", "pages_read_engagement"], ["pages_manage_posts"]),
    ("instagram", ["instagram_basic"], ["instagram_content_publish"]),
    ("x", ["read"], ["read-write"]),
    ("linkedin", ["r_organization_social"], ["w_organization_social"]),
])
def test_missing_scope(campaign: Path, sandbox: Sandbox, platform: str, scopes: list[str],
                       missing: list[str]) -> None:
    if platform not in sandbox.platforms:
        pytest.fail(f"the sandbox has no {platform}")
    set_account(sandbox, platform=platform, scopes=scopes)
    code, report = doctor(campaign, sandbox.env())
    assert code == 1
    finding = only(report, "permissions", platform)
    assert finding["status"] == "error"
    assert finding["missing"] == missing
    assert all(name in finding["message"] for name in missing)
    assert finding["fix"]


def test_unreachable_image_host(campaign: Path, sandbox: Sandbox) -> None:
    set_account(sandbox, platform="instagram", media_reachable=False)
    code, report = doctor(campaign, sandbox.env())
    assert code == 1
    finding = only(report, "media_host", "instagram")
    assert finding["status"] == "error"
    assert "cannot be fetched at its public URL" in finding["message"]
    assert "media_base_url" in finding["fix"]
    assert finding["url"].startswith(f"{sandbox.url}/_sandbox/media/")
    assert sandbox.media == {}  # removed all the same


def test_sunset_linkedin_version_refused_by_the_platform(campaign: Path, sandbox: Sandbox) -> None:
    from campaign.publishers.linkedin import LINKEDIN_VERSION

    set_account(sandbox, platform="linkedin", sunset_versions=[LINKEDIN_VERSION])
    code, report = doctor(campaign, sandbox.env())
    assert code == 1
    refused = [f for f in findings(report, "api_version", "linkedin") if f["status"] == "error"]
    assert refused and "426" in refused[0]["message"]
    assert "a release that pins a newer LinkedIn API version" in refused[0]["fix"]


def test_linkedin_version_sunset_before_the_campaign_ends(campaign: Path, sandbox: Sandbox) -> None:
    config = campaign / "campaign.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("start = 2027-03-08", "start = 2028-03-06")
                      .replace("end = 2027-03-14", "end = 2028-03-12"), encoding="utf-8")
    for story in (campaign / "stories").glob("*.md"):
        story.write_text(story.read_text(encoding="utf-8").replace("day: 2027-03-", "day: 2028-03-"),
                         encoding="utf-8")
    code, report = doctor(campaign, sandbox.env())
    assert code == 1
    finding = only(report, "api_version", "linkedin")
    assert finding["status"] == "error"
    assert "before the campaign's last day (Sunday 12 March 2028)" in finding["message"]


def test_api_version_rules() -> None:
    project = load_project(REPO / "campaign.toml")  # campaign 2027-03-08 .. 2027-03-14
    now = datetime(2026, 11, 22, 10, tzinfo=UTC)

    def status(sunset: date | None, estimated: bool = True) -> Finding:
        return api_version_finding("linkedin", ApiVersion("202605", sunset, estimated), project, now)

    assert status(date(2027, 5, 1)).status == "ok"
    assert status(date(2027, 3, 1)).status == "error"  # before the campaign's last day
    assert status(date(2027, 4, 1)).status == "warning"  # within a month after it
    gone = status(date(2026, 10, 1))
    assert gone.status == "error" and "was sunset on Thursday 1 October 2026" in gone.message
    assert gone.details["sunset_estimated"] is True
    assert "estimated" not in status(date(2026, 10, 1), estimated=False).message
    assert status(None).status == "ok"  # a platform that does not retire versions by date


def test_the_linkedin_publisher_pins_the_version_doctor_checks() -> None:
    from campaign.publishers.linkedin import LINKEDIN_VERSION, LINKEDIN_VERSION_SUNSET

    pinned = publisher_class("linkedin").api_version
    assert pinned == ApiVersion(LINKEDIN_VERSION, LINKEDIN_VERSION_SUNSET, sunset_estimated=True)
    assert all(publisher_class(p).api_version is None for p in PLATFORMS if p != "linkedin")


@pytest.mark.parametrize(("offset", "status", "code"), [(90, "warning", 0), (-420, "error", 1)])
def test_clock_against_the_platforms_date(campaign: Path, sandbox: Sandbox, offset: int, status: str,
                                          code: int) -> None:
    set_account(sandbox, platform="x", date_offset_seconds=offset)
    exit_code, report = doctor(campaign, sandbox.env())
    assert exit_code == code
    finding = only(report, "clock", "x")
    assert finding["status"] == status
    assert ("behind" if offset > 0 else "ahead of") in finding["message"]
    assert abs(finding["skew_seconds"] + offset) < 5
    assert "NTP" in finding["fix"]


def test_missing_secret(campaign: Path, sandbox: Sandbox) -> None:
    env = sandbox.env()
    env["FACEBOOK_PAGE_TOKEN"] = ""
    code, report = doctor(campaign, env)
    assert code == 1
    finding = only(report, "secrets", "facebook")
    assert finding["status"] == "error" and finding["missing"] == ["FACEBOOK_PAGE_TOKEN"]
    assert ".env" in finding["fix"]


def test_send_test_alert_by_webhook(campaign: Path, sandbox: Sandbox) -> None:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = campaign / "campaign.toml"
        config.write_text(config.read_text(encoding="utf-8")
                          .replace('email_to = ["communicatie@example.org"]', "email_to = []")
                          .replace("webhook = false", "webhook = true"), encoding="utf-8")
        env = {**sandbox.env(), "CAMPAIGN_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook"}
        code, report = doctor(campaign, env, "--send-test-alert")
        assert code == 0
        finding = only(report, "alerts")
        assert finding["status"] == "ok" and finding["sent"] is True and finding["channels"] == ["webhook"]
        assert len(received) == 1 and "Test message from `campaign doctor`" in received[0]["text"]
        # Without the flag nothing is sent.
        doctor(campaign, env)
        assert len(received) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_human_output_names_each_fix(campaign: Path, sandbox: Sandbox) -> None:
    set_account(sandbox, platform="instagram", media_reachable=False)
    result = CliRunner().invoke(app, ["--config", str(campaign / "campaign.toml"), "doctor",
                                      "--allow-overrides"], env=sandbox.env())
    assert result.exit_code == 1
    assert result.stdout.startswith("WARNING api_urls: the API addresses of ")
    assert "ERROR   instagram media_host: Instagram could not fetch the card" in result.stdout
    assert "fix: make media_base_url the public HTTPS address" in result.stdout
    assert result.stdout.rstrip().endswith("NOT READY: 1 error(s), 1 warning(s)")



def test_overridden_api_addresses_are_said_first_and_never_pass_as_the_real_pre_flight(
        campaign: Path, sandbox: Sandbox) -> None:
    """Issue 21: with the sandbox's variables loaded, doctor said "ok" everywhere."""
    code, report = doctor(campaign, sandbox.env(), "--real")
    assert code == 1 and report["ok"] is False
    first = report["findings"][0]
    assert first["check"] == "api_urls" and first["status"] == "error"
    assert first["message"].startswith("the API addresses of ")
    assert "so this cannot pass as the real pre-flight" in first["message"]
    assert "--allow-overrides" in first["fix"]
    code, report = doctor(campaign, sandbox.env())  # --allow-overrides: on purpose
    assert code == 0 and report["findings"][0]["status"] == "warning"
    result = CliRunner().invoke(app, ["--config", str(campaign / "campaign.toml"), "doctor",
                                      "--allow-overrides"], env=sandbox.env())
    assert result.stdout.splitlines()[-1].startswith(
        "ok against the overridden API addresses (not the real pre-flight): 0 error(s)")


def test_the_placeholder_logo_fails_the_real_pre_flight(campaign: Path, sandbox: Sandbox) -> None:
    config = campaign / "campaign.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "assets/logo.png", "assets/logo-placeholder.png"), encoding="utf-8")
    _code, report = doctor(campaign, sandbox.env())
    assert only(report, "theme")["status"] == "warning"  # against the sandbox: a warning
    no_overrides: dict[str, str | None] = {f"CAMPAIGN_{p}_API_URL": None for p in (
        "X", "FACEBOOK", "INSTAGRAM", "LINKEDIN", "MASTODON", "BLUESKY")}
    _code, report = doctor(campaign, no_overrides, "--real")  # type: ignore[arg-type]
    assert not findings(report, "api_urls")
    logo = only(report, "theme")
    assert logo["status"] == "error" and "placeholder logo" in logo["message"]


def test_doctor_says_when_a_token_may_not_read_the_numbers_for_the_report() -> None:
    from campaign.doctor import metrics_scope_finding

    lacking = metrics_scope_finding("facebook", ["pages_manage_posts", "pages_read_engagement"])
    assert lacking is not None and lacking.status == "warning"
    assert lacking.code == "report_permissions.missing"
    assert "read_insights" in lacking.message and "posting is not affected" in lacking.message
    assert "read_insights" in lacking.fix
    ok = metrics_scope_finding("instagram", ["instagram_business_basic",
                                             "instagram_business_manage_insights"])
    assert ok is not None and ok.status == "ok"
    assert metrics_scope_finding("bluesky", []) is None  # app passwords carry no scopes
    assert metrics_scope_finding("linkedin", None) is None  # not known: nothing claimed
