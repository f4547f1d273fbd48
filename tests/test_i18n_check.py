"""`campaign check` and `plan` speak the staff's language (issue 17): every problem of every
bad story, of the planner, the captions and the cards is the same problem in English and in
Dutch (file, line, field, code, severity), only its message is translated, and every problem
has a code that names its kind."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campaign.check import run_check
from campaign.config import load_project
from campaign.i18n import use_language
from campaign.models import Problem
from campaign.stories import read_story
from tests.conftest import REPO, STORY_FIXTURES

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
STORIES = sorted(p.name for p in STORY_FIXTURES.glob("*.md"))
_CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
# Words in a message that are the same in both languages: what staff type, names, numbers.
_SAME = re.compile(r"""'[^']*'|"[^"]*"|`[^`]*`|\S*[/_.#@\[\]{}=:]\S*|\d\S*""")
# Words only English has: a run of the English message with one of them is left untranslated.
_ENGLISH = {"the", "to", "not", "with", "it", "and", "be", "this", "that", "must", "use", "write",
            "has", "are", "your", "add", "remove", "from", "than", "which", "shorten", "only",
            "every", "there"}
# Problems whose message is mostly what staff typed, or a name (the same in both languages).
_KEEP = {"photo.not_readable"}


def _key(problem: Problem) -> tuple[object, ...]:
    return (problem.file, problem.line, problem.field, problem.code, problem.severity)


def _english_words(en: str, nl: str) -> list[str]:
    """Runs of four or more words of the English message that the Dutch one repeats, leaving
    out what is the same in both languages (quoted values, paths, field names, numbers)."""
    words = _SAME.sub(" ", en).split()
    runs = [words[i : i + 4] for i in range(len(words) - 3)]
    return [" ".join(run) for run in runs
            if " ".join(run) in nl and _ENGLISH & {w.strip(",;:()").lower() for w in run}]


def _compare(english: list[Problem], dutch: list[Problem]) -> None:
    assert [_key(p) for p in english] == [_key(p) for p in dutch]
    for en, nl in zip(english, dutch, strict=True):
        assert en.code, f"no code: {en.format()}"
        assert _CODE.match(en.code), en.code
        if en.code in _KEEP:
            continue
        assert nl.message != en.message, f"not translated: {en.format()}"
        assert not _english_words(en.message, nl.message), (en.message, nl.message)


@pytest.mark.parametrize("name", STORIES)
def test_every_bad_story_is_the_same_problem_in_dutch(campaign_dir: Any, name: str) -> None:
    root = campaign_dir(name)
    project = load_project(root / "campaign.toml")
    english = read_story(root / "stories" / name, project).problems
    with use_language("nl"):
        dutch = read_story(root / "stories" / name, project).problems
    _compare(english, dutch)


def _all_stories(root: Path) -> None:
    for name in STORIES:
        shutil.copy2(STORY_FIXTURES / name, root / "stories" / name)
    for extra in ("story_utf8_bom.md",):  # a story file and its twin by name only in case
        shutil.copy2(STORY_FIXTURES / extra, root / "stories" / extra.upper())
    (root / "stories" / "_draft.md").write_text("---\n---\n", encoding="utf-8")
    (root / "stories" / "story.docx").write_bytes(b"PK\x03\x04")
    (root / "stories" / "notes.txt").write_text("tekst", encoding="utf-8")


def test_check_of_every_fixture_at_once_is_the_same_in_dutch(campaign_dir: Any) -> None:
    root = campaign_dir()
    _all_stories(root)
    project = load_project(root / "campaign.toml")
    english = run_check(project, NOW)
    with use_language("nl"):
        dutch = run_check(project, NOW)
    codes = {p.code for p in english.problems}
    # The planner's, the captions' and the cards' problems are among them.
    assert {"day.taken", "consent.signed_in_future",
            "caption.shortened", "hashtag.lower_case", "file.same_name",
            "file.not_saved_as_md", "file.saved_as_txt"} <= codes, codes
    _compare(list(english.problems), list(dutch.problems))
    # A fate's reason is the first error, in the same language.
    reasons = {f.file: f.reason for f in dutch.fates if f.kind == "invalid"}
    assert str(reasons["stories/story_yaml_tab.md"]).startswith("regel ")


def test_check_of_the_example_project_is_the_same_in_dutch() -> None:
    project = load_project(REPO / "campaign.toml")
    english = run_check(project, NOW)
    with use_language("nl"):
        dutch = run_check(project, NOW)
    assert english.problems, "the example week has warnings to compare"
    _compare(list(english.problems), list(dutch.problems))


def test_campaign_toml_problems_are_the_same_in_dutch(tmp_path: Path) -> None:
    from campaign.errors import ConfigError

    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    broken = {
        "timezone": text.replace('timezone = "Europe/Amsterdam"', 'timezone = "Amsterdam"'),
        "date": re.sub(r"(?m)^start = .*$", "start = 08-03-2027", text, count=1),
        "unknown": text.replace("[campaign]", "[campaign]\nnaam = 1", 1),
    }
    for label, content in broken.items():
        config = tmp_path / f"{label}.toml"
        config.write_text(content, encoding="utf-8")
        found = {}
        for language in ("en", "nl"):
            with use_language(language), pytest.raises(ConfigError) as caught:
                load_project(config)
            found[language] = list(caught.value.problems)
        assert found["en"], label
        _compare(found["en"], found["nl"])


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGN_LANG"}
    return subprocess.run([sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"),
                           *args], capture_output=True, text=True, env=env, timeout=120,
                          check=False)


def test_cli_check_json_speaks_dutch_and_english(repo_copy: Path) -> None:
    shutil.copy2(STORY_FIXTURES / "story_yaml_colon_in_quote.md",
                 repo_copy / "stories" / "99-colon.md")
    dutch = _cli(repo_copy, "--lang", "nl", "check", "--json")
    assert dutch.returncode == 1, dutch.stderr
    [error] = [e for e in json.loads(dutch.stdout)["errors"] if e["file"] == "stories/99-colon.md"]
    assert set(error) == {"file", "line", "field", "code", "message"}
    assert error["code"] == "yaml.colon_in_text"
    assert "dubbele punt" in error["message"] and "aanhalingstekens" in error["message"]
    english = _cli(repo_copy, "--lang", "en", "check")
    assert english.returncode == 1
    assert "the text has a colon (:), which YAML reads as the start of another field" in \
        english.stdout
