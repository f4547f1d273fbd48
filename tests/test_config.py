"""campaign.toml: validated by pydantic; every error names file, line, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign.config import load_project
from campaign.errors import ConfigError
from tests.conftest import REPO


def write_config(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "campaign.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_project(path)
    return [p.format() for p in caught.value.problems]


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_repository_config_is_the_week_of_rare_cancers() -> None:
    settings = load_project(REPO / "campaign.toml").settings
    assert str(settings.campaign.start) == "2027-03-08"
    assert str(settings.campaign.end) == "2027-03-14"
    assert settings.campaign.timezone == "Europe/Amsterdam"
    assert settings.campaign.language == "nl"
    assert settings.campaign.require_approval is True
    assert settings.enabled_platforms() == [
        "x", "facebook", "instagram", "linkedin", "mastodon", "bluesky"
    ]


def test_unknown_key_names_file_line_key_and_fix(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'card_format = "landscape"\nusername',
                        'card_format = "landscape"\ncolour = "red"\nusername')
    [problem] = problems_of(path)
    line = line_of(path, 'colour = "red"')
    assert problem.startswith(f"campaign.toml:{line}: platforms.x.colour: unknown key: remove it")
    assert "card_format" in problem  # lists the keys it knows


def test_bad_value_names_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'card_format = "portrait"', 'card_format = "round"')
    [problem] = problems_of(path)
    line = line_of(path, 'card_format = "round"')
    assert problem.startswith(f"campaign.toml:{line}: platforms.instagram.card_format: must be one of")


def test_bad_time_zone(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'timezone = "Europe/Amsterdam"', 'timezone = "Europe/Amsterdm"')
    [problem] = problems_of(path)
    assert "campaign.timezone" in problem and "IANA name" in problem


def test_bad_colour_and_bad_time_are_both_listed(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'background = "#0B3C5D"', 'background = "blue"')
    text = path.read_text().replace('post_time = "12:00"', 'post_time = "twaalf uur"')
    path.write_text(text)
    problems = problems_of(path)
    assert len(problems) == 2
    assert any("theme.background" in p and "#RRGGBB" in p for p in problems)
    assert any("platforms.instagram.post_time" in p and "HH:MM" in p for p in problems)


def test_toml_syntax_error_names_the_line_the_key_and_the_form(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'language = "nl"', 'language = "nl')
    [problem] = problems_of(path)
    assert problem == (f"campaign.toml:{line_of(path, 'language =')}: campaign.language: a quote "
                       'is not closed: language = "..." needs a quote at both ends')


@pytest.mark.parametrize(("old", "new", "message"), [
    ("start = 2027-03-08", "start = 8-3-2027",
     "campaign.start: 8-3-2027 is not a date in the form TOML needs: write it year-month-day, "
     "without quotes, like this: start = 2027-03-08"),
    ('post_time = "10:00"', "post_time = 9:00",
     'campaign.post_time: write a time of day in quotes, with two digits for the hour: '
     'post_time = "09:00"'),
    ("require_approval = true", "require_approval = ja",
     "campaign.require_approval: write true or false: require_approval = true"),
    ('timezone = "Europe/Amsterdam"', "timezone = Europe/Amsterdam",
     'campaign.timezone: a text needs quotes around it: timezone = "Europe/Amsterdam"'),
])
def test_toml_mistakes_name_the_key_and_the_expected_form(tmp_path: Path, old: str, new: str,
                                                          message: str) -> None:
    path = write_config(tmp_path, old, new)
    [problem] = problems_of(path)
    assert problem == f"campaign.toml:{line_of(path, new)}: {message}"


def test_missing_config_says_where_to_run(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "campaign.toml")
    assert "not found" in problem and "--config" in problem


def test_end_before_start(tmp_path: Path) -> None:
    path = write_config(tmp_path, "end = 2027-03-14", "end = 2027-03-01")
    [problem] = problems_of(path)
    assert "campaign:" in problem and "end is before start" in problem


def test_instagram_directory_host_needs_its_url(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'media_base_url = "https://www.example.org/campaign-media"\n', "")
    [problem] = problems_of(path)
    assert "platforms.instagram" in problem and "media_base_url" in problem


def test_the_ledger_may_be_a_shared_database_named_without_a_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGN_LEDGER_URL", raising=False)
    shared = write_config(tmp_path, 'ledger = "state/ledger.sqlite"',
                          'ledger = "postgresql://campaign@db.example.org/campaign"')
    project = load_project(shared)
    assert project.ledger_target == project.ledger_url == "postgresql://campaign@db.example.org/campaign"
    # The environment wins, and shows without its password.
    monkeypatch.setenv("CAMPAIGN_LEDGER_URL", "postgresql://campaign:pw-7f3a@db2/campaign")
    project = load_project(shared)
    assert project.ledger_target == "postgresql://campaign:pw-7f3a@db2/campaign"
    assert project.ledger_shown == "postgresql://campaign@db2/campaign"
    # A password never belongs in the file.
    monkeypatch.delenv("CAMPAIGN_LEDGER_URL")
    secret = write_config(tmp_path, 'ledger = "state/ledger.sqlite"',
                          'ledger = "postgresql://campaign:pw-7f3a@db/campaign"')
    [problem] = problems_of(secret)
    assert "paths.ledger" in problem and "PGPASSWORD" in problem and "pw-7f3a" not in problem
    # The default stays the file.
    plain = load_project(REPO / "campaign.toml")
    assert plain.ledger_url is None and plain.ledger_target == plain.ledger_path
