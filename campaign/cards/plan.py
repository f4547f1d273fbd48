"""A card's plan: the story's title, quote and name line, and the campaign name
in the footer, fitted to a card format (`plan_card`); pure, no pixels drawn."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from campaign.cards.layout import Box, Layout, layout_for
from campaign.cards.logo import _logo_width
from campaign.cards.text import (
    Block,
    CardTextError,
    FontPaths,
    SetBlock,
    SetLine,
    _font,
    _measures,
    fit_blocks,
    font_paths,
    segment,
    smart_quotes,
)
from campaign.config import CONFIG_FILE, Project
from campaign.models import CardFormat, Story

_PLAIN_CARD_GROWTH = 1.25  # without a photo, text may be set this much larger


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
