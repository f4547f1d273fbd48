"""What the `campaign` commands print for staff, in Dutch and in English (issue 17).

Each command runs in-process on a copy of the repository's campaign; `--lang`,
`CAMPAIGN_LANG` and `ui_language` choose the language, in that order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign.cli import app

NOW = "2027-03-01T10:00:00+01:00"  # a week before the campaign: nothing is due yet
runner = CliRunner()


@pytest.fixture
def campaign(repo_copy: Path) -> Any:
    """Run `campaign` on the copy; alerts stay on this machine (no e-mail, no webhook)."""
    config = repo_copy / "campaign.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"email_to = \[[^\]]*\]", "email_to = []", text), encoding="utf-8")

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        return runner.invoke(app, ["--config", str(config), *args],
                             env={"CAMPAIGN_NOW": NOW, **(env or {})})

    run.config = config  # type: ignore[attr-defined]
    return run


def test_check_speaks_dutch_with_lang_nl(campaign: Any) -> None:
    result = campaign("--lang", "nl", "check")
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert last == ("in orde: 8 verhaalbestanden, 7 gepland, 1 reserveverhaal; "
                    "0 fouten, 17 waarschuwingen")
    assert "story files" not in result.stdout and "warning(s)" not in result.stdout
    assert all(line.startswith("waarschuwing: ") for line in result.stdout.splitlines()[:-1])

    brief = campaign("--lang", "nl", "check", "--brief")
    assert brief.stdout.startswith("waarschuwingen: ")
    assert "1 reserveverhaal (08-ingrid)" in brief.stdout
    assert "voer `campaign check` uit" in brief.stdout
    assert "run `campaign check`" not in brief.stdout


def test_check_speaks_english_with_lang_en(campaign: Any) -> None:
    result = campaign("--lang", "en", "check")
    assert result.stdout.splitlines()[-1] == (
        "ok: 8 story files, 7 planned, 1 spare; 0 error(s), 17 warning(s)")
    brief = campaign("--lang", "en", "check", "--brief")
    assert brief.stdout.startswith("warnings: ") and "1 reserve story (08-ingrid)" in brief.stdout
    assert "run `campaign check` to see each with its fix" in brief.stdout


def test_plan_shows_dutch_days_and_headings(campaign: Any) -> None:
    result = campaign("--lang", "nl", "plan")
    assert result.exit_code == 0, result.output
    assert "ma 8 mrt" in result.stdout and "berichttekst" in result.stdout
    assert "reserveverhalen (worden niet geplaatst): 08-ingrid" in result.stdout
    assert "Mon 8 Mar" not in result.stdout and "spare stories" not in result.stdout
    english = campaign("--lang", "en", "plan")
    assert "Mon 8 Mar" in english.stdout and "spare stories (not posted): 08-ingrid" in english.stdout


def test_status_speaks_dutch(campaign: Any) -> None:
    result = campaign("--lang", "nl", "status")
    assert result.exit_code == 0, result.output
    assert "automatisch plaatsen (`campaign run`): heeft voor deze campagne nog nooit gedraaid" \
        in result.stdout
    for word in ("tijdstip", "pogingen", "wacht op goedkeuring", "ma 8 mrt 09:00"):
        assert word in result.stdout
    assert "scheduler: has never run on this ledger" not in result.stdout
    assert "attempts" not in result.stdout
    english = campaign("--lang", "en", "status")
    assert "scheduler: has never run on this ledger" in english.stdout
    assert "attempts" in english.stdout and "Mon 8 Mar 09:00" in english.stdout


def test_approve_pause_resume_withdraw_confirm_in_dutch(campaign: Any) -> None:
    approved = campaign("--lang", "nl", "approve", "01-marieke", "--by", "Anna de Vries")
    assert approved.exit_code == 0, approved.output
    assert re.fullmatch(r"goedgekeurd: 01-marieke \(versie [0-9a-f]{12}\) door Anna de Vries\n",
                        approved.stdout)

    paused = campaign("--lang", "nl", "pause", "--by", "Piet")
    assert paused.stdout == "gepauzeerd: er wordt niets geplaatst tot `campaign resume`\n"
    status = campaign("--lang", "nl", "status")
    assert "plaatsen is GEPAUZEERD: voer `campaign resume` uit om weer te plaatsen" in status.stdout
    assert "PAUSED" not in status.stdout
    assert campaign("--lang", "nl", "resume").stdout == "hervat: het plaatsen gaat weer door\n"

    withdrawn = campaign("--lang", "nl", "withdraw", "02-joost", "--by", "Anna de Vries")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert withdrawn.stdout.splitlines()[0] == "ingetrokken: 02-joost wordt nooit meer geplaatst"
    assert "will never be posted again" not in withdrawn.stdout
    status = campaign("--lang", "nl", "status")
    assert "stories/02-joost.md: ingetrokken" in status.stdout


def test_approve_pause_withdraw_confirm_in_english(campaign: Any) -> None:
    approved = campaign("--lang", "en", "approve", "01-marieke", "--by", "Anna")
    assert re.fullmatch(r"approved: 01-marieke \(version [0-9a-f]{12}\) by Anna\n", approved.stdout)
    assert campaign("--lang", "en", "pause").stdout == (
        "paused: nothing is posted until `campaign resume`\n")
    assert campaign("--lang", "en", "resume").stdout == "resumed: posting goes on\n"
    withdrawn = campaign("--lang", "en", "withdraw", "02-joost")
    assert withdrawn.stdout.splitlines()[0] == "withdrawn: 02-joost will never be posted again"


def test_approving_a_broken_story_is_refused_in_dutch(campaign: Any) -> None:
    story = campaign.config.parent / "stories" / "01-marieke.md"
    story.write_text(story.read_text(encoding="utf-8").replace("---", "", 1), encoding="utf-8")
    refused = campaign("--lang", "nl", "approve", "01-marieke", "--by", "Anna")
    assert refused.exit_code == 1
    assert "verbeter het verhaal voordat je het goedkeurt" in refused.stderr
    assert "fix the story before approving it" not in refused.stderr


def test_an_unknown_language_is_a_usage_error_naming_both(campaign: Any) -> None:
    result = campaign("--lang", "xx", "check")
    assert result.exit_code == 2
    assert "'xx'" in result.stderr and "en" in result.stderr and "nl" in result.stderr


def test_ui_language_in_campaign_toml_and_campaign_lang_over_it(
        campaign: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config: Path = campaign.config
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('language = "nl"\n', 'language = "nl"\nui_language = "en"\n', 1),
                      encoding="utf-8")
    monkeypatch.delenv("CAMPAIGN_LANG")
    english = campaign("pause")
    assert english.stdout == "paused: nothing is posted until `campaign resume`\n"
    monkeypatch.setenv("CAMPAIGN_LANG", "nl")
    dutch = campaign("resume")
    assert dutch.stdout == "hervat: het plaatsen gaat weer door\n"
    # and --lang beats them both
    assert campaign("--lang", "en", "resume").stdout == "resumed: posting goes on\n"


def test_without_ui_language_the_campaign_language_is_used(
        campaign: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGN_LANG")
    assert campaign("pause").stdout == "gepauzeerd: er wordt niets geplaatst tot `campaign resume`\n"


def test_render_counts_the_cards_in_dutch(campaign: Any) -> None:
    result = campaign("--lang", "nl", "render")
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ kaarten in build/cards/: \d+ nieuw gemaakt, 0 onveranderd hergebruikt",
                     result.stderr), result.stderr
    assert "cached" not in result.stderr
