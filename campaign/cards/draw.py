"""A card's pixels from its plan (`draw_card`), and the JPEG within a size limit (`encode_jpeg`)."""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageDraw

from campaign.cards.logo import _logo_for
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
