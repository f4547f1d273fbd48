"""Random bytes and random front matter never raise anything but a reported problem."""

from __future__ import annotations

import io
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
