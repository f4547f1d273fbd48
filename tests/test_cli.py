"""The CLI in-process: exit codes, exact output, and the JSON contract of SPEC §10."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign.cli import app
from tests.conftest import REPO

NOW = "2026-11-22T10:00:00+01:00"
runner = CliRunner()


def run(*args: str, config: Path = REPO / "campaign.toml"):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(config), "--now", NOW, *args])


def test_check_passes_on_the_example_stories() -> None:
    result = run("check")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "ok: 8 story files, 7 planned, 1 spare; 0 error(s), 17 warning(s)"
    # The warnings: captions shortened for X and Bluesky (and Mastodon), each with its fix,
    # the reserve story, named, with why it has no day, and the placeholder logo.
    assert len(lines) == 18
    logo = [line for line in lines if "placeholder logo" in line]
    assert len(logo) == 1 and logo[0].startswith("warning: campaign.toml:28: theme.logo: ")
    spare = [line for line in lines if "reserve story" in line]
    assert spare == [
        "warning: stories/08-ingrid.md: is a reserve story and is not posted: every day has a "
        "story: there are 8 stories for the 7 days; 01-marieke (2027-03-08), 07-els (2027-03-14) "
        "have their day, and the other days go to the stories without day: in file-name order. "
        "To post it, give it a free day with day:, or take another story out"]
    for line in lines[:-1]:
        if line in spare or line in logo:
            continue
        assert line.startswith("warning: stories/0") and " caption is shortened to " in line
        assert "to choose the words yourself, add `" in line


def test_check_json_on_the_example_stories() -> None:
    result = run("check", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["errors"] == []
    assert len(document["warnings"]) == 17
    assert {w["field"] for w in document["warnings"]} <= {None, "x", "bluesky", "mastodon",
                                                          "theme.logo"}
    assert document["stories"][0] == {
        "file": "stories/01-marieke.md", "id": "01-marieke", "day": "2027-03-08", "spare": False,
        "fate": "planned", "reason": None,
    }
    last = document["stories"][-1]
    assert {k: last[k] for k in ("file", "id", "day", "spare", "fate")} == {
        "file": "stories/08-ingrid.md", "id": "08-ingrid", "day": None, "spare": True,
        "fate": "spare",
    }
    assert last["reason"].startswith("every day has a story: there are 8 stories for the 7 days")


def test_check_on_broken_stories_lists_each_and_exits_1(campaign_dir) -> None:
    root = campaign_dir(
        "story_valid_minimal.md", "story_consent_signed_not_a_date.md",
        "story_unknown_field.md", "story_not_utf8.md",
    )
    result = run("check", config=root / "campaign.toml")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "stories/story_consent_signed_not_a_date.md:6: consent.signed: "
        "is not a date: write it as YYYY-MM-DD, e.g. 2027-03-09",
        "stories/story_not_utf8.md:2: is not UTF-8 (byte 0xeb on this line; perhaps "
        "Windows-1252 or Latin-1): save the file as UTF-8 (Save As, Encoding: UTF-8)",
        "stories/story_unknown_field.md:5: titel: unknown key: remove it or correct its "
        "spelling (known keys here: age, bluesky, consent, day, diagnosis, facebook, hashtags, "
        "instagram, link, linkedin, mastodon, name, photo, photo_alt, photo_focus, quote, "
        "title, x)",
    ]
    assert lines[-1] == "not ok: 4 story files, 1 planned, 0 spare; 3 error(s), 7 warning(s)"


def test_check_json_still_reports_the_good_ones(campaign_dir) -> None:
    root = campaign_dir("story_valid_minimal.md", "story_missing_title.md")
    result = run("check", "--json", config=root / "campaign.toml")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["errors"] == [{
        "file": "stories/story_missing_title.md", "line": None, "field": "title",
        "code": "field.required",
        "message": 'is required: add it e.g. "title: Twee jaar zoeken naar een diagnose"',
    }]
    fates = {s["id"]: s["fate"] for s in document["stories"]}
    assert fates == {"story_valid_minimal": "planned", "story_missing_title": "invalid",
                     "not_an_image": "ignored"}  # every file in stories/ has its fate
    assert len(document["warnings"]) == 7  # six empty days, and the placeholder logo


def test_a_story_refused_by_the_planner_is_not_listed_as_good(campaign_dir) -> None:
    root = campaign_dir("story_day_taken_a.md", "story_day_taken_b.md")
    document = json.loads(run("check", "--json", config=root / "campaign.toml").stdout)
    planned = [s["id"] for s in document["stories"] if s["fate"] == "planned"]
    assert planned == ["story_day_taken_a"]
    [refused] = [s for s in document["stories"] if s["id"] == "story_day_taken_b"]
    assert refused["fate"] == "invalid" and "already has a story" in refused["reason"]
    assert document["errors"][0]["file"] == "stories/story_day_taken_b.md"


def test_plan_json_shape() -> None:
    result = run("plan", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["spares"] == ["08-ingrid"]
    assert len(document["posts"]) == 6 * 6 + 3  # 03-fatima consents to three platforms
    first = document["posts"][0]
    assert set(first) >= {"story", "platform", "day", "due", "caption", "caption_length",
                          "caption_limit", "shortened", "alt_text", "card"}
    assert first["story"] == "01-marieke" and first["platform"] == "linkedin"
    assert first["due"] == "2027-03-08T09:00:00+01:00"


def test_plan_shows_local_times() -> None:
    result = run("plan")
    assert result.exit_code == 0
    assert "Mon 8 Mar" in result.stdout and "09:00 CET" in result.stdout
    assert "spare stories (not posted): 08-ingrid" in result.stdout


def test_bad_config_exits_1_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "campaign.toml"
    config.write_text((REPO / "campaign.toml").read_text().replace("[paths]", "[pahts]"))
    line = config.read_text().splitlines().index("[pahts]") + 1
    result = run("check", config=config)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"campaign.toml:{line}: pahts: unknown key")


def test_usage_error_exits_2() -> None:
    assert runner.invoke(app, ["check", "--nonsense"]).exit_code == 2


@pytest.mark.parametrize("command", ["check", "plan"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and f"campaign {command}" in result.stdout


def test_every_command_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    import typer.main

    click_app = typer.main.get_command(app)
    for name in click_app.commands:  # type: ignore[attr-defined]
        assert f"campaign {name}" in readme, f"README lacks an example of `campaign {name}`"


def test_python_dash_m_and_console_script_run() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "campaign", "--now", NOW, "check", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ok"] is True
    assert out.stderr == ""


def test_every_message_that_points_to_the_readme_names_a_heading_that_exists() -> None:
    """Issue 21: a message pointed to "the README, Secrets", which does not exist."""
    import re

    headings = {line.lstrip("#").strip().strip("`")
                for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    pointers: list[tuple[str, str]] = []
    for path in (REPO / "campaign").rglob("*.py"):
        text = path.read_text(encoding="utf-8").replace('\\"', '"')
        for match in re.finditer(r"README,? ([\"'])?([A-Z][^\"')]*)\1?\)", text):
            pointers.append((path.name, match.group(2).strip()))
    # The Dutch points to the same (English) headings: "zie de handleiding (README), "…"".
    dutch = (REPO / "campaign/locale/nl/LC_MESSAGES/campaign.po").read_text(encoding="utf-8")
    for match in re.finditer(r"README\)?,? ([\"'])?([A-Z][^\"')]*)\1?\)", dutch.replace('\\"', '"')):
        pointers.append(("nl catalogue", match.group(2).strip()))
    assert any(module == "nl catalogue" for module, _ in pointers)
    assert pointers, "the pattern finds the README pointers in messages"
    for module, heading in pointers:
        assert heading in headings, f"{module} points to the README section {heading!r}"


def test_a_story_id_typed_wrong_says_which_exist_and_the_nearest(repo_copy: Path) -> None:
    result = run("approve", "01-mariek", "--by", "Anna", config=repo_copy / "campaign.toml")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "01-mariek: there is no story '01-mariek' in stories/: did you mean 01-marieke? The "
        "stories are: 01-marieke, 02-joost, 03-fatima, 04-henk, 05-sanne, 06-ahmed, 07-els, "
        "08-ingrid (the file name without .md).")


def test_flags_show_as_flags_in_help() -> None:
    import typer.main

    click_app = typer.main.get_command(app)
    for name in click_app.commands:  # type: ignore[attr-defined]
        shown = runner.invoke(app, [name, "--help"]).stdout
        assert "<bool>" not in shown, f"campaign {name} --help shows a flag as <bool>"
    shown = runner.invoke(app, ["check", "--help"]).stdout
    assert "  --json   Write the report as JSON." in shown
    assert "      campaign check\n      campaign check --brief\n" in shown  # examples as lines


def test_the_command_line_builds_only_the_command_it_runs() -> None:
    """typer builds every command an app holds before it runs one: `main` hands it an app
    with only the named command (issue 19). Help, groups and unknown words get the whole app."""
    from campaign.cli import _app_for

    def names(argv: list[str]) -> list[str | None]:
        return [info.name or info.callback.__name__ for info in _app_for(argv).registered_commands
                if info.callback is not None]

    assert names(["check"]) == ["check"]
    assert names(["--config", "other.toml", "--lang", "nl", "render", "--force"]) == ["render"]
    assert names(["-c", "check", "status"]) == ["status"]  # "check" is -c's value here
    assert _app_for(["--help"]) is app
    assert _app_for(["--help", "check"]) is app
    assert names(["check", "--help"]) == ["check"]
    assert _app_for([]) is app
    assert _app_for(["users", "list"]) is app
    assert _app_for(["chek"]) is app  # click's "No such command ... Did you mean" needs them all
    assert _app_for(["check"]).registered_callback is app.registered_callback


def _modules_after(argv: list[str], cwd: Path | None = None) -> set[str]:
    """The modules a new process holds after `campaign <argv>` (its `main`)."""
    script = (
        "import sys\n"
        "from campaign.cli import main\n"
        "sys.argv = ['campaign', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.flush()\n"
        "print('MODULES ' + ' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=cwd, capture_output=True,
                          text=True, check=True, timeout=120)
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_an_unchanged_week_loads_only_what_it_needs(repo_copy: Path) -> None:
    """`campaign check` and `campaign render` on a week whose notes and cards are all kept
    never load what only a changed story needs (issue 19; measured by bench_startup.py)."""
    for command in ("check", "render"):
        subprocess.run([sys.executable, "-m", "campaign", command], cwd=repo_copy,
                       capture_output=True, check=True, timeout=120)
    for command in ("check", "render"):
        loaded = _modules_after([command], repo_copy)
        for heavy in ("multiprocessing", "regex", "dotenv", "twitter_text", "PIL", "cv2",
                      "markdown_it", "rich.progress", "campaign.cards.draw",
                      "campaign.stories", "requests"):
            assert heavy not in loaded, (command, heavy)
        assert "logging" not in loaded or command == "render", command


def test_help_loads_only_what_it_shows() -> None:
    """`campaign --help` (and typer's parsing) never loads the heavy parts (issue 19):
    measured by bench/bench_startup.py; here only which modules a new process holds."""
    loaded = _modules_after(["--help"])
    for heavy in ("twitter_text", "PIL", "pydantic", "rich.progress", "requests", "apscheduler",
                  "campaign.check", "campaign.config", "campaign.ledger", "campaign.scheduler",
                  "matplotlib", "emoji", "cv2"):
        assert heavy not in loaded, heavy
