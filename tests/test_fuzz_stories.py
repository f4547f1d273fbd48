"""Random bytes and random front matter never raise anything but a reported problem."""

from __future__ import annotations

import io
import json
import time
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from campaign.config import load_project
from campaign.stories import read_story
from tests.conftest import make_campaign

KEYS = ["title", "name", "age", "quote", "photo", "photo_alt", "day", "consent", "hashtags",
        "link", "x", "bluesky", "signed", "platforms", "expires", "photo_focus", "unknown"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=40), st.dates(min_value=date(1900, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=12,
)


@given(raw=st.binary(max_size=2000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bytes_never_crash(tmp_path: Path, raw: bytes) -> None:
    root = make_campaign(tmp_path / "fuzz")
    project = load_project(root / "campaign.toml")
    path = root / "stories" / "fuzz.md"
    path.write_bytes(b"---\n" + raw if raw[:1] != b"-" else raw)
    reading = read_story(path, project)
    assert reading.story is not None or reading.errors


@given(front=st.dictionaries(st.sampled_from(KEYS), values, max_size=10), body=st.text(max_size=200))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_front_matter_never_crashes(tmp_path: Path, front: dict, body: str) -> None:  # type: ignore[type-arg]
    root = make_campaign(tmp_path / "fuzz")
    project = load_project(root / "campaign.toml")
    buffer = io.StringIO()
    YAML(typ="rt").dump(front, buffer)
    path = root / "stories" / "fuzz.md"
    path.write_text("---\n" + buffer.getvalue() + "---\n" + body, encoding="utf-8")
    reading = read_story(path, project)
    assert reading.story is not None or reading.errors
    for problem in reading.problems:
        assert problem.file == "stories/fuzz.md" and problem.message


# -- issue 13: nothing a file holds may hang or blow up `check` --------------------------

# Pieces of YAML syntax, and characters from the Unicode categories that have hurt before:
# format characters (zero-width space, joiners), marks, symbols and emoji, spaces, controls.
YAML_PIECES = ["&a ", "*a", "{", "}", "[", "]", ": ", "- ", "? ", "!!str ", "| ", "> ", "#",
               "'", '"', "\n", "  ", "\t", "...", "%YAML 1.1\n", ",", "<<: ", "~", "\\"]
TRICKY = st.text(
    alphabet=st.characters(categories=["Cf", "Mn", "So", "Sk", "Zs", "Lo", "Nd", "Po", "Cc"]),
    max_size=60,
)
fragments = st.lists(st.one_of(st.sampled_from(YAML_PIECES), TRICKY, st.text(max_size=10)),
                     max_size=40).map("".join)
FLOODS = ["a\u200b", "🧑\u200d⚕️", "a.", "é.", "https://a.", "#a", "*a ", "[", "**", "<b>", "\u0301"]
floods = st.builds(lambda piece, n: piece * n, st.sampled_from(FLOODS), st.integers(0, 5000))


def _check_within(root: Path, text: str, seconds: float) -> None:
    from campaign.check import check_story

    project = load_project(root / "campaign.toml")
    path = root / "stories" / "fuzz.md"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.monotonic()
    result = check_story(path, project)
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"checking took {elapsed:.1f} s"
    assert result.reading.story is not None or result.reading.errors
    for problem in result.all_problems:
        assert problem.file == "stories/fuzz.md" and problem.message


@given(front=fragments, body=st.one_of(TRICKY, floods))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_yaml_fragments_and_unicode_never_hang_or_crash_check(tmp_path: Path, front: str,
                                                              body: str) -> None:
    root = make_campaign(tmp_path / "fuzz")
    text = ("---\ntitle: T\nname: N\nquote: Q\nconsent: {signed: 2026-10-30, reference: R}\n"
            f"{front}\n---\n{body}\n")
    _check_within(root, text.encode("utf-8", "replace").decode("utf-8"), 5.0)


@given(field=st.sampled_from(["title", "name", "quote", "photo_alt", "x", "bluesky", "link"]),
       value=st.one_of(floods, TRICKY), flood=floods, nesting=st.integers(0, 80))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_huge_and_nested_values_never_hang_or_crash_check(tmp_path: Path, field: str, value: str,
                                                          flood: str, nesting: int) -> None:
    root = make_campaign(tmp_path / "fuzz")
    quoted = json.dumps(value[:4000], ensure_ascii=False)  # JSON strings are YAML strings
    text = ("---\ntitle: T\nname: N\nquote: Q\nconsent: {signed: 2026-10-30, reference: R}\n"
            f"{field}: {quoted}\nhashtags: {'[' * nesting}{']' * nesting}\n---\n"
            f"Verhaal. {flood}\n")
    _check_within(root, text, 5.0)
