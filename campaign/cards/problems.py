"""What `campaign check` says about cards: a story's texts that do not fit, characters
the fonts lack, a long quote and the photo's problems; the theme's contrast and files."""

from __future__ import annotations

import math

from PIL import features

from campaign.cards.assets import _digest_or_none, _resolved
from campaign.cards.cache import photo_cache_dir, story_formats
from campaign.cards.layout import layout_for
from campaign.cards.photo import face_focus, faces_cut, photo_faces
from campaign.cards.plan import plan_card
from campaign.cards.text import FORMAT_NAMES, CardTextError
from campaign.config import CONFIG_FILE, Project, toml_line
from campaign.errors import CardError
from campaign.i18n import _, language
from campaign.models import CARD_SIZES, Problem, Story

WCAG_AA = 4.5


#: A quote of more words than this is hard to read on a card (a pull quote is one sentence).
QUOTE_WORDS = 30


def _one_decimal(number: float) -> str:
    """`4.5` / `4,5`: a number with one decimal, as the active language writes it."""
    from babel.numbers import format_decimal

    return str(format_decimal(round(number, 1), format="0.0", locale=language()))


def photo_problems(story: Story, project: Project) -> list[Problem]:
    """Warnings about a story's photo on its cards: too few pixels for the card area it fills,
    and faces the crop would cut off (with the photo_focus that keeps them)."""
    if story.photo is None:
        return []
    line = story.lines.get("photo")
    try:
        build = _resolved(project.root, project.settings.paths.build)
        size, faces = photo_faces(story.photo, story=story.file,
                                  cache=photo_cache_dir(build, story.id))
    except CardError as exc:
        return [Problem(story.file, line, "photo", str(exc).split("photo: ", 1)[-1],
                        code="photo.unusable")]
    problems: list[Problem] = []
    boxes = {fmt: layout_for(fmt, 0).photo for fmt in story_formats(story, project.settings)}
    needed = max(((box.width, box.height) for box in boxes.values()),
                 key=lambda wh: max(wh[0] / size[0], wh[1] / size[1]))
    scale = max(needed[0] / size[0], needed[1] / size[1])
    if scale > 1.0:
        want = (math.ceil(size[0] * scale), math.ceil(size[1] * scale))
        problems.append(Problem(
            story.file, line, "photo",
            _("the photo is {size} pixels, fewer than the card area it fills ({needed}): it is "
              "blown up {scale} times and will look blurred; use a photo of at least {want} "
              "pixels").format(size=f"{size[0]}x{size[1]}", needed=f"{needed[0]}x{needed[1]}",
                               scale=_one_decimal(scale),
                               want=f"{want[0]}x{want[1]}"),
            "warning", code="photo.too_few_pixels"))
    for fmt, box in boxes.items():
        focus = story.photo_focus or face_focus(faces, size, (box.width, box.height))[0]
        cut = faces_cut(faces, size, (box.width, box.height), focus)
        if cut:
            keep = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
            suggestion = f"[{(keep[0] + keep[2]) / 2:.2f}, {(keep[1] + keep[3]) / 2:.2f}]"
            field = "photo_focus" if story.photo_focus else "photo"
            problems.append(Problem(
                story.file, story.lines.get(field, line), field,
                _("on the {format} card ({size}) the crop cuts off {cut} of the {n} face(s) in "
                  "the photo: set photo_focus to the point to keep (x, y from 0 to 1), e.g. "
                  "photo_focus: {suggestion}").format(
                    format=_(FORMAT_NAMES[fmt]), size=f"{CARD_SIZES[fmt][0]}x{CARD_SIZES[fmt][1]}",
                    cut=cut, n=len(faces), suggestion=suggestion),
                "warning", code="photo.face_cut"))
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
                exc.field, message, code="card.text_too_long"))
            continue
        except CardError as exc:
            problems.append(Problem(story.file, None, None, str(exc), code="card.unusable"))
            continue
        for key, chars in plan.dropped.items():
            if key in seen:
                continue
            seen.add(key)
            shown = " ".join(f"{c} (U+{ord(c[0]):04X})" for c in dict.fromkeys(chars))
            problems.append(Problem(
                story.file, story.lines.get(key), key,
                _("the card fonts have no glyph for {characters}: left out of the card; "
                  "use another character or leave it out").format(characters=shown),
                "warning", code="card.missing_glyph"))
    too_long = any(p.field == "quote" and p.severity == "error" for p in problems)
    if words > QUOTE_WORDS and not too_long:
        problems.append(Problem(
            story.file, story.lines.get("quote"), "quote",
            _("the quote has {words} words; on a card a quote reads well up to {limit}: keep "
              "its strongest sentence (the whole story goes in the caption)").format(
                  words=words, limit=QUOTE_WORDS), "warning", code="card.long_quote"))
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
                _("{colour} on the background {background} has a contrast of {ratio}:1, "
                  "below the {needed}:1 that WCAG AA asks for text: make one of them lighter "
                  "or darker").format(colour=colour, background=theme.background,
                                      ratio=_one_decimal(ratio),
                                      needed=_one_decimal(WCAG_AA)),
                code="theme.low_contrast"))
    for key in ("font_regular", "font_semibold", "font_bold", "font_fallback", "logo"):
        value = getattr(theme, key)
        if value and not project.path(value).is_file():
            problems.append(Problem(CONFIG_FILE, line(key), f"theme.{key}",
                                    _("{path} not found: put the file there or correct the "
                                      "path").format(path=value), code="theme.file_missing"))
    if uses_placeholder_logo(project):
        problems.append(Problem(
            CONFIG_FILE, line("logo"), "theme.logo",
            _("the cards carry the placeholder logo (LOGO HIER / placeholder: vervang dit): put "
              "your organisation's logo (a PNG with transparency) in assets/ and point theme.logo "
              "at it before the real week"), "warning", code="theme.placeholder_logo"))
    if not features.check("raqm"):
        problems.append(Problem(
            CONFIG_FILE, None, "theme",
            _("this Pillow has no complex text layout (raqm needs the FriBiDi library): cards lose "
              "kerning and emoji sequences; install it, e.g. {command}").format(
                  command="`apt-get install libfribidi0`"), "warning", code="theme.no_raqm"))
    return problems
