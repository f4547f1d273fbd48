"""Cards: one branded image per story and card format (SPEC §5), drawn with Pillow.

    plan_card(story, fmt, project)   -> CardPlan   pure: fitted text, no pixels
    render_card(story, fmt, project) -> Card       draws, encodes, caches in build/cards/
    render_all(stories, project)     -> [Card]     every story, every format in use
    card_problems(story, project)    -> [Problem]  what `check` says about a story's cards
    theme_problems(project)          -> [Problem]  contrast and theme files, on campaign.toml

A package by job; each module imports only those above it in this list:

    assets.py    resolved paths and content digests of the files a card is drawn from
    layout.py    Box, Layout, layout_for: where the photo, the text and the footer go
    text.py      fonts, glyph coverage and emoji, smart quotes, Dutch hyphenation,
                 measuring, wrapping, and fitting texts to a box (fit_blocks)
    logo.py      the theme's logo, read and sized for a layout's footer
    plan.py      CardPlan, plan_card: the story's texts fitted to a format, no pixels
    photo.py     photos: read, decoded upright in sRGB at the draft scale the boxes
                 allow (draft_eighths), cropped around the focus or the faces
                 (detect_faces), remembered in photo_memory and on disk
    draw.py      draw_card (the pixels of a plan) and encode_jpeg (within a size limit),
                 in bands of rows joined by restart markers (JpegBands, band_rows)
    cache.py     formats and size limits per platform, build/cards/, the cache key,
                 build/cache/photos/<story>/ (photo_cache_dir), render_card and render_all
    problems.py  what `campaign check` reports: card_problems, photo_problems,
                 theme_problems, contrast_ratio, uses_placeholder_logo

A card's alt text is composed by the captions (`captions.default_alt_text`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module when first used (issue 19): a command that finds
# every card up to date never loads Pillow's drawing, the fonts or the photo code.
if TYPE_CHECKING:
    from campaign.cards.cache import (
        PLATFORM_BYTE_LIMITS,
        RENDERER_VERSION,
        byte_limit,
        cache_key,
        card_format,
        card_path,
        cards_dir,
        photo_cache_dir,
        render_all,
        render_card,
        story_formats,
    )
    from campaign.cards.draw import (
        JPEG_QUALITY_STEP,
        MIN_JPEG_QUALITY,
        JpegBands,
        band_rows,
        draw_card,
        encode_jpeg,
    )
    from campaign.cards.layout import Box, Layout, layout_for
    from campaign.cards.photo import (
        MAX_PHOTO_PIXELS,
        RESAMPLING,
        Face,
        crop_box,
        crop_file_name,
        crop_to_fill,
        detect_faces,
        draft_eighths,
        face_focus,
        faces_cut,
        load_photo,
        photo_faces,
        photo_from_bytes,
        photo_memory,
        read_cached_photo,
    )
    from campaign.cards.plan import CardPlan, name_line, plan_card, quoted
    from campaign.cards.problems import (
        PLACEHOLDER_LOGO_SHA256,
        QUOTE_WORDS,
        WCAG_AA,
        card_problems,
        contrast_ratio,
        photo_problems,
        theme_problems,
        uses_placeholder_logo,
    )
    from campaign.cards.text import (
        Block,
        CardTextError,
        FitResult,
        FontPaths,
        Measure,
        Role,
        Run,
        RunKind,
        SetBlock,
        SetLine,
        compound_breaks,
        fit_blocks,
        font_paths,
        hyphenations,
        segment,
        smart_quotes,
        wrap,
    )

_WHERE: dict[str, str] = {
    "Block": "text",
    "Box": "layout",
    "CardPlan": "plan",
    "CardTextError": "text",
    "Face": "photo",
    "FitResult": "text",
    "FontPaths": "text",
    "JPEG_QUALITY_STEP": "draw",
    "JpegBands": "draw",
    "Layout": "layout",
    "MAX_PHOTO_PIXELS": "photo",
    "MIN_JPEG_QUALITY": "draw",
    "Measure": "text",
    "PLACEHOLDER_LOGO_SHA256": "problems",
    "PLATFORM_BYTE_LIMITS": "cache",
    "QUOTE_WORDS": "problems",
    "RENDERER_VERSION": "cache",
    "RESAMPLING": "photo",
    "Role": "text",
    "Run": "text",
    "RunKind": "text",
    "SetBlock": "text",
    "SetLine": "text",
    "WCAG_AA": "problems",
    "band_rows": "draw",
    "byte_limit": "cache",
    "cache_key": "cache",
    "card_format": "cache",
    "card_path": "cache",
    "card_problems": "problems",
    "cards_dir": "cache",
    "compound_breaks": "text",
    "contrast_ratio": "problems",
    "crop_box": "photo",
    "crop_file_name": "photo",
    "crop_to_fill": "photo",
    "detect_faces": "photo",
    "draft_eighths": "photo",
    "draw_card": "draw",
    "encode_jpeg": "draw",
    "face_focus": "photo",
    "faces_cut": "photo",
    "fit_blocks": "text",
    "font_paths": "text",
    "hyphenations": "text",
    "layout_for": "layout",
    "load_photo": "photo",
    "name_line": "plan",
    "photo_cache_dir": "cache",
    "photo_faces": "photo",
    "photo_from_bytes": "photo",
    "photo_memory": "photo",
    "photo_problems": "problems",
    "plan_card": "plan",
    "quoted": "plan",
    "read_cached_photo": "photo",
    "render_all": "cache",
    "render_card": "cache",
    "segment": "text",
    "smart_quotes": "text",
    "story_formats": "cache",
    "theme_problems": "problems",
    "uses_placeholder_logo": "problems",
    "wrap": "text",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'campaign.cards' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"campaign.cards.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "JPEG_QUALITY_STEP",
    "MAX_PHOTO_PIXELS",
    "MIN_JPEG_QUALITY",
    "PLACEHOLDER_LOGO_SHA256",
    "PLATFORM_BYTE_LIMITS",
    "QUOTE_WORDS",
    "RENDERER_VERSION",
    "RESAMPLING",
    "WCAG_AA",
    "Block",
    "Box",
    "CardPlan",
    "CardTextError",
    "Face",
    "FitResult",
    "FontPaths",
    "JpegBands",
    "Layout",
    "Measure",
    "Role",
    "Run",
    "RunKind",
    "SetBlock",
    "SetLine",
    "band_rows",
    "byte_limit",
    "cache_key",
    "card_format",
    "card_path",
    "card_problems",
    "cards_dir",
    "compound_breaks",
    "contrast_ratio",
    "crop_box",
    "crop_file_name",
    "crop_to_fill",
    "detect_faces",
    "draft_eighths",
    "draw_card",
    "encode_jpeg",
    "face_focus",
    "faces_cut",
    "fit_blocks",
    "font_paths",
    "hyphenations",
    "layout_for",
    "load_photo",
    "name_line",
    "photo_cache_dir",
    "photo_faces",
    "photo_from_bytes",
    "photo_memory",
    "photo_problems",
    "plan_card",
    "quoted",
    "read_cached_photo",
    "render_all",
    "render_card",
    "segment",
    "smart_quotes",
    "story_formats",
    "theme_problems",
    "uses_placeholder_logo",
    "wrap",
]
