"""What a new process reads before its first card: the fonts' character maps, read from
the cmap table directly, and the Dutch hyphenation patterns, read lazily. Both must give
what fontTools and pyphen give."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyphen
import pytest
from fontTools.ttLib import TTFont

from campaign.cards import text
from tests.conftest import REPO

FONTS = sorted((REPO / "assets" / "fonts").glob("*.[ot]tf"))


@pytest.mark.parametrize("font", FONTS, ids=[f.name for f in FONTS])
def test_the_cmap_read_directly_is_the_one_fonttools_reads(font: Path) -> None:
    with font.open("rb") as handle:
        ours = text.cmap_code_points(handle)
    with TTFont(str(font), lazy=True) as reference:
        assert ours == frozenset(reference.getBestCmap())


def test_a_font_without_a_readable_cmap_is_none_not_an_error() -> None:
    assert text.cmap_code_points(io.BytesIO(b"")) is None
    assert text.cmap_code_points(io.BytesIO(b"OTTO" + b"\x00" * 8)) is None  # no tables
    assert text.cmap_code_points(io.BytesIO(b"OTTO\x00\x01" + b"\xff" * 30)) is None


def test_the_lazy_patterns_break_words_where_pyphen_does() -> None:
    reference = pyphen.Pyphen(lang="nl_NL", left=2, right=3)
    words = set((REPO / "campaign" / "data" / "nl-compound-parts.txt").read_text("utf-8").split())
    for story in (REPO / "stories").glob("*.md"):
        words |= set(re.findall(r"\w+", story.read_text("utf-8")))
    words |= {"lettergrepen", "Bijnierschorscarcinoom", "patiënten", "coëfficiënt", "ZIEKENHUIS"}
    patterns = text._dictionary()
    differ = [w for w in sorted(words) if patterns.positions(w, 2, 3) != reference.positions(w)]
    assert not differ
    assert patterns.positions("lettergrepen", 2, 3) == [3, 6, 9]
