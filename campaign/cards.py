"""Cards: one branded image per story and card format (SPEC §5), drawn with Pillow.

    plan_card(story, fmt, project)   -> CardPlan   pure: fitted text, no pixels
    render_card(story, fmt, project) -> Card       draws, encodes, caches in build/cards/
    render_all(stories, project)     -> [Card]     every story, every format in use
    card_problems(story, project)    -> [Problem]  what `check` says about a story's cards
    theme_problems(project)          -> [Problem]  contrast and theme files, on campaign.toml

Text is fitted by measured width, never by counting characters: each text is
wrapped, long Dutch compounds are hyphenated with pyphen (without the diaeresis
the dictionary keeps: `pati-enten`), and the font size comes down step by step
to `theme.min_font_size`. Text that still does not fit is a `CardError` that
names the story and the field, never a card with text cut off or outside the
safe margins. Every character is looked up in the fonts' character maps:
Inter draws what it has, the colour emoji font (which only exists at 109 px and
is scaled) draws emoji, anything else is left out and reported as a warning,
so no character is ever drawn as an empty `.notdef` box.

Photos are health data about a person: orientation from EXIF is applied, the
photo is decoded at a reduced size where JPEG allows, cropped to fill (never
stretched) around `photo_focus`, converted to sRGB, and the card is written
from fresh pixels, so no EXIF, GPS, ICC profile or file name reaches a card.

A card is cached by a hash of everything it is drawn from (the story's card
fields, the photo's bytes, the theme and its files, the size limit and
`RENDERER_VERSION`): an unchanged story is not drawn again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import logging
import math
import os
import tempfile
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pyphen
from fontTools.ttLib import TTFont
from PIL import Image, ImageCms, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError, features

from campaign.captions import compose_alt_text
from campaign.config import CONFIG_FILE, Project, Settings, toml_line
from campaign.errors import CardError
from campaign.files import MAX_PHOTO_BYTES, FileRefused, read_bounded
from campaign.models import CARD_SIZES, Card, CardFormat, Platform, Problem, Story
from campaign.planner import story_platforms

log = logging.getLogger(__name__)

# Bump whenever a change here changes the pixels: every cached card is drawn again.
RENDERER_VERSION = "2"  # 2: crops keep the faces in the photo

# Largest card file each platform takes (SPEC §5, shared/platform-apis.md). LinkedIn
# publishes a pixel limit only; 10 MB is the conservative figure of its sibling, Facebook.
PLATFORM_BYTE_LIMITS: dict[Platform, int] = {
    "x": 5_000_000,
    "facebook": 10_000_000,
    "instagram": 8_000_000,
    "linkedin": 10_000_000,
    "mastodon": 16 * 1024 * 1024,
    "bluesky": 2_000_000,
}
PLATFORM_NAMES: dict[Platform, str] = {
    "x": "X", "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn",
    "mastodon": "Mastodon", "bluesky": "Bluesky",
}
MAX_PHOTO_PIXELS = 40_000_000
MIN_JPEG_QUALITY = 50
JPEG_QUALITY_STEP = 5
WCAG_AA = 4.5

_EMOJI_PPEM = 109  # the only size Noto Color Emoji's bitmaps load at
_REF_SIZE = 100  # words are measured once at this size; advances scale linearly
_WIDTH_SAFETY = 0.985  # wrap a little narrower than the box; the exact check follows
_PLAIN_CARD_GROWTH = 1.25  # without a photo, text may be set this much larger
_HYPHENATION_GAIN = 0.88  # hyphenate only if it lets text be set more than 12% larger
_DIAERESIS = {"ä": "a", "ë": "e", "ï": "i", "ö": "o", "ü": "u",
              "Ä": "A", "Ë": "E", "Ï": "I", "Ö": "O", "Ü": "U"}
_JOINERS = {0x200D}
_PRESENTATION = {0xFE0E, 0xFE0F}

Role = Literal["regular", "semibold", "bold"]
RunKind = Literal["text", "emoji"]


class CardTextError(CardError):
    """A text does not fit its card; `field` is the story's front-matter key (or campaign.name)."""

    def __init__(self, message: str, *, story_id: str, field: str) -> None:
        self.story_id = story_id
        self.field = field
        super().__init__(message)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Layout:
    """Where everything goes on one card format. All text and the logo stay inside `safe`."""

    format: CardFormat
    size: tuple[int, int]
    safe: Box
    photo: Box  # full bleed: a photo is a picture, not text
    text_with_photo: Box
    text_without_photo: Box
    footer: Box  # campaign name on the left, logo on the right
    footer_beside_photo: Box  # the same, narrowed to the text column next to a photo
    headline_size: int
    quote_size: int
    name_size: int
    footer_size: int

    def footer_for(self, has_photo: bool) -> Box:
        return self.footer_beside_photo if has_photo else self.footer


def layout_for(fmt: CardFormat, margin: int) -> Layout:
    """The geometry of a card format: portrait and square put the photo on top, landscape on the right."""
    width, height = CARD_SIZES[fmt]
    m = margin
    safe = Box(m, m, width - m, height - m)
    footer_height = {"portrait": 84, "square": 72, "landscape": 72}[fmt]
    gap = {"portrait": 44, "square": 32, "landscape": 40}[fmt]
    footer = Box(m, height - m - footer_height, width - m, height - m)
    if fmt == "landscape":
        photo = Box(width - 600, 0, width, height)
        text_with = Box(m, m, photo.x0 - 56, footer.y0 - gap)
        beside = Box(m, footer.y0, photo.x0 - 56, footer.y1)
        text_without = Box(m, m, width - m, footer.y0 - gap)
        sizes = (48, 72, 38, 26)
    else:
        photo_height = {"portrait": 560, "square": 400}[fmt]
        photo = Box(0, 0, width, photo_height)
        text_with = Box(m, photo_height + gap, width - m, footer.y0 - gap)
        beside = footer
        text_without = Box(m, m, width - m, footer.y0 - gap)
        sizes = (56, 80, 40, 28) if fmt == "portrait" else (46, 62, 34, 26)
    return Layout(fmt, (width, height), safe, photo, text_with, text_without, footer, beside,
                  *sizes)


# --------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class FontPaths:
    regular: Path
    semibold: Path
    bold: Path
    fallback: Path | None

    def of(self, role: Role) -> Path:
        return {"regular": self.regular, "semibold": self.semibold, "bold": self.bold}[role]


def font_paths(project: Project) -> FontPaths:
    theme = project.settings.theme
    paths = FontPaths(
        _resolved(project.root, theme.font_regular),
        _resolved(project.root, theme.font_semibold),
        _resolved(project.root, theme.font_bold),
        _resolved(project.root, theme.font_fallback) if theme.font_fallback else None,
    )
    for key, path in (("font_regular", paths.regular), ("font_semibold", paths.semibold),
                      ("font_bold", paths.bold), ("font_fallback", paths.fallback)):
        if path is not None and not path.is_file():
            raise CardError(f"{CONFIG_FILE}: theme.{key}: {path} not found: "
                            "point it at a font file in assets/fonts/")
    return paths


@lru_cache(maxsize=16)
def _cmap(path: Path) -> frozenset[int]:
    """The code points a font file has a glyph for (its best Unicode cmap)."""
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap())


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise CardError(f"{path.name}: cannot load this font ({exc}): use an OTF or TTF file") from None


def _emoji_scale(size: int) -> float:
    # Noto's bitmaps are 128 px tall at 109 ppem; scaled so an emoji is one em tall.
    return size / 128


@lru_cache(maxsize=512)
def _emoji_length(path: Path, text: str) -> float:
    return _font(path, _EMOJI_PPEM).getlength(text)


@lru_cache(maxsize=512)
def _emoji_bitmap(path: Path, text: str, size: int) -> Image.Image:
    """An emoji run drawn at 109 ppem in colour, scaled to `size`; baseline at `_emoji_top(size)`."""
    font = _font(path, _EMOJI_PPEM)
    ascent, descent = font.getmetrics()
    big = Image.new("RGBA", (math.ceil(font.getlength(text)) or 1, ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(big).text((0, 0), text, font=font, embedded_color=True)
    scale = _emoji_scale(size)
    return big.resize(
        (max(1, round(big.width * scale)), max(1, round(big.height * scale))),
        Image.Resampling.LANCZOS,
    )


def _emoji_top(size: int) -> int:
    """Distance from the baseline up to the top of an emoji bitmap."""
    return round(101 * _emoji_scale(size))  # Noto Color Emoji's ascent at 109 ppem


# --------------------------------------------------------------------------- characters


@dataclass(frozen=True)
class Run:
    """A piece of a line drawn with one font: Inter ("text") or the fallback ("emoji")."""

    text: str
    kind: RunKind


def _clusters(text: str) -> list[str]:
    """Split into user-perceived characters, enough for fonts: marks, selectors, ZWJ, flags."""
    clusters: list[str] = []
    join_next = False
    for ch in text:
        cp = ord(ch)
        attach = clusters and (
            join_next
            or unicodedata.combining(ch)
            or unicodedata.category(ch) in ("Mn", "Me")
            or 0xFE00 <= cp <= 0xFE0F
            or 0xE0100 <= cp <= 0xE01EF
            or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
            or 0xE0020 <= cp <= 0xE007F  # tag sequences (flags of regions)
            or cp in _JOINERS
            or (0x1F1E6 <= cp <= 0x1F1FF and len(clusters[-1]) == 1
                and 0x1F1E6 <= ord(clusters[-1]) <= 0x1F1FF)
        )
        if attach:
            clusters[-1] += ch
        else:
            clusters.append(ch)
        join_next = cp in _JOINERS
    return clusters


def segment(text: str, text_cmap: frozenset[int], emoji_cmap: frozenset[int]) -> tuple[list[Run], list[str]]:
    """Runs of text by the font that draws them, and the characters neither font has."""
    if text_cmap.issuperset(map(ord, text)) and "\ufe0f" not in text:
        return ([Run(text, "text")] if text else []), []  # plain text: the common case
    pieces: list[tuple[RunKind, list[str]]] = []
    dropped: list[str] = []

    def add(piece: str, kind: RunKind) -> None:
        if pieces and pieces[-1][0] == kind:
            pieces[-1][1].append(piece)
        else:
            pieces.append((kind, [piece]))

    for cluster in _clusters(text):
        points = [ord(c) for c in cluster]
        wants_emoji = 0xFE0F in points
        core = [p for p in points if p not in _PRESENTATION]
        in_text = all(p in text_cmap for p in core)
        in_emoji = bool(emoji_cmap) and all(p in emoji_cmap for p in core)
        if in_emoji and (wants_emoji or not in_text):
            add("".join(chr(p) for p in core), "emoji")  # Noto has no FE0F glyph; drop the selector
        elif in_text:
            add("".join(chr(p) for p in core), "text")
        elif core and core[0] in text_cmap:  # a mark or selector Inter lacks: keep the letter
            add(chr(core[0]), "text")
            dropped.extend(chr(p) for p in core[1:] if p not in text_cmap)
        else:
            dropped.append(cluster)
    return [Run("".join(parts), kind) for kind, parts in pieces], dropped


def smart_quotes(text: str) -> str:
    """Typewriter quotes to typographic ones: "x" -> “x”, 'x' -> ‘x’, zo'n -> zo’n."""
    out: list[str] = []
    for i, ch in enumerate(text):
        before = text[i - 1] if i else " "
        opening = before.isspace() or before in "([{-–—/"
        if ch == '"':
            out.append("“" if opening else "”")
        elif ch == "'":
            out.append("‘" if opening and i + 1 < len(text) and text[i + 1].isalnum()
                       and not text[i + 1 :].startswith(("s ", "t ", "n ")) else "’")
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- hyphenation


@lru_cache(maxsize=1)
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="nl_NL", left=2, right=3)


# Letters that link two parts of a Dutch compound: behandeling-s-plan, patiënt-en-zorg.
_LINKS = ("", "s", "en", "e")
_MIN_PART = 3


@lru_cache(maxsize=1)
def _compound_parts() -> frozenset[str]:
    text = resources.files("campaign").joinpath("data/nl-compound-parts.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=4096)
def compound_breaks(word: str) -> tuple[int, ...]:
    """Where `word` is made of known parts, as offsets: 'bijnierschorscarcinoom' -> (7, 13).

    The word must be made of parts from campaign/data/nl-compound-parts.txt from end to
    end (with the linking letters s, en, e between them); the split with the fewest
    parts wins. A word that is not such a compound has none.
    """
    parts = _compound_parts()
    lower = word.lower()
    size = len(lower)
    best: list[tuple[int, tuple[int, ...]] | None] = [None] * (size + 1)
    best[0] = (0, ())
    for start in range(size):
        here = best[start]
        if here is None:
            continue
        for end in range(start + _MIN_PART, size + 1):
            if lower[start:end] not in parts:
                continue
            for link in _LINKS:
                after = end + len(link)
                if after > size or lower[end:after] != link:
                    continue
                candidate = (here[0] + 1, here[1] + ((after,) if after < size else ()))
                current = best[after]
                if current is None or candidate[0] < current[0]:
                    best[after] = candidate
    found = best[size]
    return found[1] if found is not None and found[0] >= 2 else ()


def _breaks_of(part: str) -> tuple[list[int], list[int]]:
    """(compound boundaries, syllable breaks) of a word without hyphens, as offsets.

    Syllables are found in each compound part on its own, so that no syllable break
    crosses a boundary (`schors-carcinoom`, never `schor-scarcinoom`)."""
    lead = len(part) - len(part.lstrip(_PUNCTUATION))
    core = part.strip(_PUNCTUATION)
    boundaries = [lead + b for b in compound_breaks(core)]
    syllables: list[int] = []
    edges = [0, *compound_breaks(core), len(core)]
    for left, right in itertools.pairwise(edges):
        piece = core[left:right]
        for head, _tail in _dictionary().iterate(piece):
            if head:
                syllables.append(lead + left + len(head))
    return boundaries, [b for b in syllables if b not in boundaries]


_PUNCTUATION = ".,;:!?…”’\"')(“‘«»"


@lru_cache(maxsize=4096)
def hyphenations(word: str) -> tuple[tuple[str, str], ...]:
    """Every way to break `word` at a line end, best first: ("bijnier-", "schorscarcinoom").

    Dutch compounds break where their parts meet before anywhere else
    (`bijnier-schors-carcinoom`); then at syllables, longest first part first.
    Dutch drops the diaeresis at a break (`pati-enten`, `co-effici-ent`): the
    dictionary keeps it, so it is taken off the first letter of the second part.
    An existing hyphen is a break too, and is not doubled.
    """
    letters = word.strip(_PUNCTUATION)
    if len(letters) < 6:
        return ()
    boundaries: list[tuple[str, str]] = []
    syllables: list[tuple[str, str]] = []
    for i, ch in enumerate(word[:-1]):
        if ch in "-–" and i > 0:
            boundaries.append((word[: i + 1], word[i + 1 :]))
    offset = 0
    for part in word.split("-"):
        at_boundaries, at_syllables = _breaks_of(part)
        for cuts, into in ((at_boundaries, boundaries), (at_syllables, syllables)):
            for cut in cuts:
                head, tail = part[:cut], part[cut:]
                if len(head.strip(_PUNCTUATION)) < 2 or len(tail.strip(_PUNCTUATION)) < 3:
                    continue
                tail = _DIAERESIS.get(tail[0], tail[0]) + tail[1:]
                into.append((word[:offset] + head + "-", tail + word[offset + len(part):]))
        offset += len(part) + 1
    boundaries.sort(key=lambda o: len(o[0]), reverse=True)
    syllables.sort(key=lambda o: len(o[0]), reverse=True)
    return tuple(dict.fromkeys([*boundaries, *syllables]))


# --------------------------------------------------------------------------- measuring


class Measure:
    """Widths of strings in one font at any size, from one measurement at `_REF_SIZE`."""

    def __init__(self, path: Path, fallback: Path | None, cmap: frozenset[int], emoji: frozenset[int]):
        self.path = path
        self.fallback = fallback
        self.cmap = cmap
        self.emoji = emoji
        self._ref: dict[str, float] = {}
        self._runs: dict[str, tuple[Run, ...]] = {}

    def _bounded(self) -> None:
        if len(self._ref) + len(self._runs) > 100_000:  # a long-running scheduler stays small
            self._ref.clear()
            self._runs.clear()

    def runs(self, text: str) -> tuple[Run, ...]:
        runs = self._runs.get(text)
        if runs is None:
            self._bounded()
            runs = self._runs[text] = tuple(segment(text, self.cmap, self.emoji)[0])
        return runs

    def ref_width(self, text: str) -> float:
        width = self._ref.get(text)
        if width is None:
            self._bounded()
            width = 0.0
            for run in self.runs(text):
                if run.kind == "text":
                    width += _font(self.path, _REF_SIZE).getlength(run.text)
                elif self.fallback is not None:
                    width += _emoji_length(self.fallback, run.text) * _emoji_scale(_REF_SIZE)
            self._ref[text] = width
        return width

    def width(self, text: str, size: int) -> float:
        return self.ref_width(text) * size / _REF_SIZE


def wrap(text: str, width: float, size: int, measure: Measure, *, hyphenate: bool) -> list[str] | None:
    """Greedy wrap into lines no wider than `width`; None if a word cannot be placed."""
    lines: list[str] = []
    line = ""
    space = measure.width(" ", size)
    words = text.split()
    i = 0
    while i < len(words):
        word = words[i]
        candidate = f"{line} {word}" if line else word
        if measure.width(candidate, size) <= width:
            line = candidate
            i += 1
            continue
        # The word does not fit on this line: break it, or move it to a new line.
        room = width - (measure.width(line, size) + space if line else 0)
        split = None
        if hyphenate and len(word) >= 8:
            for head, tail in hyphenations(word):
                if measure.width(head, size) <= room and len(head) >= 4:
                    split = head, tail
                    break
        if split:
            lines.append(f"{line} {split[0]}" if line else split[0])
            words[i] = split[1]
            line = ""
        elif line:
            lines.append(line)
            line = ""
        else:
            return None  # a word wider than a whole line, and no break helps
    if line:
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Block:
    """A text to set: the story field it comes from, its font role, largest size and line cap."""

    field: str
    text: str
    role: Role
    max_size: int
    max_lines: int
    colour: str
    leading: float = 1.22


@dataclass(frozen=True)
class SetLine:
    text: str
    runs: tuple[Run, ...]
    x: int
    baseline: int


@dataclass(frozen=True)
class SetBlock:
    field: str
    role: Role
    size: int
    colour: str
    lines: tuple[SetLine, ...]


@dataclass(frozen=True)
class FitResult:
    blocks: tuple[SetBlock, ...]
    scale: float
    hyphenated: bool
    height: int  # from the box's top to the last line's descent


def _sizes(blocks: Sequence[Block], scale: float, min_size: int) -> list[int]:
    return [max(min_size, min(b.max_size, round(b.max_size * scale))) for b in blocks]


def _gap(size: int) -> int:
    return round(size * 0.55)


def _try_fit(
    blocks: Sequence[Block], box: Box, sizes: Sequence[int], measures: dict[Role, Measure],
    fonts: FontPaths, *, hyphenate: bool,
) -> tuple[tuple[SetBlock, ...], int] | None:
    """Set every block at the given sizes; None unless all fit the box (height returned too)."""
    wrapped: list[list[str]] = []
    for block, size in zip(blocks, sizes, strict=True):
        lines = wrap(block.text, box.width * _WIDTH_SAFETY, size, measures[block.role],
                     hyphenate=hyphenate)
        if lines is None or len(lines) > block.max_lines:
            return None
        wrapped.append(lines)
    # Heights first (cheap), then each line's exact ink width (dear) only if the height fits.
    y = box.y0
    baselines: list[list[int]] = []
    for index, (block, size, lines) in enumerate(zip(blocks, sizes, wrapped, strict=True)):
        ascent, descent = _font(fonts.of(block.role), size).getmetrics()
        if index:
            y += _gap(size)
        pitch = round(size * block.leading)
        baselines.append([y + ascent + i * pitch for i in range(len(lines))])
        y += ascent + (len(lines) - 1) * pitch + descent
    if y > box.y1:
        return None
    set_blocks: list[SetBlock] = []
    for block, size, lines, lines_y in zip(blocks, sizes, wrapped, baselines, strict=True):
        font = _font(fonts.of(block.role), size)
        set_lines = []
        for line, baseline in zip(lines, lines_y, strict=True):
            runs = measures[block.role].runs(line)
            x = _exact_x(runs, font, fonts, size, box)
            if x is None:
                return None
            set_lines.append(SetLine(line, runs, x, baseline))
        set_blocks.append(SetBlock(block.field, block.role, size, block.colour, tuple(set_lines)))
    return tuple(set_blocks), y - box.y0


def _exact_x(runs: Sequence[Run], font: ImageFont.FreeTypeFont, fonts: FontPaths, size: int,
             box: Box) -> int | None:
    """The x where a line starts so its ink stays in the box, measured exactly; None if too wide."""
    left, right, x = 0.0, 0.0, 0.0
    for i, run in enumerate(runs):
        if run.kind == "text":
            x0, _, x1, _ = font.getbbox(run.text, anchor="ls")
            if i == 0:
                left = min(0.0, x0)
            right = max(right, x + x1)
            if i < len(runs) - 1:
                x += font.getlength(run.text)
        else:
            assert fonts.fallback is not None
            w = _emoji_bitmap(fonts.fallback, run.text, size).width
            right = max(right, x + w)
            x += w
    start = box.x0 - left
    if start + right > box.x1:
        return None
    return math.ceil(start)


def fit_blocks(
    blocks: Sequence[Block], box: Box, fonts: FontPaths, min_size: int, *, story_id: str,
    story_file: str, fmt: CardFormat,
) -> FitResult:
    """The largest common scale at which every block fits `box`; hyphenate only when it pays.

    Sizes come down together (each block from its own largest size, none below
    `min_size`). A card without hyphens is preferred unless hyphenating lets
    the text be clearly larger (more than 12%).
    """
    measures = _measures(fonts)
    scales = [1 - 0.04 * k for k in range(26)]
    results: dict[bool, FitResult] = {}
    for hyphenate in (False, True):
        seen: set[tuple[int, ...]] = set()
        # Hyphens are only worth it above what plain text reaches by the margin below.
        floor = results[False].scale / _HYPHENATION_GAIN if results.get(False) else 0.0
        for scale in scales:
            if scale <= floor:
                break
            sizes = tuple(_sizes(blocks, scale, min_size))
            if sizes in seen:
                continue
            seen.add(sizes)
            fitted = _try_fit(blocks, box, sizes, measures, fonts, hyphenate=hyphenate)
            if fitted is not None:
                results[hyphenate] = FitResult(fitted[0], scale, hyphenate, fitted[1])
                break
        if not hyphenate and results.get(False) and results[False].scale == 1.0:
            break
    plain, hyphenated = results.get(False), results.get(True)
    if plain and (hyphenated is None or plain.scale >= hyphenated.scale * _HYPHENATION_GAIN):
        return plain
    if hyphenated:
        return hyphenated
    raise _does_not_fit(blocks, box, fonts, min_size, measures, story_id, story_file, fmt)


def _does_not_fit(
    blocks: Sequence[Block], box: Box, fonts: FontPaths, min_size: int,
    measures: dict[Role, Measure], story_id: str, story_file: str, fmt: CardFormat,
) -> CardTextError:
    """Name the field to shorten: the one over its own line cap, else the longest."""
    width = box.width * _WIDTH_SAFETY
    culprit = max(blocks, key=lambda b: measures[b.role].width(b.text, min_size))
    for block in blocks:
        lines = wrap(block.text, width, min_size, measures[block.role], hyphenate=True)
        if lines is None or len(lines) > block.max_lines:
            culprit = block
            break
    need = sum(
        measures[b.role].width(b.text, min_size) / width * min_size * b.leading for b in blocks
    )
    share = max(0.1, min(0.95, box.height / need)) if need else 0.9
    words = len(culprit.text.split())
    target = max(1, int(words * share) - 1)
    where = story_file if culprit.field != "campaign.name" else CONFIG_FILE
    return CardTextError(
        f"{where}: {culprit.field}: too long for the {fmt} card: it does not fit even at "
        f"{min_size} px; shorten it to about {target} words",
        story_id=story_id, field=culprit.field,
    )


def _measures(fonts: FontPaths) -> dict[Role, Measure]:
    return _measures_cached(fonts)


@lru_cache(maxsize=8)
def _measures_cached(fonts: FontPaths) -> dict[Role, Measure]:
    emoji = _cmap(fonts.fallback) if fonts.fallback else frozenset()
    return {
        role: Measure(fonts.of(role), fonts.fallback, _cmap(fonts.of(role)), emoji)
        for role in ("regular", "semibold", "bold")
    }


# --------------------------------------------------------------------------- card plan


@dataclass(frozen=True)
class CardPlan:
    """Everything about a card except its pixels: the text as set, and what was left out."""

    story_id: str
    format: CardFormat
    layout: Layout
    has_photo: bool
    blocks: tuple[SetBlock, ...]
    footer: tuple[SetBlock, ...]
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> characters


def name_line(story: Story) -> str:
    """`Marieke (47) · GIST`: who is speaking, as the card shows it."""
    line = story.name + (f" ({story.age})" if story.age is not None else "")
    return f"{line} · {story.diagnosis}" if story.diagnosis else line


def quoted(quote: str) -> str:
    text = smart_quotes(quote.strip())
    if text[:1] in "“‘„\"'«":
        return text
    return f"“{text}”"


def plan_card(story: Story, fmt: CardFormat, project: Project) -> CardPlan:
    """Fit the story's texts to the card format, or raise CardTextError naming the field."""
    theme = project.settings.theme
    fonts = font_paths(project)
    layout = layout_for(fmt, theme.margin)
    has_photo = story.photo is not None
    box = layout.text_with_photo if has_photo else layout.text_without_photo
    texts = {
        "title": smart_quotes(story.title),
        "quote": quoted(story.quote),
        "name": name_line(story),
    }
    measures = _measures(fonts)
    dropped: dict[str, tuple[str, ...]] = {}
    for key, text in texts.items():
        missing = segment(text, measures["bold"].cmap, measures["bold"].emoji)[1]
        if missing:
            dropped[key] = tuple(missing)
            texts[key] = _without(text, missing)
    grow = 1.0 if has_photo else _PLAIN_CARD_GROWTH  # without a photo the text has the card
    blocks = [
        Block("title", texts["title"], "bold", round(layout.headline_size * grow), 3, theme.accent,
              1.15),
        Block("quote", texts["quote"], "semibold", round(layout.quote_size * grow), 12, theme.text,
              1.2),
        Block("name", texts["name"], "regular", round(layout.name_size * grow), 2, theme.text, 1.25),
    ]
    fitted = fit_blocks(blocks, box, fonts, theme.min_font_size, story_id=story.id,
                        story_file=story.file, fmt=fmt)
    # Below a photo the text starts at the top; beside one or on a plain card, in the middle.
    middle = not has_photo or fmt == "landscape"
    set_blocks = _shifted(fitted.blocks, (box.height - fitted.height) // 2) if middle else fitted.blocks
    logo_width = _logo_width(project, layout)
    band = layout.footer_for(has_photo)
    footer_box = Box(band.x0, band.y0, band.x1 - (logo_width + 32 if logo_width else 0), band.y1)
    try:
        footer_blocks = _fit_footer(smart_quotes(project.settings.campaign.name), footer_box, fonts,
                                    min(theme.min_font_size, layout.footer_size),
                                    layout.footer_size, theme.text, fmt)
    except CardTextError as exc:
        raise CardTextError(str(exc), story_id=story.id, field=exc.field) from None
    return CardPlan(story.id, fmt, layout, has_photo, set_blocks, footer_blocks, dropped)


@lru_cache(maxsize=32)
def _fit_footer(name: str, box: Box, fonts: FontPaths, min_size: int, max_size: int, colour: str,
                fmt: CardFormat) -> tuple[SetBlock, ...]:
    """The campaign name in the footer: the same on every card, so fitted once."""
    footer = fit_blocks([Block("campaign.name", name, "semibold", max_size, 2, colour, 1.15)],
                        box, fonts, min_size, story_id="", story_file=CONFIG_FILE, fmt=fmt)
    return _align_bottom(footer.blocks, box, fonts)


def _without(text: str, missing: Iterable[str]) -> str:
    for cluster in set(missing):
        text = text.replace(cluster, "")
    return " ".join(text.split())


def _align_bottom(blocks: tuple[SetBlock, ...], box: Box, fonts: FontPaths) -> tuple[SetBlock, ...]:
    """Move the footer text down so its last baseline sits at the footer's visual centre line."""
    if not blocks or not blocks[-1].lines:
        return blocks
    last = blocks[-1]
    font = _font(fonts.of(last.role), last.size)
    _, descent = font.getmetrics()
    shift = box.y1 - (last.lines[-1].baseline + descent) - (box.height - _block_height(blocks, fonts)) // 2
    return _shifted(blocks, max(0, shift))


def _shifted(blocks: tuple[SetBlock, ...], dy: int) -> tuple[SetBlock, ...]:
    return tuple(
        SetBlock(b.field, b.role, b.size, b.colour,
                 tuple(SetLine(ln.text, ln.runs, ln.x, ln.baseline + dy) for ln in b.lines))
        for b in blocks
    )


def _block_height(blocks: Sequence[SetBlock], fonts: FontPaths) -> int:
    first, last = blocks[0], blocks[-1]
    ascent = _font(fonts.of(first.role), first.size).getmetrics()[0]
    descent = _font(fonts.of(last.role), last.size).getmetrics()[1]
    return (last.lines[-1].baseline + descent) - (first.lines[0].baseline - ascent)


# --------------------------------------------------------------------------- photos and logo


def load_photo(path: Path, size: tuple[int, int], focus: tuple[float, float] | None,
               *, story: str) -> Image.Image:
    """The photo, upright, in sRGB, cropped to fill `size` around `focus`; CardError if unusable."""
    data = _read_photo(path, story)
    return photo_from_bytes(data, size, focus, story=story, name=path.name)


def _read_photo(path: Path, story: str) -> bytes:
    """The photo's bytes: an ordinary file of at most MAX_PHOTO_BYTES (never a pipe or device)."""
    try:
        return read_bounded(path, MAX_PHOTO_BYTES, too_large="export it smaller")
    except FileRefused as exc:
        raise CardError(f"{story}: photo: {path.name} {exc}") from None


class _PhotoMemory:
    """The last few photos decoded and cropped in this process, by the sha256 of their bytes.

    A story's three formats share one decode (made large enough for every photo
    box), and a story whose text is edited keeps its cropped photo. Small and
    bounded: a campaign has a handful of photos, and the scheduler renders rarely.
    """

    def __init__(self, decoded: int = 3, cropped: int = 12) -> None:
        self._limits = (decoded, cropped)
        self.decoded: OrderedDict[str, Image.Image] = OrderedDict()
        self.cropped: OrderedDict[tuple[object, ...], Image.Image] = OrderedDict()
        self.found: dict[str, tuple[Face, ...]] = {}  # the faces in each photo

    @staticmethod
    def _remember(store: OrderedDict[Any, Image.Image], key: object, image: Image.Image,
                  limit: int) -> Image.Image:
        store[key] = image
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)
        return image

    def decode(self, digest: str, make: Callable[[], Image.Image]) -> Image.Image:
        if digest in self.decoded:
            self.decoded.move_to_end(digest)
            return self.decoded[digest]
        return self._remember(self.decoded, digest, make(), self._limits[0])

    def crop(self, key: tuple[object, ...], make: Callable[[], Image.Image]) -> Image.Image:
        if key in self.cropped:
            self.cropped.move_to_end(key)
            return self.cropped[key]
        return self._remember(self.cropped, key, make(), self._limits[1])

    def faces(self, digest: str, find: Callable[[], tuple[Face, ...]]) -> tuple[Face, ...]:
        if digest not in self.found:
            if len(self.found) >= self._limits[1]:
                self.found.pop(next(iter(self.found)))
            self.found[digest] = find()
        return self.found[digest]

    def clear(self) -> None:
        self.decoded.clear()
        self.cropped.clear()
        self.found.clear()


photo_memory = _PhotoMemory()
# Every format's photo box: one decode must be large enough for all of them.
_PHOTO_BOXES = [(b.width, b.height) for b in (layout_for(f, 0).photo for f in CARD_SIZES)]


def photo_from_bytes(data: bytes, size: tuple[int, int], focus: tuple[float, float] | None,
                     *, story: str, name: str) -> Image.Image:
    """`load_photo` from the photo's bytes, reusing this process's earlier decode of them."""
    digest = hashlib.sha256(data).hexdigest()
    upright = photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=name))
    return photo_memory.crop((digest, size, focus), lambda: crop_to_fill(upright, size, focus))


def _prepared_photo(path: Path, digest: str, size: tuple[int, int],
                    focus: tuple[float, float] | None, *, story: str) -> tuple[Image.Image, str]:
    """The cropped photo and the digest of the bytes it was made from; reads the file only
    when this process has not decoded those bytes yet. Without `focus`, the crop keeps the
    faces in the photo on the card."""
    if digest not in photo_memory.decoded:
        data = _read_photo(path, story)
        digest = hashlib.sha256(data).hexdigest()
        photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=path.name))
    upright = photo_memory.decode(digest, lambda: photo_memory.decoded[digest])
    if focus is None:
        faces = photo_memory.faces(digest, lambda: detect_faces(upright))
        focus = face_focus(faces, upright.size, size)[0]
    return photo_memory.crop((digest, size, focus),
                             lambda: crop_to_fill(upright, size, focus)), digest


def photo_faces(path: Path, *, story: str) -> tuple[tuple[int, int], tuple[Face, ...]]:
    """(the upright photo's size, its faces): for check's warnings."""
    data = _read_photo(path, story)
    digest = hashlib.sha256(data).hexdigest()
    upright = photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=path.name))
    return upright.size, photo_memory.faces(digest, lambda: detect_faces(upright))


def _decode_photo(data: bytes, *, story: str, name: str) -> Image.Image:
    """Decode upright and in sRGB, at the smallest JPEG scale that still covers every photo box."""
    fix = "use a JPEG or PNG photo of at most 40 megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data))
            pixels = source.width * source.height
            if pixels > MAX_PHOTO_PIXELS:
                raise CardError(f"{story}: photo: {name} is {source.width}x{source.height} "
                                f"({pixels / 1e6:.0f} megapixels), over the limit of 40: {fix}")
            sideways = source.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            scale = max(
                max((h if sideways else w) / source.width, (w if sideways else h) / source.height)
                for w, h in _PHOTO_BOXES
            )
            if source.format == "JPEG" and scale < 1:
                source.draft("RGB", (math.ceil(source.width * scale), math.ceil(source.height * scale)))
            source.load()
            upright = _to_srgb(ImageOps.exif_transpose(source), source.info.get("icc_profile"))
    except CardError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CardError(f"{story}: photo: {name} claims to be enormous (a decompression bomb?): "
                        f"{fix}") from None
    except UnidentifiedImageError:
        raise CardError(f"{story}: photo: {name} is not an image Pillow can read: {fix}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = "truncated (the file is incomplete)" if "truncated" in str(exc) else f"damaged ({exc})"
        raise CardError(f"{story}: photo: {name} is {reason}: save or export it again") from None
    return upright


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if icc:
        with contextlib.suppress(ImageCms.PyCMSError, OSError):
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGB" if image.mode not in ("RGBA", "LA", "PA") else "RGBA"
            converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=mode)
            if converted is not None:
                image = converted
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB") if image.mode != "RGB" else image


@lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def crop_box(image_size: tuple[int, int], size: tuple[int, int],
             focus: tuple[float, float] | None) -> tuple[float, float, float, float]:
    """The part of a photo of `image_size` that fills `size`: as large as the aspect ratio
    allows, around `focus` (0..1; the centre when None), never past the photo's edges."""
    image_w, image_h = image_size
    width, height = size
    scale = max(width / image_w, height / image_h)
    crop_w, crop_h = width / scale, height / scale
    fx, fy = focus if focus is not None else (0.5, 0.5)
    left = min(max(fx * image_w - crop_w / 2, 0), image_w - crop_w)
    top = min(max(fy * image_h - crop_h / 2, 0), image_h - crop_h)
    return left, top, left + crop_w, top + crop_h


def crop_to_fill(image: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None) -> Image.Image:
    """Scale so the photo covers `size`, keep its aspect ratio, crop around `focus` (0..1)."""
    box = crop_box(image.size, size, focus)
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


# --------------------------------------------------------------------------- faces

Face = tuple[float, float, float, float]  # x0, y0, x1, y1 as parts (0..1) of the photo
_FACE_SCAN = 1024  # faces are looked for in a copy at most this many pixels across


def detect_faces(image: Image.Image) -> tuple[Face, ...]:
    """The faces in a photo, found by OpenCV's Haar cascade that ships with the package
    (nothing is downloaded), as parts of the photo, with room for hair and chin."""
    import cv2  # imported here: the first import costs a fifth of a second
    import numpy

    scale = min(1.0, _FACE_SCAN / max(image.size))
    small = image.convert("L")
    if scale < 1:
        small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BOX)
    cascade = _cascade(str(cv2.data.haarcascades)  # type: ignore[attr-defined]
                       + "haarcascade_frontalface_default.xml")
    least = max(20, round(min(small.size) * 0.04))
    found = cascade.detectMultiScale(numpy.asarray(small), scaleFactor=1.1, minNeighbors=6,
                                     minSize=(least, least))
    faces: list[Face] = []
    for row in (found if len(found) else []):
        x, y, w, h = (float(v) for v in row)
        # The cascade finds eyes to mouth: a head reaches further up and a little down.
        x0, x1 = (x - 0.15 * w) / small.width, (x + 1.15 * w) / small.width
        y0, y1 = (y - 0.45 * h) / small.height, (y + 1.2 * h) / small.height
        faces.append((max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)))
    return tuple(sorted(faces))


@lru_cache(maxsize=2)
def _cascade(path: str) -> Any:
    import cv2

    return cv2.CascadeClassifier(path)


def face_focus(faces: Sequence[Face], image_size: tuple[int, int],
               size: tuple[int, int]) -> tuple[tuple[float, float] | None, bool]:
    """(the point to crop around so the faces stay on the card, whether they all do).

    With no faces: (None, True), the centre. When all faces do not fit in one crop,
    the largest is kept, and the answer says so (check then suggests photo_focus)."""
    if not faces:
        return None, True
    left, top, right, bottom = crop_box(image_size, size, None)
    crop_w, crop_h = (right - left) / image_size[0], (bottom - top) / image_size[1]
    x0, y0 = min(f[0] for f in faces), min(f[1] for f in faces)
    x1, y1 = max(f[2] for f in faces), max(f[3] for f in faces)
    fits = x1 - x0 <= crop_w + 1e-9 and y1 - y0 <= crop_h + 1e-9
    if not fits:
        x0, y0, x1, y1 = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
    return ((x0 + x1) / 2, (y0 + y1) / 2), fits


def faces_cut(faces: Sequence[Face], image_size: tuple[int, int], size: tuple[int, int],
              focus: tuple[float, float] | None) -> int:
    """How many faces a crop around `focus` cuts (any part of the face outside the card)."""
    left, top, right, bottom = crop_box(image_size, size, focus)
    w, h = image_size
    cut = 0
    for x0, y0, x1, y1 in faces:
        inner = (x0 + 0.1 * (x1 - x0), y0 + 0.25 * (y1 - y0), x1 - 0.1 * (x1 - x0), y1)
        if inner[0] * w < left - 1 or inner[2] * w > right + 1 or \
                inner[1] * h < top - 1 or inner[3] * h > bottom + 1:
            cut += 1
    return cut


@lru_cache(maxsize=8)
def _logo(path: Path, height: int, max_width: int) -> Image.Image:
    try:
        with Image.open(path) as source:
            logo = source.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        raise CardError(f"{CONFIG_FILE}: theme.logo: cannot read {path.name} ({exc}): "
                        "use a PNG with transparency") from None
    scale = min(height / logo.height, max_width / logo.width)
    return logo.resize((max(1, round(logo.width * scale)), max(1, round(logo.height * scale))),
                       Image.Resampling.LANCZOS)


def _logo_for(project: Project, layout: Layout) -> Image.Image | None:
    if not project.settings.theme.logo:
        return None
    return _logo(_resolved(project.root, project.settings.theme.logo), layout.footer.height,
                 layout.footer_beside_photo.width * 2 // 5)


def _logo_width(project: Project, layout: Layout) -> int:
    logo = _logo_for(project, layout)
    return logo.width if logo is not None else 0


# --------------------------------------------------------------------------- drawing


def draw_card(plan: CardPlan, project: Project, photo: Image.Image | None) -> Image.Image:
    """The card's pixels from its plan (and the photo already cropped to its box)."""
    theme = project.settings.theme
    fonts = font_paths(project)
    layout = plan.layout
    card = Image.new("RGB", layout.size, theme.background)
    draw = ImageDraw.Draw(card)
    if photo is not None:
        card.paste(photo, (layout.photo.x0, layout.photo.y0))
    for block in (*plan.blocks, *plan.footer):
        font = _font(fonts.of(block.role), block.size)
        for line in block.lines:
            x = float(line.x)
            for run in line.runs:
                if run.kind == "text":
                    draw.text((x, line.baseline), run.text, font=font, fill=block.colour, anchor="ls")
                    x += font.getlength(run.text)
                else:
                    assert fonts.fallback is not None
                    bitmap = _emoji_bitmap(fonts.fallback, run.text, block.size)
                    card.paste(bitmap, (round(x), line.baseline - _emoji_top(block.size)), bitmap)
                    x += bitmap.width
    logo = _logo_for(project, layout)
    if logo is not None:
        band = layout.footer_for(plan.has_photo)
        card.paste(logo, (band.x1 - logo.width, band.y0 + (band.height - logo.height) // 2), logo)
    return card


# --------------------------------------------------------------------------- encoding


def encode_jpeg(image: Image.Image, limit: int, quality: int, *, label: str = "card") -> tuple[bytes, int]:
    """JPEG bytes within `limit`, lowering the quality step by step; says so when it does.

    Chroma is kept at full resolution (4:4:4): coloured text on a coloured
    background blurs visibly with the usual 4:2:0.
    """
    start = quality
    while True:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling=0)
        data = buffer.getvalue()
        if len(data) <= limit:
            if quality != start:
                log.warning("%s was over %s bytes at JPEG quality %s: saved at quality %s (%s bytes)",
                            label, f"{limit:,}", start, quality, f"{len(data):,}")
            return data, quality
        if quality - JPEG_QUALITY_STEP < MIN_JPEG_QUALITY:
            raise CardError(f"{label} is {len(data):,} bytes even at JPEG quality {quality}, "
                            f"over the limit of {limit:,}: use a simpler photo")
        quality -= JPEG_QUALITY_STEP


# --------------------------------------------------------------------------- formats and cache


def story_formats(story: Story, settings: Settings) -> list[CardFormat]:
    """The card formats this story is posted in: those of its enabled, consented platforms."""
    formats = {_platform_format(p, settings) for p in story_platforms(story, settings)}
    return [f for f in CARD_SIZES if f in formats]


def _platform_format(platform: Platform, settings: Settings) -> CardFormat:
    platform_settings = settings.platform(platform)
    assert platform_settings is not None
    return platform_settings.card_format


def card_format(platform: Platform, settings: Settings) -> CardFormat:
    """The card format a platform gets (`card_format` in campaign.toml)."""
    return _platform_format(platform, settings)


def byte_limit(fmt: CardFormat, settings: Settings) -> int:
    """The smallest size limit of the enabled platforms that use this format."""
    limits = [PLATFORM_BYTE_LIMITS[p] for p in settings.enabled_platforms()
              if _platform_format(p, settings) == fmt]
    return min(limits) if limits else min(PLATFORM_BYTE_LIMITS.values())


def cards_dir(project: Project) -> Path:
    """The folder of every card: build/cards/."""
    return _resolved(project.root, project.settings.paths.build) / "cards"


def card_path(story_id: str, fmt: CardFormat, project: Project) -> Path:
    """Where the card of a story and format is written: build/cards/<story>-<format>.jpg."""
    return cards_dir(project) / f"{story_id}-{fmt}.jpg"


@lru_cache(maxsize=32)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(path: Path) -> str:
    stat = path.stat()
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


def _digest_or_none(path: Path) -> str | None:
    try:
        return _digest(path)
    except OSError:
        return None


@lru_cache(maxsize=64)
def _resolved(root: Path, relative: str) -> Path:
    """`project.path(relative)`, remembered: resolving is most of a cache hit's cost."""
    return (root / relative).resolve()


def cache_key(story: Story, fmt: CardFormat, project: Project, photo_digest: str | None) -> str:
    """A hash of everything the card is drawn from; equal keys mean equal cards."""
    settings = project.settings
    theme = settings.theme
    files = [theme.font_regular, theme.font_semibold, theme.font_bold, theme.font_fallback, theme.logo]
    material = {
        "renderer": RENDERER_VERSION,
        "format": fmt,
        "story": [story.title, story.quote, story.name, story.age, story.diagnosis,
                  list(story.photo_focus) if story.photo_focus else None],
        "photo": photo_digest,
        "theme": theme.model_dump(),
        "files": [_digest_or_none(_resolved(project.root, f)) if f else None for f in files],
        "campaign": settings.campaign.name,
        "limit": byte_limit(fmt, settings),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _cached(path: Path, key: str) -> dict[str, object] | None:
    try:
        manifest = json.loads(_manifest_path(path).read_text(encoding="utf-8"))
        if manifest.get("key") == key and path.stat().st_size == manifest.get("bytes"):
            return dict(manifest)
    except (OSError, ValueError):
        pass
    return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes it readable by its owner only; a card is read by the web server that
        # publishes the Instagram folder and by colleagues opening the preview: as any file.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- public API


def render_card(story: Story, fmt: CardFormat, project: Project, *, force: bool = False,
                alt_text: str | None = None) -> Card:
    """The story's card in one format, from the cache when nothing it is drawn from changed.

    `alt_text` is the card's description for screen readers; by default the
    caption composer's (`captions.compose_alt_text`) for the first platform
    that uses this format.
    """
    path = card_path(story.id, fmt, project)
    text = alt_text if alt_text is not None else default_alt_text(story, fmt, project)
    width, height = CARD_SIZES[fmt]
    digest = None
    if story.photo is not None:
        try:  # remembered per (file, mtime, size): a cached card does not read its photo again
            digest = _digest(story.photo)
        except OSError as exc:
            raise CardError(f"{story.file}: photo: cannot read {story.photo.name} "
                            f"({exc.strerror}): check the path") from None
    key = cache_key(story, fmt, project, digest)
    if not force and (manifest := _cached(path, key)) is not None:
        return Card(story.id, fmt, path, width, height, int(str(manifest["bytes"])), text,
                    cached=True)
    plan = plan_card(story, fmt, project)
    photo = None
    if story.photo is not None and digest is not None:
        box = plan.layout.photo
        photo, drawn = _prepared_photo(story.photo, digest, (box.width, box.height),
                                       story.photo_focus, story=story.file)
        if drawn != digest:  # the photo changed a moment ago: file the card under what was drawn
            key = cache_key(story, fmt, project, drawn)
    image = draw_card(plan, project, photo)
    data, quality = encode_jpeg(image, byte_limit(fmt, project.settings),
                                project.settings.theme.jpeg_quality,
                                label=f"{story.file} ({fmt} card)")
    _write_atomic(path, data)
    manifest = {"key": key, "bytes": len(data), "quality": quality, "story": story.id, "format": fmt,
                "dropped": {k: list(v) for k, v in plan.dropped.items()}}
    _write_atomic(_manifest_path(path), json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    return Card(story.id, fmt, path, width, height, len(data), text, cached=False)


def default_alt_text(story: Story, fmt: CardFormat, project: Project) -> str:
    """The caption composer's alt text that every platform using this format accepts (the shortest)."""
    settings = project.settings
    platforms = [p for p in settings.enabled_platforms() if _platform_format(p, settings) == fmt]
    texts = [compose_alt_text(story, p, settings) for p in platforms or ["bluesky"]]
    return min(texts, key=len)


def render_all(
    stories: Sequence[Story], project: Project, *, force: bool = False,
    progress: Callable[[Card], None] | None = None,
) -> list[Card]:
    """Every story's card in every format it is posted in; one bad story does not stop the rest.

    Raises CardError listing every story that could not be rendered, after the others are done.
    """
    cards: list[Card] = []
    failures: list[str] = []
    for story in stories:
        for fmt in story_formats(story, project.settings):
            try:
                card = render_card(story, fmt, project, force=force)
            except CardError as exc:
                failures.append(str(exc))
                continue
            cards.append(card)
            if progress is not None:
                progress(card)
    if failures:
        raise CardError("\n".join(dict.fromkeys(failures)))
    return cards


#: A quote of more words than this is hard to read on a card (a pull quote is one sentence).
QUOTE_WORDS = 30


def photo_problems(story: Story, project: Project) -> list[Problem]:
    """Warnings about a story's photo on its cards: too few pixels for the card area it fills,
    and faces the crop would cut off (with the photo_focus that keeps them)."""
    if story.photo is None:
        return []
    line = story.lines.get("photo")
    try:
        size, faces = photo_faces(story.photo, story=story.file)
    except CardError as exc:
        return [Problem(story.file, line, "photo", str(exc).split("photo: ", 1)[-1])]
    problems: list[Problem] = []
    boxes = {fmt: layout_for(fmt, 0).photo for fmt in story_formats(story, project.settings)}
    needed = max(((box.width, box.height) for box in boxes.values()),
                 key=lambda wh: max(wh[0] / size[0], wh[1] / size[1]))
    scale = max(needed[0] / size[0], needed[1] / size[1])
    if scale > 1.0:
        want = (math.ceil(size[0] * scale), math.ceil(size[1] * scale))
        problems.append(Problem(
            story.file, line, "photo",
            f"the photo is {size[0]}x{size[1]} pixels, fewer than the card area it fills "
            f"({needed[0]}x{needed[1]}): it is blown up {scale:.1f} times and will look blurred; "
            f"use a photo of at least {want[0]}x{want[1]} pixels", "warning"))
    for fmt, box in boxes.items():
        focus = story.photo_focus or face_focus(faces, size, (box.width, box.height))[0]
        cut = faces_cut(faces, size, (box.width, box.height), focus)
        if cut:
            keep = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
            suggestion = f"[{(keep[0] + keep[2]) / 2:.2f}, {(keep[1] + keep[3]) / 2:.2f}]"
            field = "photo_focus" if story.photo_focus else "photo"
            problems.append(Problem(
                story.file, story.lines.get(field, line), field,
                f"on the {fmt} card ({CARD_SIZES[fmt][0]}x{CARD_SIZES[fmt][1]}) the crop cuts "
                f"off {cut} of the {len(faces)} face(s) in the photo: set photo_focus to the "
                f"point to keep (x, y from 0 to 1), e.g. photo_focus: {suggestion}", "warning"))
    return problems


def card_problems(story: Story, project: Project) -> list[Problem]:
    """What `check` reports about a story's cards: text that does not fit, characters left
    out, a quote too long to read well, and the photo's problems (`photo_problems`)."""
    problems: list[Problem] = photo_problems(story, project)
    words = len(story.quote.split())
    seen: set[str] = set()
    for fmt in story_formats(story, project.settings):
        try:
            plan = plan_card(story, fmt, project)
        except CardTextError as exc:
            on_config = exc.field == "campaign.name"
            message = str(exc).split(f"{exc.field}: ", 1)[-1]
            problems.append(Problem(
                CONFIG_FILE if on_config else story.file,
                None if on_config else story.lines.get(exc.field),
                exc.field, message))
            continue
        except CardError as exc:
            problems.append(Problem(story.file, None, None, str(exc)))
            continue
        for key, chars in plan.dropped.items():
            if key in seen:
                continue
            seen.add(key)
            shown = " ".join(f"{c} (U+{ord(c[0]):04X})" for c in dict.fromkeys(chars))
            problems.append(Problem(
                story.file, story.lines.get(key), key,
                f"the card fonts have no glyph for {shown}: left out of the card; "
                "use another character or leave it out", "warning"))
    too_long = any(p.field == "quote" and p.severity == "error" for p in problems)
    if words > QUOTE_WORDS and not too_long:
        problems.append(Problem(
            story.file, story.lines.get("quote"), "quote",
            f"the quote has {words} words; on a card a quote reads well up to {QUOTE_WORDS}: keep "
            "its strongest sentence (the whole story goes in the caption)", "warning"))
    return problems


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #RRGGBB colours, from 1 to 21."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The sha256 of assets/logo-placeholder.png as this project ships it (make_placeholders.py).
PLACEHOLDER_LOGO_SHA256 = "f637b584bcc8a867e4592416d4e3d71f78b4a9cc047e37ed8ee6f43f83071e23"


def uses_placeholder_logo(project: Project) -> bool:
    """Whether the theme's logo is the placeholder that ships with the project."""
    logo = project.settings.theme.logo
    if not logo:
        return False
    path = project.path(logo)
    if "placeholder" in path.name.lower():
        return True
    return _digest_or_none(path) == PLACEHOLDER_LOGO_SHA256


def theme_problems(project: Project) -> list[Problem]:
    """Theme colours below WCAG AA contrast, and theme files that are missing, on campaign.toml."""
    theme = project.settings.theme
    try:
        toml_text = project.config_file.read_text(encoding="utf-8")
    except OSError:
        toml_text = ""

    def line(key: str) -> int | None:
        return toml_line(toml_text, ["theme", key]) if toml_text else None

    problems: list[Problem] = []
    for key, colour in (("text", theme.text), ("accent", theme.accent)):
        ratio = contrast_ratio(colour, theme.background)
        if ratio < WCAG_AA:
            problems.append(Problem(
                CONFIG_FILE, line(key), f"theme.{key}",
                f"{colour} on the background {theme.background} has a contrast of {ratio:.1f}:1, "
                f"below the {WCAG_AA}:1 that WCAG AA asks for text: make one of them lighter "
                "or darker"))
    for key in ("font_regular", "font_semibold", "font_bold", "font_fallback", "logo"):
        value = getattr(theme, key)
        if value and not project.path(value).is_file():
            problems.append(Problem(CONFIG_FILE, line(key), f"theme.{key}",
                                    f"{value} not found: put the file there or correct the path"))
    if uses_placeholder_logo(project):
        problems.append(Problem(
            CONFIG_FILE, line("logo"), "theme.logo",
            "the cards carry the placeholder logo (LOGO HIER / placeholder: vervang dit): put "
            "your organisation's logo (a PNG with transparency) in assets/ and point theme.logo "
            "at it before the real week", "warning"))
    if not features.check("raqm"):
        problems.append(Problem(
            CONFIG_FILE, None, "theme",
            "this Pillow has no complex text layout (raqm needs the FriBiDi library): cards lose "
            "kerning and emoji sequences; install it, e.g. `apt-get install libfribidi0`",
            "warning"))
    return problems


__all__ = [
    "PLATFORM_BYTE_LIMITS",
    "RENDERER_VERSION",
    "CardPlan",
    "CardTextError",
    "byte_limit",
    "card_format",
    "card_path",
    "card_problems",
    "contrast_ratio",
    "encode_jpeg",
    "hyphenations",
    "layout_for",
    "plan_card",
    "render_all",
    "render_card",
    "segment",
    "story_formats",
    "theme_problems",
    "uses_placeholder_logo",
]
