"""What `check` found, kept on disk per story (checkcache.py): an unchanged week is not
checked again, in a new process either, and anything that changes the result is seen."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campaign import check as check_module
from campaign import checkcache
from campaign.check import CheckCache, check_story, run_check
from campaign.config import Project, load_project
from campaign.i18n import set_language
from campaign.ledger import Ledger
from campaign.publish import remove_story_files

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
STORY = "01-marieke"


@pytest.fixture
def project(repo_copy: Path) -> Project:
    return load_project(repo_copy / "campaign.toml")


def _checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which story files get checked for real from now on (by file name)."""
    seen: list[str] = []
    real = check_module.check_story_bounded

    def spy(path: Path, project: Project) -> Any:
        seen.append(path.name)
        return real(path, project)

    monkeypatch.setattr(check_module, "check_story_bounded", spy)
    return seen


def _shape(report: Any) -> tuple[Any, ...]:
    return (report.problems, report.fates, report.plan.posts, report.readings)


def test_an_unchanged_week_is_not_checked_again(project: Project,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_check(project, NOW)
    notes = sorted(p.name for p in (project.build_dir / "cache" / "check").iterdir())
    assert notes == sorted([f"{p.stem}.json" for p in project.stories_dir.glob("*.md")]
                           + ["_campaign.json"])
    checked = _checked(monkeypatch)
    again = run_check(project, NOW, CheckCache())  # a new process has only the notes
    assert checked == []
    assert _shape(again) == _shape(first)
    # Story is compared without its line numbers (compare=False): those too.
    assert [r.story.lines for r in again.readings if r.story] == \
        [r.story.lines for r in first.readings if r.story]


def test_what_changes_the_result_is_checked_again(project: Project,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    run_check(project, NOW)
    checked = _checked(monkeypatch)
    story = project.stories_dir / f"{STORY}.md"

    # The same bytes with a new time (a copy, a `touch`): the note holds, by its sha256.
    os.utime(story, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    run_check(project, NOW, CheckCache())
    assert checked == []

    # Other words: checked again, and the new result is the one shown.
    text = story.read_text(encoding="utf-8")
    story.write_text(text.replace("quote: ", "quote: Echt waar. ", 1), encoding="utf-8")
    report = run_check(project, NOW, CheckCache())
    assert checked == [story.name]
    assert report.story(STORY) is not None
    assert report.story(STORY).quote.startswith("Echt waar.")  # type: ignore[union-attr]

    # Another photo under the same name: checked again.
    photo = report.story(STORY).photo  # type: ignore[union-attr]
    assert photo is not None
    checked.clear()
    photo.write_bytes(photo.read_bytes() + b"\0")
    run_check(project, NOW, CheckCache())
    assert checked == [story.name]

    # The messages in another language: checked again, so they are in that language.
    checked.clear()
    set_language("nl")
    run_check(project, NOW, CheckCache())
    assert sorted(checked) == sorted(p.name for p in project.stories_dir.glob("*.md"))


def test_changed_settings_check_everything_again(project: Project,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run_check(project, NOW)
    checked = _checked(monkeypatch)
    config = project.config_file
    config.write_text(config.read_text(encoding="utf-8").replace(
        'name = "', 'name = "De ', 1), encoding="utf-8")
    run_check(load_project(config), NOW, CheckCache())
    assert sorted(checked) == sorted(p.name for p in project.stories_dir.glob("*.md"))


def test_a_damaged_or_foreign_note_is_never_trusted(project: Project,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_check(project, NOW)
    note = checkcache.note_path(project, STORY)
    checked = _checked(monkeypatch)
    for damage in (b"{not json", b"", json.dumps({"version": 99}).encode(),
                   note.read_bytes().replace(b'"severity": "warning"', b'"severity": "fatal"')):
        note.write_bytes(damage)
        again = run_check(project, NOW, CheckCache())
        assert checked == [f"{STORY}.md"]
        assert _shape(again) == _shape(first)
        assert json.loads(note.read_text(encoding="utf-8"))["version"] == checkcache.NOTE_VERSION
        checked.clear()


def test_results_that_depend_on_the_moment_are_not_kept(project: Project,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of time (a busy machine) or a photo that is not there yet: checked again."""
    def over_budget(path: Path, project: Project) -> Any:
        raise check_module.OverBudget("time", "took longer than 10 seconds")

    monkeypatch.setattr(check_module, "run_bounded", lambda fn, *args: over_budget(*args))
    report = run_check(project, NOW)
    assert {p.code for p in report.errors} == {"check.over_budget"}
    assert not checkcache.note_path(project, STORY).exists()

    monkeypatch.undo()
    story = project.stories_dir / f"{STORY}.md"
    text = story.read_text(encoding="utf-8")
    story.write_text(text.replace("photo: ", "photo: assets/photos/later-", 1), encoding="utf-8")
    report = run_check(project, NOW, CheckCache())
    assert any(p.code == "photo.missing" for p in report.errors)
    assert not checkcache.note_path(project, STORY).exists()


def test_a_withdrawn_story_s_note_goes_with_its_cards(project: Project) -> None:
    run_check(project, NOW)
    note = checkcache.note_path(project, STORY)
    assert STORY in note.read_text(encoding="utf-8")
    with Ledger.open(project.ledger_path) as ledger:
        remove_story_files(project, STORY, ledger, NOW)
    assert not note.exists()
    assert checkcache.note_path(project, "02-joost").exists()


def test_a_note_gives_back_exactly_what_checking_gave(project: Project) -> None:
    for path in sorted(project.stories_dir.glob("*.md")):
        result = check_story(path, project)
        checkcache.save(project.build_dir / "n.json", path, "ctx", result.reading,
                        result.problems)
        kept = checkcache.load(project.build_dir / "n.json", path, "ctx")
        assert kept == (result.reading, result.problems)
        if result.reading.story:
            assert kept[0].story.lines == result.reading.story.lines  # type: ignore[union-attr]
        assert checkcache.load(project.build_dir / "n.json", path, "other") is None
