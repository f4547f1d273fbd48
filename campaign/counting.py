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
   `emoji-test.txt`; setuptools >= 81 no longer ships `pkg_resources`, and
   importing the real one takes a tenth of a second. Unless some other code
   imported it already, `_import_twitter_text` puts a stand-in module offering
   just `resource_string` (backed by `importlib.resources`) into
   `sys.modules` for the duration of the import, then removes it again so no
   other code mistakes it for the real thing. The same module compiles one
   regular expression of every emoji at import (0.13 s of a new process's first
   count): `_LazyEmojiPattern` takes its place and builds it from the module's
   own code when a text that may hold an emoji first needs it. A text without
   a URL and without an emoji of several code points is counted by its code
   points' weights, as twitter-text counts it (tests/test_counting.py holds the
   two equal), without the pattern;
2. its emoji data is from 2019, so a newer sequence such as 🧑‍⚕️ (health
   worker), ❤️‍🩹 or 🏳️‍⚧️ counts as its parts (5 or 7) instead of once (2).
   `x_weighted_length` finds each grapheme cluster that twitter-text does
   not weigh as one emoji, looks its sequences up in the maintained `emoji`
   package, and replaces each multi-code-point sequence that twitter-text
   does not know by a single emoji that it does know; X counts any emoji as
   2, so the weighted length is then what X computes.
3. its URL extractor is one large regular expression that backtracks
   catastrophically on some "words" (`a.a.a.…`, `a\u200b` repeated, long
   runs of emoji after a full stop): 50 s for 4,000 characters. A story file
   must never stop the week, so this module counts word by word (a run of
   characters without white space; no URL, emoji or hashtag spans white
   space, so the sum is what twitter-text gives for the whole text, and the
   conformance cases hold it to that) and hands twitter-text only the words
   that can hold a link: with a '.', at most `URL_MAX_WORD` characters, and no
   part between punctuation longer than a domain can be (253 characters) or
   with more than `URL_MAX_LABELS` dots (a real domain has a handful). Every
   other word is counted as text. Counting is
   then linear in the text; a longer "link" is counted in full, which can
   only make campaign shorten a caption that X would have taken.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.resources
import importlib.util
import re
import sys
import threading
import types
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any, Final, cast

from campaign.models import Platform
from campaign.platforms import SPECS

# Caption and alt-text limits per platform, in each platform's own unit (`caption_length`);
# the facts themselves are in `platforms.py`.
LIMITS: Final[dict[Platform, int]] = {p: f.caption_limit for p, f in SPECS.items()}
ALT_TEXT_LIMITS: Final[dict[Platform, int]] = {p: f.alt_text_limit for p, f in SPECS.items()}
X_WEIGHTED_LIMIT: Final = 280  # twitter-text config v3, maxWeightedTweetLength
URL_LENGTH: Final = 23  # X and Mastodon count every URL as this many characters


class _PkgResourcesStandIn(types.ModuleType):
    """The one `pkg_resources` function twitter-text's emoji module calls."""

    @staticmethod
    def resource_string(module_name: str, name: str) -> bytes:
        # Like pkg_resources: `name` is relative to the folder of the module (or package).
        module = sys.modules[module_name]
        is_package = hasattr(module, "__path__")
        folder = module.__name__ if is_package else module.__name__.rpartition(".")[0]
        return importlib.resources.files(folder).joinpath(name).read_bytes()


_EMOJI_MODULE: Final = "twitter_text.regexp.emoji"
# Every emoji of twitter-text's list holds a code point from here on (tests/test_counting.py
# tries them all): a text without one holds no emoji, and its pattern is not needed.
_FIRST_EMOJI_CODE_POINT: Final = "\u00a9"


class _LazyEmojiPattern:
    """twitter-text's emoji pattern, built when a text first needs it.

    Its module compiles one regular expression of every emoji sequence at import: 0.13 s,
    the largest part of a new process's first count, spent even when no caption holds an
    emoji. `_import_twitter_text` puts a module holding this object in its place, so
    twitter-text's `extract_emojis` calls it; a text with a code point that may be part of
    an emoji builds the real pattern (the module's own code, run once) and is matched by
    it, any other text has no emoji and returns none at once."""

    def __init__(self) -> None:
        self._compiled: Any = None
        self._lock = threading.Lock()

    def finditer(self, text: str) -> Iterator[Any]:
        if not text or max(text) < _FIRST_EMOJI_CODE_POINT:
            return iter(())
        return cast("Iterator[Any]", self.compiled().finditer(text))

    def compiled(self) -> Any:
        with self._lock:
            if self._compiled is None:
                self._compiled = twitter_text_emoji_module().emoji
            return self._compiled

    def __getattr__(self, name: str) -> Any:  # search, match, pattern ...
        return getattr(self.compiled(), name)


def twitter_text_emoji_module() -> types.ModuleType:
    """twitter-text's own emoji module, run afresh (its list `emoji_list`, its `emoji`)."""
    _twitter_text()
    folders = sys.modules["twitter_text.regexp"].__path__
    spec = importlib.machinery.PathFinder.find_spec(_EMOJI_MODULE, folders)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {_EMOJI_MODULE!r}", name=_EMOJI_MODULE)
    module = importlib.util.module_from_spec(spec)
    stand_in = sys.modules.get(_EMOJI_MODULE)
    sys.modules[_EMOJI_MODULE] = module  # as an import does: its code finds its own files
    try:
        with _pkg_resources_stand_in():
            spec.loader.exec_module(module)
    finally:
        if stand_in is not None:
            sys.modules[_EMOJI_MODULE] = stand_in
        else:
            del sys.modules[_EMOJI_MODULE]
    return module


@contextlib.contextmanager
def _pkg_resources_stand_in() -> Iterator[None]:
    """`_PkgResourcesStandIn` as `pkg_resources` while twitter-text imports, unless one
    is imported already; the real one is never imported (it takes a tenth of a second)."""
    if "pkg_resources" in sys.modules:
        yield
        return
    sys.modules["pkg_resources"] = _PkgResourcesStandIn("pkg_resources")
    try:
        yield
    finally:
        del sys.modules["pkg_resources"]


def _import_twitter_text() -> Any:
    """Import twitter_text with its emoji pattern left to be built when first needed
    (`_LazyEmojiPattern`), whether or not setuptools still ships pkg_resources."""
    if _EMOJI_MODULE not in sys.modules:
        stand_in = types.ModuleType(_EMOJI_MODULE)
        stand_in.emoji = _LazyEmojiPattern()  # type: ignore[attr-defined]
        sys.modules[_EMOJI_MODULE] = stand_in
    with _pkg_resources_stand_in():
        return importlib.import_module("twitter_text")


@cache
def _twitter_text() -> Any:
    """twitter_text, imported on the first count (its regular expressions take a tenth of
    a second to build, and most commands never count a caption)."""
    return _import_twitter_text()


def load() -> None:
    """Load twitter-text now, its emoji pattern too, rather than at the first count that
    needs them (a scheduler, before its first post is due: `publish.warm_up`)."""
    _twitter_text()
    pattern = getattr(sys.modules.get(_EMOJI_MODULE), "emoji", None)
    if isinstance(pattern, _LazyEmojiPattern):
        pattern.compiled()


def _has_invalid_characters(text: str) -> bool:
    _twitter_text()
    module = importlib.import_module("twitter_text.has_invalid_characters")
    return bool(module.has_invalid_characters(text))


class LazyPattern:
    """A pattern of the `regex` module, compiled when first used: importing `regex` takes
    a few milliseconds that a week whose checks and cards are all kept never needs."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: Any = None

    def __getattr__(self, name: str) -> Any:  # finditer, search, findall, split, sub ...
        if self._compiled is None:
            import regex

            self._compiled = regex.compile(self._source)
        return getattr(self._compiled, name)


# Any emoji that twitter-text's 2019 data knows as one code point: it weighs what
# every emoji weighs on X (2), so it can stand in for a sequence it does not know.
_KNOWN_EMOJI: Final = "\U0001f600"
_GRAPHEME = LazyPattern(r"\X")
# What joins or changes emoji into a sequence of several code points: the zero-width
# joiner, the variation selectors, the keycap, the skin tones, the regional indicators
# of flags and the tags of subdivision flags. Every multi-code-point emoji holds one.
_SEQUENCE_PART = LazyPattern("[\u200d\ufe0e\ufe0f\u20e3\U0001f1e6-\U0001f1ff"
                             "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")
# The longest emoji sequence has 10 code points (a kiss with two skin tones); a longer
# grapheme cluster is never one emoji, and is not handed to twitter-text whole.
_LONGEST_SEQUENCE: Final = 10
_NON_BREAKING = "\u00a0\u2007\u202f"


@lru_cache(maxsize=4096)
def _x_knows(sequence: str) -> bool:
    return int(_twitter_text().parse_tweet(sequence).weightedLength) <= 2


def _with_known_emoji(text: str) -> str:
    """Replace emoji sequences newer than twitter-text's data by one emoji it knows.

    An emoji sequence is always one grapheme cluster. Only a cluster that holds a
    sequence part and that twitter-text does not weigh as one emoji is looked up in the
    `emoji` package's list, so its data (about 5 MiB) is loaded only for a text that
    has such a sequence."""
    if not _SEQUENCE_PART.search(text):
        return text  # no ZWJ, variation selector, skin tone, flag, keycap or tag
    parts: list[str] = []
    last = 0
    for match in _GRAPHEME.finditer(text):
        cluster = match.group()
        if len(cluster) == 1 or not _SEQUENCE_PART.search(cluster):
            continue
        if len(cluster) <= _LONGEST_SEQUENCE and _x_knows(cluster):
            continue
        known = _newer_sequences_replaced(cluster)
        if known != cluster:
            parts.append(text[last:match.start()])
            parts.append(known)
            last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _newer_sequences_replaced(cluster: str) -> str:
    """`cluster` with each emoji sequence of the `emoji` package's list that twitter-text
    does not know replaced by `_KNOWN_EMOJI`."""
    import emoji  # its data takes a moment and memory to load: only when a cluster needs it

    parts: list[str] = []
    last = 0
    for found in emoji.emoji_list(cluster):
        start, end = int(found["match_start"]), int(found["match_end"])
        if end - start > 1 and not _x_knows(cluster[start:end]):
            parts.append(cluster[last:start])
            parts.append(_KNOWN_EMOJI)
            last = end
    parts.append(cluster[last:])
    return "".join(parts)


def prepare_for(texts: Iterable[str]) -> None:
    """Load now what counting `texts` will need (the `emoji` data when one of them has
    a sequence newer than twitter-text's): a scheduler, when it plans, so that the
    first post with such an emoji does not spend its moment loading it."""
    for text in texts:
        _with_known_emoji(unicodedata.normalize("NFC", text))


def parse_x(text: str) -> Any:
    """twitter-text's full parse result (weightedLength, valid, ranges) for `text`.

    For the conformance tests: on hostile text this is as slow as twitter-text
    itself; campaign counts with `x_weighted_length`, which is linear.
    """
    return _twitter_text().parse_tweet(_with_known_emoji(text))


# A word of more than URL_MAX_WORD characters, or with a part between two punctuation
# marks longer than URL_MAX_RUN or with more than URL_MAX_LABELS dots, is never taken
# for a link (see the module docstring, point 3).
URL_MAX_WORD: Final = 1000
URL_MAX_RUN: Final = 253  # the longest a domain name can be
URL_MAX_LABELS: Final = 10
_WORD = LazyPattern(r"\S+")
# Where a domain-like run ends: white space or ASCII punctuation other than . - _
_RUN_END = LazyPattern(r"[\s!-,/:-@\[-\^`{-~]")
_LINE_ENDS = LazyPattern(r"\r\n|\r")


def _may_hold_url(word: str, protocol: bool = False) -> bool:
    """Whether twitter-text could find a URL in `word`, cheaply and without its regex."""
    if "." not in word or len(word) > URL_MAX_WORD:
        return False
    if protocol and "://" not in word:
        return False
    return all(len(run) <= URL_MAX_RUN and run.count(".") <= URL_MAX_LABELS
               for run in _RUN_END.split(word))


@lru_cache(maxsize=8192)
def _x_word(word: str) -> int:
    """X's weight of one word that may hold a URL, in twitter-text's units (x100)."""
    return int(_twitter_text().parse_tweet(_with_known_emoji(word)).weightedLength)


def _x_normal(text: str) -> str:
    return str(_LINE_ENDS.sub("\n", unicodedata.normalize("NFC", text)))


def x_weighted_length(text: str) -> int:
    """X's weighted length (config v3): URLs 23, most non-Latin characters and emoji 2.

    Linear in the text: only words that may hold a URL go to twitter-text one
    by one (cached); everything else goes to it in one piece without a '.',
    so its URL extractor never runs on it.
    """
    text = _x_normal(text)
    plain: list[str] = []
    total = 0
    last = 0
    for match in _WORD.finditer(text):
        word = match.group()
        if "." not in word:
            continue
        start, end = match.span()
        plain.append(text[last:start])
        if _may_hold_url(word):
            total += _x_word(word)
        else:
            plain.append(word.replace(".", ","))  # the same weight (1), and no URL
        last = end
    plain.append(text[last:])
    rest = unicodedata.normalize("NFC", "".join(plain))
    if rest and not _SEQUENCE_PART.search(rest):
        # No URL (no '.') and no emoji of several code points: exactly its code points.
        total += _x_code_point_weights(rest)
    elif rest:
        total += int(_twitter_text().parse_tweet(_with_known_emoji(rest)).weightedLength)
    return total


def x_weighted_length_at_least(text: str) -> int:
    """A quick lower bound of `x_weighted_length`, to reject long texts without parsing.

    After NFC, every grapheme cluster weighs at least 1 (emoji and most
    non-Latin characters 2), and a word that may hold a URL at least 23 or its
    length, whichever is less.
    """
    text = _x_normal(text)
    total = graphemes(text)
    for match in _WORD.finditer(text):
        word = match.group()
        if len(word) > URL_LENGTH and _may_hold_url(word):
            total -= max(graphemes(word) - URL_LENGTH, 0)
    return total


# A URL holds a '.' before its top-level domain: one followed by a letter or digit.
_DOT_AND_MORE = re.compile(r"\.(?=\w)")
# twitter-text config v3 weighs a code point in these ranges 1 and any other 2; an emoji,
# however many code points, weighs 2. Of the "light" code points, only these two are an
# emoji on their own (tests/test_counting.py tries every one of them).
_X_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]|[\u00a9\u00ae]")


def _x_code_point_weights(text: str) -> int:
    """X's weight of `text` counted code point by code point: 1 or 2 by twitter-text's
    ranges, 2 for an emoji of one code point. Exact for a text without URLs and without
    emoji of several code points; never below X's count otherwise."""
    return len(text) + len(_X_HEAVY.findall(text))


def x_weighted_length_at_most(text: str) -> int:
    """A quick upper bound of `x_weighted_length`, to accept texts without parsing: every
    code point weighs what twitter-text's ranges give it, 2 if it may be an emoji on its
    own (an emoji of several code points weighs 2, no more than its parts); and a word that
    may hold URLs adds 23 for each '.' in it followed by a letter or digit, as each URL
    holds one before its top-level domain."""
    text = _x_normal(text)
    return _x_code_point_weights(text) + URL_LENGTH * sum(
        len(_DOT_AND_MORE.findall(word)) for match in _WORD.finditer(text)
        if _may_hold_url(word := match.group()))


def x_valid(text: str) -> bool:
    """What X says of `text`: not empty, within 280 and without invalid characters."""
    limit = X_WEIGHTED_LIMIT
    if x_weighted_length_at_least(text) > limit:
        return False
    if _has_invalid_characters(_x_normal(text)):
        return False
    return 0 < x_weighted_length(text) <= limit


def graphemes(text: str) -> int:
    """Extended grapheme clusters, as Bluesky counts `maxGraphemes`."""
    return len(_GRAPHEME.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def urls(text: str) -> list[tuple[int, int, str]]:
    """The URLs in `text` as (start, end, url), with str (code point) indices.

    Found by twitter-text's extractor, the same rules X and Mastodon use; only
    URLs with a scheme count, as on Mastodon. Word by word, and only in words
    that may hold one (linear in the text, see the module docstring).
    """
    found: list[tuple[int, int, str]] = []
    if "://" not in text:
        return found
    for match in _WORD.finditer(text):
        word = match.group()
        if not _may_hold_url(word, protocol=True):
            continue
        offset = match.start()
        for entity in _word_urls(word):
            found.append((entity[0] + offset, entity[1] + offset, entity[2]))
    return found


@lru_cache(maxsize=4096)
def _word_urls(word: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (int(entity["indices"][0]), int(entity["indices"][1]), str(entity["url"]))
        for entity in _twitter_text().extract_urls_with_indices(word, False)
    )


def length_urls_as_23(text: str) -> int:
    """Mastodon's count: every URL 23, the rest in code points.

    Mastodon counts grapheme clusters; code points are never fewer, so a
    caption that fits by this count fits on every Mastodon version.
    """
    length = len(text)
    for start, end, _url in urls(text):
        length += URL_LENGTH - (end - start)
    return length


def length_urls_as_23_at_least(text: str) -> int:
    """A quick lower bound of `length_urls_as_23`: a word that may hold a URL counts at most 23."""
    length = len(text)
    if "://" not in text:
        return length
    for match in _WORD.finditer(text):
        word = match.group()
        if len(word) > URL_LENGTH and _may_hold_url(word, protocol=True):
            length -= len(word) - URL_LENGTH
    return length


def caption_length(text: str, platform: Platform) -> int:
    """`text`'s length as `platform` counts it against its caption limit."""
    counted = SPECS[platform].counting
    if counted == "x-weighted":
        return x_weighted_length(text)
    if counted == "graphemes":
        return graphemes(text)
    if counted == "urls-as-23":
        return length_urls_as_23(text)
    return len(text)


def caption_length_at_least(text: str, platform: Platform) -> int:
    """A lower bound of `caption_length`, linear and cheap (exact but where URLs count 23)."""
    counted = SPECS[platform].counting
    if counted == "x-weighted":
        return x_weighted_length_at_least(text)
    if counted == "urls-as-23":
        return length_urls_as_23_at_least(text)
    return caption_length(text, platform)


def caption_length_at_most(text: str, platform: Platform) -> int:
    """An upper bound of `caption_length`, linear and cheap: a text within it fits without
    the exact count (`fits`)."""
    counted = SPECS[platform].counting
    if counted == "x-weighted":
        return x_weighted_length_at_most(text)
    if counted == "urls-as-23":  # each URL that counts holds a "://"
        if "://" not in text:
            return len(text)
        return len(text) + URL_LENGTH * sum(
            str(word).count("://") for match in _WORD.finditer(text)
            if _may_hold_url(word := match.group(), protocol=True))
    return caption_length(text, platform)


def counts_urls_as_23(platform: Platform) -> bool:
    """Whether the platform counts a URL as 23 characters (so a long text needs URL finding)."""
    return SPECS[platform].counting in ("x-weighted", "urls-as-23")


def fits(text: str, platform: Platform, limit: int | None = None) -> bool:
    """Whether `text` is within `platform`'s caption limit (and its byte limit, if any)."""
    facts = SPECS[platform]
    limit = facts.caption_limit if limit is None else limit
    if facts.caption_byte_limit is not None and utf8_bytes(text) > facts.caption_byte_limit:
        return False
    if counts_urls_as_23(platform):
        if caption_length_at_least(text, platform) > limit:
            return False  # far too long: known without counting URLs
        if caption_length_at_most(text, platform) <= limit:
            return True  # short enough whatever its links and emoji weigh
    return caption_length(text, platform) <= limit


def is_breaking_space(char: str) -> bool:
    """A space where a line may break (not a no-break space, which binds two words)."""
    return char.isspace() and char not in _NON_BREAKING


__all__ = [
    "ALT_TEXT_LIMITS",
    "LIMITS",
    "URL_LENGTH",
    "caption_length",
    "caption_length_at_least",
    "caption_length_at_most",
    "counts_urls_as_23",
    "fits",
    "graphemes",
    "is_breaking_space",
    "length_urls_as_23",
    "length_urls_as_23_at_least",
    "parse_x",
    "urls",
    "utf8_bytes",
    "x_valid",
    "x_weighted_length",
    "x_weighted_length_at_least",
    "x_weighted_length_at_most",
]
