"""Golden captions: every example story on every platform, compared with committed files.

A change in how captions are made shows up here as a diff of real text. When
the change is intended, regenerate on purpose and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_captions.py

Each file `tests/golden/captions/<story>.<platform>.txt` holds the caption as it
is sent, then a line `--- alt text ---` and the alt text.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from campaign.captions import compose_alt_text, compose_caption
from campaign.config import load_project
from campaign.models import PLATFORMS
from campaign.stories import read_stories

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "captions"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SEPARATOR = "\n--- alt text ---\n"


@cache
def rendered() -> dict[str, str]:
    project = load_project(REPO / "campaign.toml")
    out: dict[str, str] = {}
    for reading in read_stories(project):
        story = reading.story
        assert story is not None, [p.format() for p in reading.problems]
        for platform in PLATFORMS:
            caption = compose_caption(story, platform, project.settings)
            alt = compose_alt_text(story, platform, project.settings)
            out[f"{story.id}.{platform}.txt"] = caption.text + SEPARATOR + alt + "\n"
    return out


# The example stories' names are known without reading them, so a broken story
# fails its own tests below instead of the collection of this file.
NAMES = sorted(
    f"{path.stem}.{platform}.txt"
    for path in (REPO / "stories").glob("*.md")
    for platform in PLATFORMS
)


def test_golden_files_match_the_example_stories() -> None:
    current = rendered()
    assert set(current) == set(NAMES)
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for stale in GOLDEN.glob("*.txt"):
            if stale.name not in current:
                stale.unlink()
        for name, text in current.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    committed = {p.name for p in GOLDEN.glob("*.txt")}
    assert committed == set(current), (
        "golden captions and example stories differ: run UPDATE_GOLDEN=1 "
        ".venv/bin/pytest tests/test_golden_captions.py and review the diff"
    )


@pytest.mark.parametrize("name", NAMES)
def test_golden_caption(name: str) -> None:
    path = GOLDEN / name
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert rendered()[name] == path.read_text(encoding="utf-8"), (
        f"{name} changed: if intended, run UPDATE_GOLDEN=1 "
        ".venv/bin/pytest tests/test_golden_captions.py and review the diff"
    )
