"""Counting per platform: X's conformance cases, newer emoji, graphemes, bytes, URLs."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from campaign import counting
from campaign.platforms import SPECS

DATA = Path(__file__).resolve().parent / "data" / "twitter-text-validate.yml"
X_SECTIONS = ("WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest")


def _cases() -> list[Any]:
    tests = YAML(typ="safe").load(DATA.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(case, id=f"{section}: {case['description']}")
        for section in X_SECTIONS
        for case in tests[section]
    ]


CASES = _cases()


def test_every_conformance_case_is_collected() -> None:
    # 22 + 2 cases in the copy of twitter-text's validate.yml: none skipped or lost.
    assert len(CASES) == 24


@pytest.mark.parametrize("case", CASES)
def test_x_conformance(case: dict[str, Any]) -> None:
    expected = case["expected"]
    result = counting.parse_x(case["text"]).asdict()
    assert result == expected
    assert counting.x_weighted_length(case["text"]) == expected["weightedLength"]
    assert counting.x_valid(case["text"]) is expected["valid"]


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("🧑\u200d⚕️", 2),  # health worker (Emoji 12.1): 4 code points, counts once
        ("❤️\u200d🩹", 2),  # mending heart (Emoji 13.1)
        ("❤️\u200d🔥", 2),  # heart on fire (Emoji 13.1)
        ("🏳️\u200d⚧️", 2),  # transgender flag (Emoji 13.0)
        ("🫶🏽", 2),  # heart hands with a skin tone (Emoji 14.0)
        ("Dank 🧑\u200d⚕️❤️\u200d🩹!", 10),  # 'Dank ' 5 + 2 + 2 + '!' 1
        ("🧑\u200d⚕️ https://example.org/a", 26),  # emoji 2, space 1, URL 23
        ("👩🏽\u200d🦰", 2),  # known to twitter-text's own data: unchanged
        ("1️⃣", 2),
        ("ĳsbaan", 6),  # U+0133 is in the weight-1 range below U+10FF
        ("日本", 4),
    ],
)
def test_x_counts_newer_emoji_sequences_once(text: str, weighted: int) -> None:
    assert counting.x_weighted_length(text) == weighted


def test_x_valid_at_and_over_280_with_newer_emoji() -> None:
    text = "a" * 278 + "❤️\u200d🩹"
    assert counting.x_weighted_length(text) == 280
    assert counting.x_valid(text)
    assert not counting.x_valid(text + "a")


def test_imports_without_pkg_resources() -> None:
    """setuptools >= 81 has no pkg_resources: the shim must import twitter-text anyway."""
    script = textwrap.dedent(
        """
        import sys

        class NoPkgResources:
            def find_spec(self, name, path=None, target=None):
                if name == "pkg_resources":
                    raise ModuleNotFoundError("No module named 'pkg_resources'", name=name)
                return None

        sys.meta_path.insert(0, NoPkgResources())
        from campaign import counting
        assert "pkg_resources" not in sys.modules, "the stand-in must not stay behind"
        print(counting.x_weighted_length("Hi http://test.co 🧑\\u200d⚕️"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "29"


@pytest.mark.parametrize(
    ("text", "graphemes", "utf8"),
    [
        ("abc", 3, 3),
        ("ĳs", 2, 3),
        ("e\u0301", 1, 3),  # e + combining acute: one grapheme
        ("🧑\u200d⚕️", 1, 13),
        ("🇳🇱", 1, 8),
        ("👩🏽\u200d🦰x", 2, 16),
    ],
)
def test_bluesky_graphemes_and_bytes(text: str, graphemes: int, utf8: int) -> None:
    assert counting.graphemes(text) == graphemes
    assert counting.utf8_bytes(text) == utf8
    assert counting.caption_length(text, "bluesky") == graphemes


def test_bluesky_byte_limit_applies_besides_graphemes() -> None:
    # 250 graphemes, each 4 code points (16 bytes): within 300 graphemes, over 3000 bytes.
    text = "🧑\u200d⚕️" * 250
    assert counting.graphemes(text) == 250
    assert counting.utf8_bytes(text) > SPECS["bluesky"].caption_byte_limit
    assert not counting.fits(text, "bluesky")
    assert counting.fits("🧑\u200d⚕️" * 200, "bluesky")


def test_mastodon_counts_urls_as_23() -> None:
    url = "https://www.example.org/een/heel/lang/pad/naar/een/verhaal?met=parameters"
    assert counting.length_urls_as_23(f"Lees {url} nu") == len("Lees ") + 23 + len(" nu")
    assert counting.length_urls_as_23("https://x.nl") == 23  # short URLs count 23 too
    assert counting.length_urls_as_23("example.org zonder schema") == len("example.org zonder schema")


def test_limits_table() -> None:
    assert counting.LIMITS == {
        "x": 280,
        "bluesky": 300,
        "mastodon": 500,
        "instagram": 2200,
        "linkedin": 3000,
        "facebook": 63206,
    }
    assert counting.fits("a" * 2200, "instagram")
    assert not counting.fits("a" * 2201, "instagram")
    assert counting.fits("a" * 501, "mastodon", limit=1000)
    assert not counting.fits("a" * 501, "mastodon")


def test_no_break_space_is_not_a_cut_point() -> None:
    assert counting.is_breaking_space(" ")
    assert counting.is_breaking_space("\n")
    assert not counting.is_breaking_space("\u00a0")
    assert not counting.is_breaking_space("a")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["🧑\u200d⚕️", "e\u0301", "ĳ", "日本", "https://example.org/a/b", " "]),
        ),
        max_size=20,
    ).map("".join)
)
def test_x_lower_bound_never_exceeds_the_real_count(text: str) -> None:
    assert counting.x_weighted_length_at_least(text) <= counting.x_weighted_length(text)


_LINKS_AND_EMOJI = st.sampled_from([
    "🧑\u200d⚕️", "e\u0301", "ĳ", "日本", "https://example.org/a/b", " ", "a.com,b.com",
    "http://a.nl,http://b.nl", "x.co/a;y.co/b", "a.b.c", "ze.", "x.Co", "©", "®️", "#️⃣",
    "\u2028", "ह\u093c", "…",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), _LINKS_AND_EMOJI), max_size=20).map("".join))
def test_the_quick_upper_bounds_are_never_below_the_real_count(text: str) -> None:
    """A text within the bound is posted without the exact count (`fits`): the bound must
    hold for every text, a word with several links among them."""
    assert counting.x_weighted_length(text) <= counting.x_weighted_length_at_most(text)
    assert (counting.caption_length(text, "mastodon")
            <= counting.caption_length_at_most(text, "mastodon"))


def test_every_emoji_twitter_text_knows_holds_what_the_quick_paths_look_for() -> None:
    """What the count without twitter-text's emoji pattern rests on, held to its own list:
    each emoji holds a code point from U+00A9 on, and each of several code points holds a
    sequence part (ZWJ, variation selector, keycap, skin tone, flag letter or tag)."""
    module = counting.twitter_text_emoji_module()
    assert len(module.emoji_list) > 3000
    for entry in module.emoji_list:
        assert max(entry.emoji) >= counting._FIRST_EMOJI_CODE_POINT, entry
        if len(entry.emoji) > 1:
            assert counting._SEQUENCE_PART.search(entry.emoji), entry
    below = "".join(chr(point) for point in range(0xA9))
    assert not module.emoji.search(below)


_WITHOUT_SEQUENCES = st.text(
    st.characters(blacklist_characters="\u200d\ufe0e\ufe0f\u20e3.", blacklist_categories=("Cs",))
    .filter(lambda char: not counting._SEQUENCE_PART.search(char)), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_WITHOUT_SEQUENCES, st.sampled_from(
    ["é", "ë", "—", "🙂", "©", "®", "日本", "‼", "☺", "ह\u093c", "\r\n", "e\u0301", " "])),
    max_size=12).map("".join))
def test_a_text_without_links_or_emoji_sequences_counts_as_twitter_text_counts_it(text: str) -> None:
    """Such a text is counted by its code points' weights (no twitter-text, no emoji
    pattern): the same as twitter-text's whole parse of it."""
    assert counting.x_weighted_length(text) == counting.parse_x(text).weightedLength


@functools.cache
def _twitter_text_s_emoji_pattern() -> Any:
    return counting.twitter_text_emoji_module().emoji


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), _LINKS_AND_EMOJI), max_size=20).map("".join))
def test_the_lazy_emoji_pattern_finds_what_twitter_text_s_own_finds(text: str) -> None:
    real = _twitter_text_s_emoji_pattern()
    lazy = counting._LazyEmojiPattern()
    lazy._compiled = real  # built once for the test, not once per example
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]


def test_a_caption_without_emoji_is_counted_without_building_the_emoji_pattern() -> None:
    """Building twitter-text's emoji pattern takes a new process a tenth of a second:
    only a text that may hold an emoji builds it, and is then counted as before."""
    script = textwrap.dedent(
        """
        import sys
        from campaign import counting
        caption = ("Marieke (47) hoorde twee jaar dat het stress was. Lees één verhaal per "
                   "dag op zeldzamekanker.nl/marieke of https://example.org/week #WZK")
        counts = [counting.x_weighted_length(caption), counting.x_valid(caption),
                  counting.fits(caption, "x"), len(counting.urls(caption))]
        pattern = sys.modules["twitter_text.regexp.emoji"].emoji
        print(*counts, pattern._compiled is None, end=" ")
        print(counting.parse_x(caption).weightedLength, pattern._compiled is None, end=" ")
        print(counting.x_weighted_length("Dank je ❤️ 🎗"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # Counted without the pattern, as twitter-text's whole parse counts it once it is built.
    assert done.stdout.split() == ["133", "True", "True", "1", "True", "133", "False", "13"]


def test_the_emoji_pattern_is_built_beside_a_pkg_resources_imported_before() -> None:
    """Where another library imported pkg_resources first, twitter-text's emoji module
    reads its list through it, as pkg_resources does: from the module's own file."""
    script = textwrap.dedent(
        """
        import os, sys, types

        def resource_string(module_name, name):  # as pkg_resources' default provider does
            folder = os.path.dirname(sys.modules[module_name].__file__)
            with open(os.path.join(folder, name), "rb") as handle:
                return handle.read()

        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
        sys.modules["pkg_resources"].resource_string = resource_string
        from campaign import counting
        print(counting.x_weighted_length("Dank je ❤️ 🎗"),
              type(sys.modules["twitter_text.regexp.emoji"].emoji).__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["13", "_LazyEmojiPattern"]


def test_a_scheduler_s_warm_up_builds_the_emoji_pattern_before_the_first_post() -> None:
    script = ("import sys; from campaign import counting; counting.load(); "
              "print(sys.modules['twitter_text.regexp.emoji'].emoji._compiled is not None)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]


def test_a_word_with_two_links_is_bounded_by_two_links() -> None:
    # Was 45 and 46: one 23 per word, where twitter-text finds two URLs (47).
    assert counting.x_weighted_length("a.com,b.com") == 47
    assert counting.x_weighted_length_at_most("a.com,b.com") >= 47
    assert counting.length_urls_as_23("http://a.nl,http://b.nl") == 47
    assert counting.caption_length_at_most("http://a.nl,http://b.nl", "mastodon") >= 47


def test_every_code_point_x_weighs_1_is_bounded_by_its_own_weight() -> None:
    """Each code point in twitter-text's light ranges, alone: only © and ® are emoji."""
    light = [(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)]
    for start, end in light:
        for point in range(start, end + 1):
            char = chr(point)
            assert counting.x_weighted_length(char) <= counting.x_weighted_length_at_most(char)
    assert counting.x_weighted_length_at_most("Vraag door, zegt ze.") == 20  # no link, 1 each
    assert counting.x_weighted_length_at_most("©") == 2


def test_every_emoji_sequence_is_bounded_by_its_parts() -> None:
    for sequence in _emoji_sequences():
        assert counting.x_weighted_length(sequence) <= counting.x_weighted_length_at_most(sequence)


def test_a_caption_without_links_fits_x_by_its_bound_without_the_exact_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    caption = ("Marieke zocht twee jaar naar een diagnose. Vraag door, zegt ze. " * 5)[:278]
    assert len(caption) == 278
    monkeypatch.setattr(counting, "x_weighted_length", None)  # would fail if it were called
    assert counting.fits(caption, "x")


def _replaced_in_the_whole_text(text: str) -> str:
    """The reference: every multi-code-point sequence of the emoji package's list in the
    whole text that twitter-text does not weigh as one emoji, replaced (as before the
    emoji data was loaded only for the clusters that need it)."""
    import emoji

    parts, last = [], 0
    for found in emoji.emoji_list(text):
        start, end = int(found["match_start"]), int(found["match_end"])
        if end - start > 1 and not counting._x_knows(text[start:end]):
            parts += [text[last:start], counting._KNOWN_EMOJI]
            last = end
    return "".join([*parts, text[last:]])


def _emoji_sequences() -> list[str]:
    import emoji

    return sorted(e for e in emoji.EMOJI_DATA if len(e) > 1)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_emoji_sequences()),
            st.sampled_from(["a", " ", "’", "–", "\u200d", "\ufe0f", "\u20e3", "🏽", "🇳",
                             "🇱", "1", "e\u0301", "日", "🙂", "🎗", "\U000e0067"]),
        ),
        max_size=12,
    ).map("".join)
)
def test_newer_emoji_are_found_cluster_by_cluster_as_in_the_whole_text(text: str) -> None:
    assert counting._with_known_emoji(text) == _replaced_in_the_whole_text(text)


def test_the_emoji_data_loads_only_for_a_sequence_twitter_text_does_not_know() -> None:
    """5 MiB a scheduler holds only when a story needs it: curly quotes, dashes, single
    emoji and the sequences of twitter-text's own data count without it."""
    script = textwrap.dedent(
        """
        import sys
        from campaign import counting
        for text in ["Vraag door’ – 🙂 🎗️ 👩🏽‍🦰 🇳🇱 1️⃣ e\\u0301", "a" * 300 + "\\u200d"]:
            counting.x_weighted_length(text)
        counting.prepare_for(["Zo’n week 🎗️"])
        print("emoji" in sys.modules, end=" ")
        counting.prepare_for(["Dank 🫶🏽"])
        print("emoji" in sys.modules, counting.x_weighted_length("Dank 🫶🏽"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True", "7"]
