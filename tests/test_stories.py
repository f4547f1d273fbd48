"""Story files: one fixture per rule of SPEC §3, each error with file, line, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from campaign.config import load_project
from campaign.stories import read_story


def read(campaign_dir, name: str):  # type: ignore[no-untyped-def]
    root = campaign_dir(name)
    project = load_project(root / "campaign.toml")
    return read_story(root / "stories" / name, project)


def only_error(reading):  # type: ignore[no-untyped-def]
    assert reading.story is None
    assert len(reading.errors) == 1, [p.format() for p in reading.problems]
    return reading.errors[0]


def test_valid_minimal_story_is_read(campaign_dir) -> None:
    reading = read(campaign_dir, "story_valid_minimal.md")
    assert reading.problems == []
    story = reading.story
    assert story is not None
    assert story.id == "story_valid_minimal"
    assert story.file == "stories/story_valid_minimal.md"
    assert story.title == "Testverhaal"
    assert story.body == "Verhaal."
    assert story.lines["consent.signed"] == 6
    assert len(story.content_hash) == 64


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("story_missing_title.md", None, "title", "is required"),
        ("story_missing_consent.md", None, "consent", "is required"),
        ("story_consent_signed_not_a_date.md", 6, "consent.signed", "YYYY-MM-DD"),
        ("story_consent_expires_before_signed.md", 5, "consent", "expires is before signed"),
        ("story_consent_platform_unknown.md", 8, "consent.platforms",
         "'myspace' is not a platform campaign posts to: use one of x, facebook,"),
        ("story_day_not_a_date.md", 5, "day", "YYYY-MM-DD"),
        ("story_unknown_field.md", 5, "titel", "unknown key"),
        ("story_photo_outside_repo.md", 5, "photo", "outside the repository"),
        ("story_photo_absolute_path.md", 5, "photo", "absolute path"),
        ("story_photo_missing_file.md", 5, "photo", "does not exist"),
        ("story_photo_not_an_image.md", 5, "photo", "not an image"),
        ("story_photo_without_alt.md", None, "photo_alt", "required when photo is set"),
        ("story_bad_hashtag.md", 5, "hashtags", "not a hashtag"),
        ("story_bad_link.md", 5, "link", "not a web address"),
        ("story_age_not_a_number.md", 5, "age", "whole number"),
        ("story_python_tag.md", 5, "diagnosis", "YAML tags"),
        ("story_bad_yaml.md", 3, "name", "the [ on this line is never closed"),
        ("story_no_front_matter.md", 1, None, "no front matter"),
        ("story_front_matter_is_a_list.md", 2, None, "key: value"),
        ("story_not_utf8.md", 2, None, "not UTF-8"),
        ("story_utf16.md", None, None, "UTF-16"),
    ],
)
def test_each_rule_is_one_clear_error(campaign_dir, name, line, field, words) -> None:
    error = only_error(read(campaign_dir, name))
    assert error.file == f"stories/{name}"
    assert error.line == line
    assert error.field == field
    assert words in error.message
    # The message says what to do, not only what is wrong.
    assert ":" in error.message or "add" in error.message or "remove" in error.message


def test_error_line_reads_like_the_spec(campaign_dir) -> None:
    error = only_error(read(campaign_dir, "story_consent_signed_not_a_date.md"))
    assert error.format() == (
        "stories/story_consent_signed_not_a_date.md:6: consent.signed: "
        "is not a date: write it as YYYY-MM-DD, e.g. 2027-03-09"
    )


def test_every_problem_of_a_file_is_listed(campaign_dir) -> None:
    reading = read(campaign_dir, "story_several_errors.md")
    fields = sorted(p.field or "" for p in reading.errors)
    assert fields == ["age", "consent.platforms", "link"]


def test_python_tag_stays_inert(campaign_dir, tmp_path: Path) -> None:
    pwned = Path("/tmp/pwned")
    pwned.unlink(missing_ok=True)
    read(campaign_dir, "story_python_tag.md")
    assert not pwned.exists()


def test_bom_is_tolerated(campaign_dir) -> None:
    reading = read(campaign_dir, "story_utf8_bom.md")
    assert reading.problems == []
    assert reading.story is not None and reading.story.title == "Met BOM"


def test_control_and_bidi_characters_are_removed(campaign_dir) -> None:
    story = read(campaign_dir, "story_bidi_override_in_title.md").story
    assert story is not None
    assert story.title == "Goednieuws bericht"
    assert "\u202e" not in story.title


def test_symlink_leading_out_of_the_repository_is_refused(campaign_dir) -> None:
    root = campaign_dir("story_photo_symlink_out_of_repo.md")
    (root / "stories" / "link-out.jpg").symlink_to(Path(__file__).resolve())  # outside root
    reading = read_story(root / "stories" / "story_photo_symlink_out_of_repo.md",
                         load_project(root / "campaign.toml"))
    assert "outside the repository" in only_error(reading).message


def test_photo_over_40_megapixels_is_refused_without_decoding(campaign_dir) -> None:
    root = campaign_dir("story_photo_too_many_megapixels.md")
    Image.new("1", (8000, 6000)).save(root / "stories" / "huge.png")  # 48 MP, tiny file
    reading = read_story(root / "stories" / "story_photo_too_many_megapixels.md",
                         load_project(root / "campaign.toml"))
    error = only_error(reading)
    assert "48 megapixels" in error.message and "at most 40" in error.message


def test_decompression_bomb_is_refused(campaign_dir) -> None:
    root = campaign_dir("story_photo_too_many_megapixels.md")
    Image.new("1", (20000, 20000)).save(root / "stories" / "huge.png")  # 400 MP
    reading = read_story(root / "stories" / "story_photo_too_many_megapixels.md",
                         load_project(root / "campaign.toml"))
    assert "megapixels" in only_error(reading).message


def test_example_stories_are_all_valid() -> None:
    from campaign.stories import read_stories
    from tests.conftest import REPO

    project = load_project(REPO / "campaign.toml")
    readings = read_stories(project)
    assert len(readings) == 8
    assert [p.format() for r in readings for p in r.problems] == []
    with_photo = [r.story for r in readings if r.story and r.story.photo]
    assert len(with_photo) >= 2


# -- issue 14: files that look like stories are never ignored without a word ---------------

def test_story_file_names_people_really_save(campaign_dir) -> None:
    from campaign.storyfiles import scan_stories

    root = campaign_dir()
    stories = root / "stories"
    body = "---\ntitle: T\nname: N\nquote: Q\nconsent: {signed: 2026-10-30, reference: R}\n---\nB\n"
    for name in ("16-hoofdletter.MD", "18-lang.markdown", "17-tekst.md.txt", "19-brief.docx",
                 "_concept.md", "README.md", "20-dubbel.md", "20-dubbel.MD", "01-a.md~",
                 ".~lock.01-a.md#"):
        (stories / name).write_text(body, encoding="utf-8")
    project = load_project(root / "campaign.toml")
    paths, ignored = scan_stories(project)
    assert [p.name for p in paths] == ["16-hoofdletter.MD", "18-lang.markdown", "20-dubbel.MD"]
    said = {i.file.removeprefix("stories/"): (i.severity, i.reason) for i in ignored}
    assert said["17-tekst.md.txt"] == ("warning", "is saved as .txt (Notepad does this), so it is "
                                       "not read: save it as plain text (UTF-8) named 17-tekst.md")
    assert said["19-brief.docx"][0] == "warning" and "named 19-brief.md" in said["19-brief.docx"][1]
    assert said["20-dubbel.md"] == ("error", "has the same name as stories/20-dubbel.MD: rename "
                                    "one of them (each story needs its own name)")
    assert said["_concept.md"] == (None, "its name starts with _, so it is a draft: rename it "
                                   "to concept.md to post it")
    assert said["README.md"][0] is None and said["not_an_image.jpg"][0] is None
    assert "01-a.md~" not in said and ".~lock.01-a.md#" not in said  # editors' leftovers
    story = read_story(stories / "16-hoofdletter.MD", project).story
    assert story is not None and story.id == "16-hoofdletter"


# -- issue 21: messages for the mistakes people really make (by exact text) ----------------

MISTAKES = [
    ("story_yaml_colon_in_quote.md",
     'stories/story_yaml_colon_in_quote.md:4: quote: the text has a colon (:), which YAML reads '
     'as the start of another field: put the whole text in quotes, like this: quote: "Nu weet '
     'ik: luister naar je lijf"'),
    ("story_yaml_tab.md",
     "stories/story_yaml_tab.md:6: consent.signed: there is a tab at column 1: YAML only takes "
     "spaces there: replace the tab with spaces (two for each level)"),
    ("story_yaml_hash_in_hashtags.md",
     "stories/story_yaml_hash_in_hashtags.md:8: hashtags: a # starts a comment in YAML, so the "
     "rest of the line is not read: write hashtags without # (hashtags: [GIST, ZeldzameKanker]), "
     "or put each in quotes ('#GIST')"),
    ("story_yaml_hash_value.md",
     "stories/story_yaml_hash_value.md:8: hashtags: the value starts with #, which YAML reads as "
     "a comment, so it is empty: write hashtags without #: hashtags: [GIST]"),
    ("story_front_matter_not_closed.md",
     'stories/story_front_matter_not_closed.md:1: the front matter is not closed: add a line '
     '"---" after the last field, before the story\'s text'),
    ("story_day_in_curly_quotes.md",
     "stories/story_day_in_curly_quotes.md:5: day: the date is between curly quotes, which Word "
     "adds (“”): write it without quotes, like this: day: 2027-03-09"),
    ("story_day_day_month_year.md",
     "stories/story_day_day_month_year.md:5: day: '9-3-2027' is day-month-year; write dates "
     "year-month-day, like this: day: 2027-03-09"),
    ("story_consent_platforms_capitalised.md",
     "stories/story_consent_platforms_capitalised.md:8: consent.platforms: platform names are "
     "written in lower case, and X (Twitter) is written x: write platforms: [facebook, x]"),
]


@pytest.mark.parametrize(("name", "message"), MISTAKES)
def test_each_real_mistake_gets_the_fix_in_plain_words(campaign_dir, name: str, message: str) -> None:
    reading = read(campaign_dir, name)
    assert [p.format() for p in reading.problems] == [message]
