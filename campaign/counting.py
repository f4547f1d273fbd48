"""Counting a caption the way each platform counts it, and each platform's limits.

One table (`LIMITS`) holds the caption limits; `caption_length(text, platform)`
counts with that platform's rule and `fits(text, platform, limit)` says whether
a text may be posted. Every rule comes from a maintained library, not from
home-made tables (SPEC §4, platform-apis.md §1.7, §3.5, §4.3, §5.3, §6.3):

- X: weighted length of twitter-text config v3 (most non-Latin characters and
  emoji 2, every URL 23), from `twitter-text-parser` 3.0.0 through the shim
  below, with newer emoji sequences recognised by the `emoji` package.
- Bluesky: 300 extended grapheme clusters (`regex`'s `\\X`) and 3,000 UTF-8 bytes.
- Mastodon: the instance's limit (500 by default) with every URL counted as 23.
- Instagram, LinkedIn, Facebook: characters.

The twitter-text shim
---------------------
`twitter-text-parser` 3.0.0 is the only Python package that passes the
twitter-text conformance cases (tests/test_counting.py runs them all), but

1. its emoji module does `import pkg_resources` only to read its bundled
   `emoji-test.txt`; setuptools >= 81 no longer ships `pkg_resources`. When
   that import fails, `_import_twitter_text` puts a stand-in module offering
   just `resource_string` (backed by `importlib.resources`) into
   `sys.modules` for the duration of the import, then removes it again so no
   other code mistakes it for the real thing;
2. its emoji data is from 2019, so a newer sequence such as 🧑‍⚕️ (health
   worker), ❤️‍🩹 or 🏳️‍⚧️ counts as its parts (5 or 7) instead of once (2).
   `x_weighted_length` finds emoji with the maintained `emoji` package and
   replaces each multi-code-point sequence that twitter-text does not know
   by a single emoji that it does know; X counts any emoji as 2, so the
   weighted length is then what X computes.
"""

from __future__ import annotations

import importlib
import importlib.resources
import sys
import types
import unicodedata
from functools import lru_cache
from typing import Any, Final

import emoji
import regex

from campaign.models import Platform

# Caption limits, in each platform's own unit (see `caption_length`).
LIMITS: Final[dict[Platform, int]] = {
    "x": 280,  # weighted (twitter-text config v3)
    "bluesky": 300,  # grapheme clusters; and BLUESKY_MAX_BYTES UTF-8 bytes
    "mastodon": 500,  # default; instances differ (settings.platforms.mastodon.char_limit)
    "instagram": 2200,
    "linkedin": 3000,  # attributed to LinkedIn Help; not in the API docs
    "facebook": 63206,  # commonly cited; not in Meta's docs
}
BLUESKY_MAX_BYTES: Final = 3000  # app.bsky.feed.post text maxLength
URL_LENGTH: Final = 23  # X and Mastodon count every URL as this many characters

# Alt text limits in characters (platform-apis.md §0, §1.6, §3.4, §4.3, §5.3, §6.3).
ALT_TEXT_LIMITS: Final[dict[Platform, int]] = {
    "x": 1000,
    "mastodon": 1500,  # default description_limit; settings.platforms.mastodon.alt_text_limit
    "instagram": 1000,  # as quoted, unconfirmed in Meta's primary docs
    "linkedin": 4086,
    # Neither Meta nor the atproto lexicon documents a limit: Facebook gets X's and
    # Instagram's 1000 to be safe; Bluesky's app allows 2000 (the lexicon has none).
    "facebook": 1000,
    "bluesky": 2000,
}


class _PkgResourcesStandIn(types.ModuleType):
    """The one `pkg_resources` function twitter-text's emoji module calls."""

    @staticmethod
    def resource_string(module_name: str, name: str) -> bytes:
        # Like pkg_resources: `name` is relative to the folder of the module (or package).
        module = sys.modules[module_name]
        is_package = hasattr(module, "__path__")
        folder = module.__name__ if is_package else module.__name__.rpartition(".")[0]
        return importlib.resources.files(folder).joinpath(name).read_bytes()


def _import_twitter_text() -> Any:
    """Import twitter_text whether or not setuptools still ships pkg_resources."""
    try:
        return importlib.import_module("twitter_text")
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
    for name in [m for m in sys.modules if m == "twitter_text" or m.startswith("twitter_text.")]:
        del sys.modules[name]  # drop the half-imported package before trying again
    sys.modules["pkg_resources"] = _PkgResourcesStandIn("pkg_resources")
    try:
        return importlib.import_module("twitter_text")
    finally:
        del sys.modules["pkg_resources"]


_twitter_text = _import_twitter_text()
# Any emoji that twitter-text's 2019 data knows as one code point: it weighs what
# every emoji weighs on X (2), so it can stand in for a sequence it does not know.
_KNOWN_EMOJI: Final = "\U0001f600"
_GRAPHEME = regex.compile(r"\X")
# Every multi-code-point emoji sequence holds a code point from U+200D up (a ZWJ, a
# variation selector, a keycap, a skin tone, a regional indicator or a tag).
_SEQUENCE_PART = regex.compile("[\u200d-\U0010ffff]")
_NON_BREAKING = "\u00a0\u2007\u202f"


@lru_cache(maxsize=4096)
def _x_knows(sequence: str) -> bool:
    return int(_twitter_text.parse_tweet(sequence).weightedLength) <= 2


def _with_known_emoji(text: str) -> str:
    """Replace emoji sequences newer than twitter-text's data by one emoji it knows."""
    if not _SEQUENCE_PART.search(text):
        return text  # no ZWJ, variation selector, skin tone, flag or keycap: nothing to do
    found = emoji.emoji_list(text)
    if not found:
        return text
    parts: list[str] = []
    last = 0
    for match in found:
        start, end = int(match["match_start"]), int(match["match_end"])
        sequence = text[start:end]
        if end - start > 1 and not _x_knows(sequence):
            parts.append(text[last:start])
            parts.append(_KNOWN_EMOJI)
            last = end
    parts.append(text[last:])
    return "".join(parts)


def parse_x(text: str) -> Any:
    """twitter-text's full parse result (weightedLength, valid, ranges) for `text`."""
    return _twitter_text.parse_tweet(_with_known_emoji(text))


def x_weighted_length(text: str) -> int:
    """X's weighted length (config v3): URLs 23, most non-Latin characters and emoji 2."""
    return int(parse_x(text).weightedLength)


def x_weighted_length_at_least(text: str) -> int:
    """A quick lower bound of `x_weighted_length`, to reject long texts without parsing.

    After NFC, every grapheme cluster outside a URL weighs at least 1 (emoji
    and most non-Latin characters 2) and every URL 23.
    """
    text = unicodedata.normalize("NFC", text)
    found = urls(text)
    if not found:
        return graphemes(text)
    parts, last = [], 0
    for start, end, _url in found:
        parts.append(text[last:start])
        last = end
    parts.append(text[last:])
    return sum(graphemes(part) for part in parts) + URL_LENGTH * len(found)


def x_valid(text: str) -> bool:
    """What X says of `text`: not empty, within 280 and without invalid characters."""
    return bool(parse_x(text).valid)


def graphemes(text: str) -> int:
    """Extended grapheme clusters, as Bluesky counts `maxGraphemes`."""
    return len(_GRAPHEME.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def urls(text: str) -> list[tuple[int, int, str]]:
    """The URLs in `text` as (start, end, url), with str (code point) indices.

    Found by twitter-text's extractor, the same rules X and Mastodon use; only
    URLs with a scheme count, as on Mastodon.
    """
    return [
        (int(found["indices"][0]), int(found["indices"][1]), str(found["url"]))
        for found in _twitter_text.extract_urls_with_indices(text, False)
    ]


def mastodon_length(text: str) -> int:
    """Mastodon's count: every URL 23, the rest in code points.

    Mastodon counts grapheme clusters; code points are never fewer, so a
    caption that fits by this count fits on every Mastodon version.
    """
    length = len(text)
    for start, end, _url in urls(text):
        length += URL_LENGTH - (end - start)
    return length


def caption_length(text: str, platform: Platform) -> int:
    """`text`'s length as `platform` counts it against its caption limit."""
    if platform == "x":
        return x_weighted_length(text)
    if platform == "bluesky":
        return graphemes(text)
    if platform == "mastodon":
        return mastodon_length(text)
    return len(text)


def fits(text: str, platform: Platform, limit: int | None = None) -> bool:
    """Whether `text` is within `platform`'s caption limit (and Bluesky's byte limit)."""
    limit = LIMITS[platform] if limit is None else limit
    if platform == "bluesky" and utf8_bytes(text) > BLUESKY_MAX_BYTES:
        return False
    if platform == "x" and x_weighted_length_at_least(text) > limit:
        return False  # far too long: known without twitter-text's slower full parse
    return caption_length(text, platform) <= limit


def is_breaking_space(char: str) -> bool:
    """A space where a line may break (not a no-break space, which binds two words)."""
    return char.isspace() and char not in _NON_BREAKING


__all__ = [
    "ALT_TEXT_LIMITS",
    "BLUESKY_MAX_BYTES",
    "LIMITS",
    "URL_LENGTH",
    "caption_length",
    "fits",
    "graphemes",
    "is_breaking_space",
    "mastodon_length",
    "parse_x",
    "urls",
    "utf8_bytes",
    "x_valid",
    "x_weighted_length",
    "x_weighted_length_at_least",
]
