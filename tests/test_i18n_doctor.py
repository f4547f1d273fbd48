"""`campaign doctor` in Dutch (issue 17): every finding and its fix speak the active language,
and --json keeps the same keys and the same `code` per finding in every language.

Each run is made twice, `--lang en` and `--lang nl`, against the same sandbox state, and the
two are compared finding by finding (same order, same codes, different words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from campaign.cli import app
from campaign.doctor import CHECK_LABELS, STATUS_MARKS
from campaign.i18n import _, use_language
from campaign.platforms import SPECS
from campaign.sandbox import Sandbox
from tests.test_doctor import campaign as example_campaign

#: The example campaign with the sandbox's platforms enabled (tests/test_doctor.py's fixture).
campaign = example_campaign


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


def run(campaign: Path, env: dict[str, str | None], lang: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--lang", lang, "--config", str(campaign / "campaign.toml"),
                                      "doctor", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def both(campaign: Path, env: dict[str, str | None], *args: str
         ) -> tuple[tuple[int, dict[str, Any]], tuple[int, dict[str, Any]]]:
    en_code, en_out = run(campaign, env, "en", "--json", *args)
    nl_code, nl_out = run(campaign, env, "nl", "--json", *args)
    return (en_code, json.loads(en_out)), (nl_code, json.loads(nl_out))


def faults(sandbox: Sandbox) -> dict[str, str | None]:
    """A token that expires during the week, a missing permission, a clock that is off and
    a secret that is not set: errors and warnings, each with a fix."""
    bodies: list[dict[str, Any]] = [
        {"platform": "instagram", "token_expires_at": "2027-03-10T12:00:00+00:00"},
        {"platform": "x", "scopes": ["read"], "date_offset_seconds": 90}]
    for body in bodies:
        response = requests.post(f"{sandbox.url}/_sandbox/accounts", json=body, timeout=10)
        assert response.status_code == 200, response.text
    env: dict[str, str | None] = {**sandbox.env()}
    env["FACEBOOK_PAGE_TOKEN"] = ""
    return env


def without_secrets() -> dict[str, str | None]:
    """The real pre-flight (no API address overridden) on a machine with no secrets."""
    env: dict[str, str | None] = {f"CAMPAIGN_{p.upper()}_API_URL": None for p in SPECS}
    for facts in SPECS.values():
        env.update(dict.fromkeys((*facts.secrets, *facts.optional_secrets)))
    return env


def words(text: str) -> set[str]:
    """The English words of a text, without what is the same in both languages (names of
    variables, files, settings and platforms, numbers, URLs)."""
    text = re.sub(r"https?://\S+|--\S+|`[^`]*`|\[[^\]]*\]|\S*[_./<>=*:@]\S*|\d\S*", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}


def assert_same_shape(en: dict[str, Any], nl: dict[str, Any]) -> None:
    assert set(en) == set(nl)
    for key in ("ok", "errors", "warnings", "platforms", "campaign_start", "campaign_end"):
        assert en[key] == nl[key], key
    assert len(en["findings"]) == len(nl["findings"])
    for e, n in zip(en["findings"], nl["findings"], strict=True):
        assert set(e) == set(n), e["code"]
        assert (e["code"], e["check"], e["platform"], e["status"]) == \
            (n["code"], n["check"], n["platform"], n["status"])
        assert e["code"].startswith(e["check"] + "."), e["code"]
        same = {k: v for k, v in e.items() if k not in {"message", "fix"}}
        # The details (dates, names, paths) are data: the same in both languages, except
        # the clock's measurement, the test image's random name and the free disk space.
        same.pop("skew_seconds", None)
        same.pop("url", None)
        same.pop("free_bytes", None)
        # A token's expiry is the sandbox's clock at its answer plus a year: the two runs
        # can fall on either side of a second.
        if isinstance(same.get("expires_at"), str) and isinstance(n.get("expires_at"), str):
            gap = datetime.fromisoformat(n["expires_at"]) - datetime.fromisoformat(
                same.pop("expires_at"))
            assert abs(gap.total_seconds()) <= 5, e["code"]
        assert same == {k: n[k] for k in same}, e["code"]


def assert_dutch(en: dict[str, Any], nl: dict[str, Any]) -> None:
    """Every message and every fix differs from the English one and carries no English
    sentence of it (names, variables and commands stay as they are)."""
    shared = {"campaign", "doctor", "api", "ok", "oauth", "ntp", "dir", "url", "https", "jpeg",
              "image", "page", "read", "write", "and", "app", "readme", "environment",
              "variables", "account", "test", "bucket", "developer", "portal", "version",
              "get", "log", "mail"}
    for e, n in zip(en["findings"], nl["findings"], strict=True):
        for key in ("message", "fix"):
            if e[key] is None:
                assert n[key] is None
                continue
            assert n[key] != e[key], (e["code"], key, n[key])
            # Data shown in the text (an account's name) is no English sentence.
            data = [v for k, v in e.items() if isinstance(v, str) and k not in {"message", "fix"}]
            english = words(_without(e[key], data)) - words(_dutch_names()) - shared
            left = english & words(_without(n[key], data))
            assert len(left) <= 1, (e["code"], key, sorted(left), n[key])


def _without(text: str, data: list[str]) -> str:
    for value in data:
        text = text.replace(value, " ")
    return text


def _dutch_names() -> str:
    return " ".join(facts.name for facts in SPECS.values())


def test_doctor_in_dutch_keeps_the_json_keys_and_codes(campaign: Path, sandbox: Sandbox) -> None:
    env = faults(sandbox)
    (en_code, en), (nl_code, nl) = both(campaign, env, "--allow-overrides")
    assert en_code == nl_code == 1
    assert_same_shape(en, nl)
    codes = {f["code"] for f in nl["findings"]}
    assert {"api_urls.overridden_allowed", "secrets.missing", "token_expiry.before_end",
            "permissions.missing", "clock.off", "credentials.accepted"} <= codes
    assert_dutch(en, nl)
    by_code = {f["code"]: f for f in nl["findings"]}
    expiry = by_code["token_expiry.before_end"]
    assert "woensdag 10 maart 2027" in expiry["message"]
    assert "tussen zaterdag 16 januari 2027 en zondag 7 maart 2027" in expiry["fix"]
    assert expiry["renew_by"] == "2027-03-07"  # the data stays ISO
    assert "FACEBOOK_PAGE_TOKEN niet ingesteld" in by_code["secrets.missing"]["message"]
    assert ".env" in by_code["secrets.missing"]["fix"]  # file names stay as they are
    assert "loopt" in by_code["clock.off"]["message"] and "NTP" in by_code["clock.off"]["fix"]


def test_doctor_text_output_in_dutch(campaign: Path, sandbox: Sandbox) -> None:
    env = faults(sandbox)
    en_code, en = run(campaign, env, "en", "--allow-overrides")
    nl_code, nl = run(campaign, env, "nl", "--allow-overrides")
    print(nl)
    assert en_code == nl_code == 1
    assert "ERROR   facebook secrets: FACEBOOK_PAGE_TOKEN not set" in en
    assert "FOUT         facebook geheime sleutels: FACEBOOK_PAGE_TOKEN niet ingesteld" in nl
    assert "wat te doen: " in nl and "fix: " not in nl
    for english in ("WARNING", "ERROR", "NOT READY", "error(s)", "warning(s)", " token "):
        assert english not in nl, english
    assert nl.rstrip().splitlines()[-1].startswith("NIET KLAAR: ")
    assert re.search(r"NIET KLAAR: \d+ fouten?, \d+ waarschuwingen?$", nl.rstrip())
    # The same findings, line for line: no English line is left in the Dutch output.
    en_lines, nl_lines = en.splitlines(), nl.splitlines()
    assert len(en_lines) == len(nl_lines)
    for e, n in zip(en_lines, nl_lines, strict=True):
        assert e != n, e
    with use_language("nl"):
        labels = {_(label) for label in CHECK_LABELS.values()} | {_(m) for m in STATUS_MARKS.values()}
    assert "geldigheid toegangssleutel" in labels and "WAARSCHUWING" in labels


def test_doctor_without_secrets_in_dutch(campaign: Path) -> None:
    """The real pre-flight with no secret set: every platform's secrets.missing, in Dutch."""
    (en_code, en), (nl_code, nl) = both(campaign, without_secrets())
    assert en_code == nl_code == 1
    assert_same_shape(en, nl)
    assert_dutch(en, nl)
    missing = [f for f in nl["findings"] if f["code"] == "secrets.missing"]
    assert missing and all("niet ingesteld" in f["message"] for f in missing)
    assert all("campaign.toml" in f["fix"] and "zet" in f["fix"] for f in missing)
    _code, text = run(campaign, without_secrets(), "nl")
    assert "wat te doen: zet" in text and "NIET KLAAR" in text
