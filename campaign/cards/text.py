"""Text on a card: fonts, glyph coverage and emoji, typographic quotes, Dutch
hyphenation, measuring, wrapping, and fitting texts to a box (`fit_blocks`).

Text is fitted by measured width, never by counting characters: each text is
wrapped, long Dutch compounds are hyphenated with pyphen (without the diaeresis
the dictionary keeps: `pati-enten`), and the font size comes down step by step
to the smallest size allowed. Text that still does not fit is a `CardTextError`
that names the story and the field. Every character is looked up in the fonts'
character maps: Inter draws what it has, the colour emoji font (which only
exists at 109 px and is scaled) draws emoji, anything else is left out, so no
character is ever drawn as an empty `.notdef` box.
"""

from __future__ import annotations

import itertools
import math
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Literal

import pyphen
from PIL import Image, ImageDraw, ImageFont

from campaign.cards.assets import _resolved
from campaign.cards.layout import Box
from campaign.config import CONFIG_FILE, Project
from campaign.errors import CardError
from campaign.i18n import N_, _
from campaign.models import CardFormat

_EMOJI_PPEM = 109  # the only size Noto Color Emoji's bitmaps load at
_REF_SIZE = 100  # words are measured once at this size; advances scale linearly
_WIDTH_SAFETY = 0.985  # wrap a little narrower than the box; the exact check follows
_HYPHENATION_GAIN = 0.88  # hyphenate only if it lets text be set more than 12% larger
_DIAERESIS = {"ä": "a", "ë": "e", "ï": "i", "ö": "o", "ü": "u",
              "Ä": "A", "Ë": "E", "Ï": "I", "Ö": "O", "Ü": "U"}
_JOINERS = {0x200D}
_PRESENTATION = {0xFE0E, 0xFE0F}

Role = Literal["regular", "semibold", "bold"]
RunKind = Literal["text", "emoji"]


#: The card formats as staff read them (translated where they are shown).
FORMAT_NAMES: dict[CardFormat, str] = {
    "portrait": N_("portrait"), "square": N_("square"), "landscape": N_("landscape"),
}


class CardTextError(CardError):
    """A text does not fit its card; `field` is the story's front-matter key (or campaign.name)."""

    def __init__(self, message: str, *, story_id: str, field: str) -> None:
        self.story_id = story_id
        self.field = field
        super().__init__(message)


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
            raise CardError(f"{CONFIG_FILE}: theme.{key}: " + _(
                "{path} not found: point it at a font file in assets/fonts/").format(path=path))
    return paths


@lru_cache(maxsize=16)
def _cmap(path: Path) -> frozenset[int]:
    """The code points a font file has a glyph for (its best Unicode cmap).

    Read straight from the file's cmap table (`cmap_code_points`): fontTools takes 80 ms
    in a new process for these four fonts (importing itself, then naming every glyph);
    it is asked only about a font whose cmap is in a form read here."""
    with path.open("rb") as handle:
        found = cmap_code_points(handle)
    if found is not None:
        return found
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap())


# The Unicode cmap subtables in the order fontTools' getBestCmap prefers them.
_CMAP_PREFERENCE = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


def cmap_code_points(handle: BinaryIO) -> frozenset[int] | None:
    """The code points mapped to a glyph by a font's best Unicode cmap subtable (format 4 or
    12), read from an open OTF/TTF file; None when the font has none of those."""
    def read(offset: int, size: int) -> bytes:
        handle.seek(offset)
        data = handle.read(size)
        if len(data) != size:
            raise ValueError("font file too short")
        return data

    try:
        tables = struct.unpack(">H", read(4, 2))[0]
        cmap = None
        for i in range(tables):
            tag, _sum, offset, length = struct.unpack(">4sIII", read(12 + 16 * i, 16))
            if tag == b"cmap":
                cmap = read(offset, length)
        if cmap is None:
            return None
        count = struct.unpack_from(">H", cmap, 2)[0]
        subtables: dict[tuple[int, int], int] = {}
        for i in range(count):
            platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
            subtables.setdefault((platform, encoding), offset)
        for key in _CMAP_PREFERENCE:
            if key in subtables:
                found = _subtable_code_points(cmap, subtables[key])
                if found is not None:
                    return found
    except (struct.error, ValueError, OSError):
        return None
    return None


def _subtable_code_points(cmap: bytes, offset: int) -> frozenset[int] | None:
    fmt = struct.unpack_from(">H", cmap, offset)[0]
    points: set[int] = set()
    if fmt == 12:
        groups = struct.unpack_from(">I", cmap, offset + 12)[0]
        for i in range(groups):
            start, end, glyph = struct.unpack_from(">III", cmap, offset + 16 + 12 * i)
            points.update(range(start + (glyph == 0), end + 1))  # glyph 0 is .notdef
        return frozenset(points)
    if fmt == 4:
        segments = struct.unpack_from(">H", cmap, offset + 6)[0] // 2
        ends = struct.unpack_from(f">{segments}H", cmap, offset + 14)
        starts = struct.unpack_from(f">{segments}H", cmap, offset + 16 + 2 * segments)
        deltas = struct.unpack_from(f">{segments}h", cmap, offset + 16 + 4 * segments)
        ranges_at = offset + 16 + 6 * segments
        ranges = struct.unpack_from(f">{segments}H", cmap, ranges_at)
        for i, (start, end, delta, range_offset) in enumerate(
                zip(starts, ends, deltas, ranges, strict=True)):
            for code in range(start, end + 1):
                if code == 0xFFFF:
                    continue
                if range_offset == 0:
                    glyph = (code + delta) & 0xFFFF
                else:
                    at = ranges_at + 2 * i + range_offset + 2 * (code - start)
                    glyph = struct.unpack_from(">H", cmap, at)[0]
                    glyph = (glyph + delta) & 0xFFFF if glyph else 0
                if glyph:
                    points.add(code)
        return frozenset(points)
    return None


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise CardError(f"{path.name}: " + _(
            "cannot load this font ({error}): use an OTF or TTF file").format(error=exc)) from None


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


_NOT_PATTERNS = ("%", "#", "LEFTHYPHENMIN", "RIGHTHYPHENMIN", "COMPOUNDLEFTHYPHENMIN",
                 "COMPOUNDRIGHTHYPHENMIN")


class Patterns:
    """Liang's hyphenation patterns (pyphen's hyph_*.dic), read only as far as words need.

    pyphen parses all 16,000 Dutch patterns up front, 100 ms of a new process's first
    card; here a pattern is filed under its letters and its digits are read on first
    use. `positions` gives what pyphen's `Pyphen(left, right).positions` gives (the
    Dutch dictionary has none of the nonstandard `/` patterns)."""

    def __init__(self, dic: bytes) -> None:
        """From the bytes of a hyph_*.dic: its encoding on the first line, a pattern a line."""
        first, _sep, body = dic.replace(b"\r", b"").partition(b"\n")
        encoding = first.decode("ascii").strip()
        encoding = "cp1251" if encoding.lower() == "microsoft-cp1251" else encoding
        lines = [line for line in body.decode(encoding).split("\n")
                 if line and not line.startswith(_NOT_PATTERNS)]
        # The letters of every pattern at once (digits dropped in one pass over the bytes).
        keys = "\n".join(lines).encode(encoding).translate(None, b"0123456789").decode(
            encoding).split("\n")
        self._raw = dict(zip(keys, lines, strict=True))
        self._digits: dict[str, tuple[int, ...]] = {}
        self._longest = max(map(len, keys), default=0)

    def _values(self, key: str) -> tuple[int, ...]:
        """The pattern's digits by gap: [0] before its first letter, [-1] after its last."""
        values = self._digits.get(key)
        if values is None:
            gaps = [0] * (len(key) + 1)
            letters = 0
            for ch in self._raw[key]:
                if ch.isdigit():
                    gaps[letters] = int(ch)
                else:
                    letters += 1
            values = self._digits[key] = tuple(gaps)
        return values

    def positions(self, word: str, left: int, right: int) -> list[int]:
        """Where `word` may break (offsets), keeping `left` and `right` letters at its ends."""
        dotted = f".{word.lower()}."
        scores = [0] * (len(dotted) + 1)
        for i in range(len(dotted) - 1):
            for j in range(i + 1, min(i + self._longest, len(dotted)) + 1):
                if dotted[i:j] in self._raw:
                    for k, value in enumerate(self._values(dotted[i:j])):
                        scores[i + k] = max(scores[i + k], value)
        last = len(word) - right
        return [i - 1 for i, score in enumerate(scores) if score % 2 and left <= i - 1 <= last]


@lru_cache(maxsize=1)
def _dictionary() -> Patterns:
    return Patterns(pyphen.LANGUAGES["nl_NL"].read_bytes())


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
        syllables.extend(lead + left + at for at in _dictionary().positions(piece, 2, 3))
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
        f"{where}: {culprit.field}: " + _(
            "too long for the {format} card: it does not fit even at {size} px; shorten it to "
            "about {words} words").format(format=_(FORMAT_NAMES[fmt]), size=min_size,
                                          words=target),
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
