"""A card's pixels from its plan (`draw_card`), and the JPEG within a size limit (`encode_jpeg`),
encoded in bands of rows (`JpegBands`) so the text's rows are encoded while the photo is decoded."""

from __future__ import annotations

import io
import logging
import math
import os
import struct
import threading

from PIL import Image, ImageDraw

from campaign.cards.layout import Layout
from campaign.cards.logo import _logo_for
from campaign.cards.photo import Background
from campaign.cards.plan import CardPlan
from campaign.cards.text import _emoji_bitmap, _emoji_top, _font, font_paths
from campaign.config import Project
from campaign.errors import CardError

# The package's logger, as before the split: `campaign render` listens on "campaign.cards".
log = logging.getLogger("campaign.cards")

MIN_JPEG_QUALITY = 50
JPEG_QUALITY_STEP = 5


# --------------------------------------------------------------------------- drawing


def draw_card(plan: CardPlan, project: Project, photo: Image.Image | None) -> Image.Image:
    """The card's pixels from its plan (and the photo already cropped to its box).

    The photo's box never overlaps the text or the footer (layout.py), so the photo may
    also be placed after the text (`place_photo`), as render_card does while the photo
    is still being decoded."""
    theme = project.settings.theme
    fonts = font_paths(project)
    layout = plan.layout
    card = Image.new("RGB", layout.size, theme.background)
    draw = ImageDraw.Draw(card)
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
    if photo is not None:
        place_photo(card, plan, photo)
    return card


def place_photo(card: Image.Image, plan: CardPlan, photo: Image.Image) -> None:
    """Put the cropped photo into its box on the card."""
    card.paste(photo, (plan.layout.photo.x0, plan.layout.photo.y0))


# --------------------------------------------------------------------------- encoding


def encode_jpeg(image: Image.Image, limit: int, quality: int, *, label: str = "card",
                band_rows: int = 0, started: JpegBands | None = None) -> tuple[bytes, int]:
    """JPEG bytes within `limit`, lowering the quality step by step; says so when it does.

    Chroma is kept at full resolution (4:4:4): coloured text on a coloured
    background blurs visibly with the usual 4:2:0. With `band_rows`, a restart
    marker begins every band of that many rows (`JpegBands`); `started` is such an
    encoding already under way at `quality`, finished here.
    """
    start = quality
    while True:
        if started is not None and started.quality == quality:
            data = started.finish(image)
        else:
            if started is not None:
                started.complete(image)
            data = _encode(image, quality, band_rows)
        if len(data) <= limit:
            if quality != start:
                log.warning("%s was over %s bytes at JPEG quality %s: saved at quality %s (%s bytes)",
                            label, f"{limit:,}", start, quality, f"{len(data):,}")
            return data, quality
        if quality - JPEG_QUALITY_STEP < MIN_JPEG_QUALITY:
            raise CardError(f"{label} is {len(data):,} bytes even at JPEG quality {quality}, "
                            f"over the limit of {limit:,}: use a simpler photo")
        quality -= JPEG_QUALITY_STEP


_MEMFD = getattr(os, "memfd_create", None)  # files in memory: Linux


def _encode(image: Image.Image, quality: int, band_rows: int = 0) -> bytes:
    """The JPEG of `image`. Written into a file in memory where the system has them
    (Linux): Pillow lets go of the GIL while it encodes into a file, not into a BytesIO,
    so the photo's bands are encoded on two threads, and beside the text being drawn."""
    options = {"restart_marker_rows": band_rows // 8} if band_rows else {}
    try:
        fd = _MEMFD("card", os.MFD_CLOEXEC) if _MEMFD is not None else None
    except OSError:  # refused (a sandbox's system-call filter, no file descriptors left)
        fd = None
    if fd is None:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling=0, **options)
        return buffer.getvalue()
    try:
        with open(fd, "wb", buffering=0, closefd=False) as file:
            image.save(file, "JPEG", quality=quality, subsampling=0, **options)
            size = file.tell()
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- bands
#
# A baseline JPEG may carry restart markers: every so many 8x8 blocks the coder starts
# afresh, so each stretch between two markers is coded on its own. With a marker every
# `rows` rows, each band of rows can be encoded as a small JPEG of its own, at any
# moment, and the bands' coded data joined behind one header: the same bytes Pillow
# writes for the whole card with `restart_marker_rows` (a test holds them equal), and
# the same pixels as without markers. render_card encodes the text's bands while the
# photo is still being decoded, and only the photo's band after it (issue 19).

_MCU_ROWS = 8  # 4:4:4: one 8x8 block of each colour channel per MCU


def band_rows(layout: Layout) -> int:
    """The height of the bands a card with a photo is encoded in: the largest whose edges
    include the photo box's top, middle and bottom, so the bands above and below the photo
    hold no photo, and the photo's two halves (`crop_to_fill` resamples them at once) are
    encoded at once too (`JpegBands.encode_part`). Without a middle on an 8-row block edge,
    the photo is one band; 0, one band for the card, when no such band is shorter than the
    card, as for landscape's full-height photo, or when the box is not on block edges."""
    box = layout.photo
    rows = math.gcd(box.y0, box.y1, box.y0 + box.height // 2)
    if rows % _MCU_ROWS:
        rows = math.gcd(box.y0, box.y1)
    width, height = layout.size
    if rows % _MCU_ROWS or rows >= height or -(-width // 8) * (rows // 8) > 0xFFFF:
        return 0
    return rows


class JpegBands:
    """The JPEG of a card of `size` at `quality`, one band of `rows` rows at a time, in any
    order (`encode`, `encode_part`), then joined (`finish`)."""

    def __init__(self, size: tuple[int, int], rows: int, quality: int) -> None:
        assert rows > 0, rows
        assert rows % _MCU_ROWS == 0, rows
        self.size, self.rows, self.quality = size, rows, quality
        self._bands: dict[int, bytes] = {}
        self._parts: dict[int, Image.Image] = {}
        self._lock = threading.Lock()  # the photo's bands are encoded on the photo's thread

    def encode(self, image: Image.Image, *, outside: tuple[int, int] = (0, 0),
               together: bool = False) -> None:
        """Encode every band of `image` not yet encoded that has no row in `outside`
        (top, bottom): those rows may still change. `together`: on two threads."""
        with self._lock:
            tops = [top for top in range(0, self.size[1], self.rows) if top not in self._bands
                    and (min(top + self.rows, self.size[1]) <= outside[0] or top >= outside[1])]
        self._encode_bands(image, 0, tops, together=together)

    def _encode_bands(self, image: Image.Image, top: int, tops: list[int], *,
                      together: bool) -> None:
        """Encode the bands at `tops` from `image`, whose first row is the card's row `top`;
        with `together`, the first half of them on a second thread."""
        bottom = top + image.height

        def code(at: int) -> bytes:
            if (at, min(at + self.rows, bottom)) == (top, bottom):
                return _encode(image, self.quality)
            return _encode(image.crop((0, at - top, image.width, min(at + self.rows, bottom) - top)),
                           self.quality)

        first = tops[:len(tops) // 2] if together else []
        ahead = Background(lambda: [code(at) for at in first]) if first else None
        coded = {at: code(at) for at in tops[len(first):]}
        if ahead is not None:
            coded.update(zip(first, ahead.result(), strict=True))
        with self._lock:
            self._bands.update(coded)

    def encode_part(self, top: int, part: Image.Image, *, together: bool = True) -> bool:
        """Encode the bands from row `top` down that `part` covers and that are not encoded
        yet, from `part`, the pixels that will be there (the cropped photo, not pasted into
        the card yet), the first half of them on a second thread unless not `together`;
        False, and nothing done, when `part` does not cover whole bands. `complete` pastes
        it in later if needed. Safe to call while other threads encode other bands."""
        bottom = top + part.height
        if (top % self.rows or part.width != self.size[0] or bottom > self.size[1]
                or (bottom % self.rows and bottom != self.size[1])):
            return False
        with self._lock:
            tops = [at for at in range(top, bottom, self.rows) if at not in self._bands]
        if tops:
            self._encode_bands(part, top, tops, together=together)
        with self._lock:
            self._parts[top] = part
        return True

    def complete(self, image: Image.Image) -> None:
        """Paste into `image` the parts encoded from outside it (`encode_part`)."""
        for top, part in self._parts.items():
            image.paste(part, (0, top))
        self._parts.clear()

    def finish(self, image: Image.Image) -> bytes:
        """The whole JPEG: the bands of `image` still missing encoded, and all of them
        joined behind one header."""
        assert image.size == self.size, (image.size, self.size)
        self.encode(image)
        bands = [self._bands[top] for top in sorted(self._bands)]
        header, _ = _header(bands[0])
        parts = [_whole_image_header(header, self.size, self.rows)]
        for number, band in enumerate(bands):
            _, coded = _header(band)
            if number:
                parts.append(bytes((0xFF, 0xD0 + (number - 1) % 8)))  # RST0..RST7 in turn
            parts.append(coded)
        parts.append(b"\xff\xd9")  # EOI
        return b"".join(parts)


def _header(jpeg: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(the marker segments from SOI up to and including SOS, the coded data after it
    without the closing EOI) of a baseline JPEG as Pillow writes it."""
    if jpeg[:2] != b"\xff\xd8" or jpeg[-2:] != b"\xff\xd9":
        raise ValueError("not a whole JPEG")
    segments: list[tuple[int, bytes]] = []
    at = 2
    while True:
        if jpeg[at] != 0xFF:
            raise ValueError(f"no marker at byte {at}")
        marker = jpeg[at + 1]
        (length,) = struct.unpack(">H", jpeg[at + 2:at + 4])
        segments.append((marker, jpeg[at:at + 2 + length]))
        at += 2 + length
        if marker == 0xDA:  # SOS: the coded data follows
            return segments, jpeg[at:-2]


def _whole_image_header(segments: list[tuple[int, bytes]], size: tuple[int, int], rows: int) -> bytes:
    """The first band's header made the whole image's: SOI, its height in the frame
    (SOF0), and the restart interval (DRI) just before SOS, where libjpeg puts it."""
    out = bytearray(b"\xff\xd8")
    for marker, segment in segments:
        if marker == 0xC0:  # SOF0: FF C0, length, precision, then height and width
            segment = segment[:5] + struct.pack(">H", size[1]) + segment[7:]
        elif marker in (0xC1, 0xC2, 0xC3, 0xDD):
            raise ValueError("a band is not a plain baseline JPEG")
        if marker == 0xDA:
            blocks = -(-size[0] // 8) * (rows // _MCU_ROWS)
            out += b"\xff\xdd\x00\x04" + struct.pack(">H", blocks)
        out += segment
    return bytes(out)
