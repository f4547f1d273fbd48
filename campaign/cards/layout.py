"""Where everything goes on each card format: the safe margins, the photo, the text and the footer.

Pure geometry from `CARD_SIZES` and the theme's margin; no fonts, no pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaign.models import CARD_SIZES, CardFormat


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
