"""The theme's logo, read once and sized to fit a layout's footer."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from campaign.cards.assets import _resolved
from campaign.cards.layout import Layout
from campaign.config import CONFIG_FILE, Project
from campaign.errors import CardError


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
