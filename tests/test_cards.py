"""Cards, checked by their pixels: margins, glyphs, photos, metadata, cache, golden images.

Golden images of the example stories live in tests/golden/cards/ (downscaled
PNGs); regenerate them only on purpose: `UPDATE_GOLDEN=1 pytest tests/test_cards.py`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import struct
import zlib
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageColor, ImageDraw, ImageFont, ImageStat
from typer.testing import CliRunner

from campaign import cards
from campaign.cards import (
    CardTextError,
    card_problems,
    contrast_ratio,
    draw_card,
    encode_jpeg,
    hyphenations,
    layout_for,
    plan_card,
    render_all,
    render_card,
    theme_problems,
)
from campaign.cli import app
from campaign.config import Project, load_project
from campaign.errors import CardError
from campaign.models import CARD_SIZES, CardFormat, Consent, Story
from campaign.stories import read_stories
from tests.conftest import REPO

FORMATS: tuple[CardFormat, ...] = ("portrait", "square", "landscape")
GOLDEN = Path(__file__).resolve().parent / "golden" / "cards"
GOLDEN_SCALE = 4  # golden PNGs are a quarter of the card's width and height


@pytest.fixture
def project(repo_copy: Path) -> Project:
    return load_project(repo_copy / "campaign.toml")


def make_story(**changes: object) -> Story:
    story = Story(
        id="test-story",
        file="stories/test-story.md",
        title="Twee jaar zoeken naar een diagnose",
        name="Marieke",
        quote="Vraag door. Jij kent je lichaam het best.",
        body="Tekst.",
        consent=Consent(signed=date(2026, 11, 30), reference="T-1", platforms=None, expires=None),
        age=47,
        diagnosis="GIST",
        lines={"title": 2, "name": 3, "quote": 6, "diagnosis": 5, "age": 4},
    )
    return dataclasses.replace(story, **changes)  # type: ignore[arg-type]


def pixels(story: Story, fmt: CardFormat, project: Project) -> Image.Image:
    """The card's pixels as drawn, before JPEG: exact colours to compare with."""
    plan = plan_card(story, fmt, project)
    photo = None
    if story.photo is not None:
        box = plan.layout.photo
        photo = cards.load_photo(story.photo, (box.width, box.height), story.photo_focus,
                                 story=story.file)
    return draw_card(plan, project, photo)


def ink_outside(image: Image.Image, keep: list[tuple[int, int, int, int]], background: str) -> int:
    """How many pixels outside the `keep` boxes differ from the background."""
    plain = Image.new("RGB", image.size, background)
    diff = ImageChops.difference(image, plain).convert("L").point(lambda v: 255 if v else 0)
    mask = Image.new("L", image.size, 255)
    draw = ImageDraw.Draw(mask)
    for box in keep:
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=0)
    return sum(ImageChops.multiply(diff, mask).histogram()[1:])


TEXTS = {
    "short": {"title": "Kort", "quote": "Ja.", "name": "Jo"},
    "long": {
        "title": "Een lange kop over een lange weg: van de eerste klachten tot de juiste diagnose",
        "quote": " ".join(["Ik had nooit gedacht dat een zeldzame vorm van kanker mijn leven zo "
                           "zou veranderen, maar de zorg was goed."] * 2),
        "name": "Maria-Magdalena",
    },
    "compounds": {
        "title": "Zeldzamekankerpatiëntenvereniging",
        "quote": "Kinderoncologieverpleegkundigen en ziekenhuisopnamecoördinatoren: "
                 "arbeidsongeschiktheidsverzekeringsmaatschappij",
        "name": "Ĳsbrand",
    },
    "diacritics": {
        "title": "Één café, coëfficiënt, naïef, ĳs en Ĳsland",
        "quote": "Zo'n \"gewone\" dag – ‘echt’ … „anders” — €10, één réçu, zóveel België",
        "name": "Renée",
    },
    "emoji": {"title": "Sterk 💪🏽", "quote": "Samen sterk ❤️ 🧬 👩‍🔬 🇳🇱", "name": "Fatima"},
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_text_stays_inside_the_safe_margins(project: Project, kind: str, fmt: CardFormat) -> None:
    story = make_story(**TEXTS[kind])
    image = pixels(story, fmt, project)
    safe = layout_for(fmt, project.settings.theme.margin).safe
    assert image.size == CARD_SIZES[fmt]
    keep = [(safe.x0, safe.y0, safe.x1, safe.y1)]
    assert ink_outside(image, keep, project.settings.theme.background) == 0
    # ... and there is text: the card is not simply empty.
    assert ImageStat.Stat(image).stddev[0] > 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_stays_out_of_the_photo_and_inside_the_margins(project: Project, fmt: CardFormat,
                                                             tmp_path: Path) -> None:
    photo = tmp_path / "green.png"
    Image.new("RGB", (1600, 1600), (0, 255, 0)).save(photo)
    story = make_story(photo=photo, photo_alt="groen", **TEXTS["long"])
    image = pixels(story, fmt, project)
    layout = layout_for(fmt, project.settings.theme.margin)
    box, safe = layout.photo, layout.safe
    # The photo area is the photo, untouched by text.
    region = image.crop((box.x0, box.y0, box.x1, box.y1))
    assert region.getcolors() == [(box.width * box.height, (0, 255, 0))]
    # And no text is drawn there at all: render_card pastes the photo after the text.
    without = draw_card(plan_card(story, fmt, project), project, None)
    background = ImageColor.getrgb(project.settings.theme.background)
    assert without.crop((box.x0, box.y0, box.x1, box.y1)).getcolors() == [
        (box.width * box.height, background)]
    # Everything else stays inside the safe margins.
    keep = [(safe.x0, safe.y0, safe.x1, safe.y1), (box.x0, box.y0, box.x1, box.y1)]
    assert ink_outside(image, keep, project.settings.theme.background) == 0


def test_fitting_is_by_measured_width_and_shrinks_long_text(project: Project) -> None:
    short = plan_card(make_story(**TEXTS["short"]), "square", project)
    long = plan_card(make_story(**TEXTS["long"]), "square", project)
    size = {b.field: b.size for b in short.blocks}
    long_size = {b.field: b.size for b in long.blocks}
    assert long_size["quote"] < size["quote"]
    assert long_size["quote"] >= project.settings.theme.min_font_size
    # Nothing is lost: every word of the quote is on the card, in order.
    quote = next(b for b in long.blocks if b.field == "quote")
    assert " ".join(line.text for line in quote.lines).strip("“”") == TEXTS["long"]["quote"]


def test_dutch_hyphenation_drops_the_diaeresis() -> None:
    assert ("pati-", "enten") in hyphenations("patiënten")
    assert all(not tail.startswith("ë") for _, tail in hyphenations("patiënten"))
    assert ("co-", "efficiënt") in hyphenations("coëfficiënt")
    # An existing hyphen is a break and is not doubled.
    assert ("neuro-", "endocriene") in hyphenations("neuro-endocriene")
    assert all("--" not in head for head, _ in hyphenations("neuro-endocriene"))
    assert hyphenations("kort") == ()


def test_a_long_compound_is_hyphenated_where_it_does_not_fit(project: Project) -> None:
    word = "arbeidsongeschiktheidsverzekeringsmaatschappijen"
    plan = plan_card(make_story(quote=f"{word} {word} {word}"), "landscape", project)
    quote = next(b for b in plan.blocks if b.field == "quote")
    lines = [line.text for line in quote.lines]
    assert any(line.endswith("-") for line in lines)
    # Joining the broken lines gives the words back: nothing is cut off.
    joined = ""
    for line in lines:
        joined += line[:-1] if line.endswith("-") else line + " "
    assert joined.split() == [f"“{word}", word, f"{word}”"]


def test_text_that_cannot_fit_is_an_error_naming_story_and_field(project: Project) -> None:
    story = make_story(quote=" ".join(["Dit verhaal is veel te lang voor een kaart."] * 40))
    with pytest.raises(CardTextError) as caught:
        plan_card(story, "square", project)
    assert caught.value.field == "quote"
    assert "stories/test-story.md" in str(caught.value) and "shorten" in str(caught.value)
    problems = card_problems(story, project)
    assert problems and all(p.severity == "error" for p in problems)
    assert {(p.file, p.line, p.field) for p in problems} == {("stories/test-story.md", 6, "quote")}


def test_a_title_over_its_line_cap_names_the_title(project: Project) -> None:
    story = make_story(title=" ".join(["Een heel lange kop"] * 30))
    with pytest.raises(CardTextError) as caught:
        plan_card(story, "square", project)
    assert caught.value.field == "title"


def test_missing_character_is_left_out_not_drawn_as_a_box(project: Project) -> None:
    with_missing = make_story(quote="Hoop 漢 blijft")
    without = make_story(quote="Hoop blijft")
    drawn = pixels(with_missing, "square", project)
    assert ImageChops.difference(drawn, pixels(without, "square", project)).getbbox() is None
    problems = card_problems(with_missing, project)
    assert [(p.severity, p.field, p.line) for p in problems] == [("warning", "quote", 6)]
    assert "U+6F22" in problems[0].message
    # The test can fail: drawn naively, Inter draws its .notdef box (the same glyph as for
    # any other character it lacks) and the card would differ.
    inter = ImageFont.truetype(str(REPO / "assets/fonts/Inter-SemiBold.otf"), 60)

    def glyph(text: str) -> Image.Image:
        image = Image.new("L", (120, 120))
        ImageDraw.Draw(image).text((10, 10), text, font=inter, fill=255)
        return image

    notdef = glyph("\U0010fffd")
    assert notdef.getbbox() is not None
    assert ImageChops.difference(glyph("漢"), notdef).getbbox() is None


def test_typewriter_quotes_become_typographic_ones() -> None:
    assert cards.smart_quotes("Zo'n \"gewone\" dag, 's avonds 'echt'") == \
        "Zo’n “gewone” dag, ’s avonds ‘echt’"
    assert cards.quoted("Vraag door.") == "“Vraag door.”"
    assert cards.quoted("“Al geciteerd”") == "“Al geciteerd”"


def test_emoji_come_from_the_colour_fallback_font(project: Project) -> None:
    plan = plan_card(make_story(quote="Samen sterk ❤️"), "square", project)
    quote = next(b for b in plan.blocks if b.field == "quote")
    assert any(run.kind == "emoji" for line in quote.lines for run in line.runs)
    image = pixels(make_story(quote="Samen sterk ❤️"), "square", project)
    r, g, b = (band.point(lambda v, hi=hi: 255 if (v > 180) == hi else 0)
               for band, hi in zip(image.split(), (True, False, False), strict=True))
    red = ImageChops.multiply(ImageChops.multiply(r, g), b).histogram()[255]
    assert red > 200  # a red heart, not a white box or a white outline


def test_a_portrait_photo_keeps_its_aspect_ratio(project: Project, tmp_path: Path) -> None:
    photo = tmp_path / "circle.png"
    source = Image.new("RGB", (900, 1600), "white")
    ImageDraw.Draw(source).ellipse((450 - 120, 800 - 120, 450 + 120, 800 + 120), fill="black")
    source.save(photo)
    for fmt in FORMATS:
        image = pixels(make_story(photo=photo, photo_alt="een cirkel"), fmt, project)
        box = layout_for(fmt, project.settings.theme.margin).photo
        region = image.crop((box.x0, box.y0, box.x1, box.y1)).convert("L")
        dark = region.point(lambda v: 255 if v < 128 else 0)
        x0, y0, x1, y1 = dark.getbbox() or (0, 0, 0, 0)
        width, height = x1 - x0, y1 - y0
        assert width > 100 and abs(width - height) <= 2, (fmt, width, height)
        # ... and it fills the photo area: no white bars, no stretching.
        assert region.size == (box.width, box.height)


def test_photo_focus_moves_the_crop(project: Project, tmp_path: Path) -> None:
    photo = tmp_path / "high.png"
    source = Image.new("RGB", (1000, 2000), "white")
    ImageDraw.Draw(source).ellipse((450, 250, 550, 350), fill="black")  # at (0.5, 0.15)
    source.save(photo)
    box = layout_for("square", project.settings.theme.margin).photo

    def circle_visible(focus: tuple[float, float] | None) -> bool:
        image = pixels(make_story(photo=photo, photo_alt="x", photo_focus=focus), "square", project)
        region = image.crop((box.x0, box.y0, box.x1, box.y1)).convert("L")
        return region.point(lambda v: 255 if v < 128 else 0).getbbox() is not None

    assert not circle_visible(None)  # centred crop: the circle is outside
    assert circle_visible((0.5, 0.15))


def _quadrants(size: tuple[int, int]) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w // 2, h // 2), fill=(255, 0, 0))
    draw.rectangle((w // 2, 0, w, h // 2), fill=(0, 255, 0))
    draw.rectangle((0, h // 2, w // 2, h), fill=(0, 0, 255))
    draw.rectangle((w // 2, h // 2, w, h), fill=(255, 255, 0))
    return image


# How a camera stores a picture for each EXIF orientation (inverse of exif_transpose).
_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(_STORED))
def test_an_exif_rotated_photo_comes_out_upright(project: Project, tmp_path: Path,
                                                 orientation: int) -> None:
    upright = _quadrants((600, 900))  # the photo as the person saw it
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.jpg"
    upright.transpose(_STORED[orientation]).save(path, quality=95, exif=exif)
    image = pixels(make_story(photo=path, photo_alt="x"), "landscape", project)
    box = layout_for("landscape", project.settings.theme.margin).photo
    expected = {(0.25, 0.25): (255, 0, 0), (0.75, 0.25): (0, 255, 0),
                (0.25, 0.75): (0, 0, 255), (0.75, 0.75): (255, 255, 0)}
    for (fx, fy), colour in expected.items():
        got = image.getpixel((box.x0 + int(box.width * fx), box.y0 + int(box.height * fy)))
        assert isinstance(got, tuple)
        assert all(abs(a - b) < 40 for a, b in zip(got, colour, strict=True)), (fx, fy, got)


def test_the_example_photo_of_joost_is_upright(project: Project) -> None:
    joost = Image.open(REPO / "assets/photos/joost.jpg")
    assert joost.getexif().get(0x0112) == 6 and joost.width > joost.height  # stored on its side
    story = make_story(photo=project.path("assets/photos/joost.jpg"), photo_alt="Joost")
    image = pixels(story, "landscape", project)
    box = layout_for("landscape", project.settings.theme.margin).photo
    sky = image.getpixel((box.x0 + 20, box.y0 + 20))
    track = image.getpixel((box.x0 + 20, box.y1 - 20))
    assert isinstance(sky, tuple) and isinstance(track, tuple)
    assert sky[2] > sky[0] + 40  # blue sky on top
    assert track[0] > track[2] + 40  # the red track at the bottom


def test_no_metadata_in_any_output(project: Project, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber (Exif IFD in real files)
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 5.0, 0.0), "E", (4.0, 53.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "IMG_20260101_PatientName.jpg"
    _quadrants((1200, 900)).save(path, quality=90, exif=exif, icc_profile=icc)
    assert Image.open(path).getexif().get_ifd(0x8825)  # the source really has GPS
    story = make_story(photo=path, photo_alt="x")
    for fmt in FORMATS:
        card = render_card(story, fmt, project)
        data = card.path.read_bytes()
        with Image.open(card.path) as out:
            assert not out.getexif()
            assert "exif" not in out.info and "icc_profile" not in out.info
            assert out.format == "JPEG" and out.size == CARD_SIZES[fmt]
        for needle in (b"Exif", b"CameraMaker", b"SERIAL-12345", b"PatientName", b"ICC_PROFILE"):
            assert needle not in data


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header; the pixels are never there."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (_png_header(8000, 6000), "megapixels"),  # 48 MP: over our 40 MP limit
        (_png_header(30000, 30000), "decompression bomb"),  # Pillow refuses to open it at all
        (b"this is not an image", "not an image"),
        (None, "truncated"),  # filled in below: half a real JPEG
    ],
)
def test_unusable_photos_are_a_clear_card_error(project: Project, tmp_path: Path,
                                                content: bytes | None, says: str) -> None:
    if content is None:
        buffer = io.BytesIO()
        _quadrants((1200, 900)).save(buffer, "JPEG", quality=90)
        content = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(CardError) as caught:
        render_card(make_story(photo=path, photo_alt="x"), "square", project)
    assert says in str(caught.value) and "test-story.md" in str(caught.value)


def test_an_unchanged_story_is_not_rendered_again(project: Project, tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    _quadrants((800, 600)).save(photo)
    story = make_story(photo=photo, photo_alt="x")
    first = render_card(story, "square", project)
    stamp = first.path.stat().st_mtime_ns
    again = render_card(story, "square", project)
    assert not first.cached and again.cached and again.path == first.path
    assert again.path.stat().st_mtime_ns == stamp and again.bytes == first.bytes
    assert again.alt_text and "x" in again.alt_text
    # Each input of the card invalidates it: a field, the photo's bytes, the theme; and --force.
    assert not render_card(dataclasses.replace(story, quote="Nieuw citaat."), "square", project).cached
    assert not render_card(story, "square", project).cached  # back to the original text
    _quadrants((800, 600)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photo)
    assert not render_card(story, "square", project).cached
    assert render_card(story, "square", project).cached
    themed = dataclasses.replace(project, settings=project.settings.model_copy(
        update={"theme": project.settings.theme.model_copy(update={"accent": "#FFD166"})}))
    assert not render_card(story, "square", themed).cached
    assert not render_card(story, "square", themed, force=True).cached
    # The body is not on the card: editing it does not draw the card again.
    assert render_card(dataclasses.replace(story, body="Andere tekst."), "square", themed).cached


def test_render_all_renders_each_format_in_use_and_reports_every_failure(project: Project) -> None:
    good = make_story()
    bad = make_story(id="bad", file="stories/bad.md", quote="te lang " * 400)
    seen: list[str] = []
    with pytest.raises(CardError) as caught:
        render_all([bad, good], project, progress=lambda card: seen.append(card.format))
    assert "stories/bad.md" in str(caught.value)
    assert sorted(seen) == ["landscape", "portrait", "square"]
    assert sorted(c.format for c in render_all([good], project)) == ["landscape", "portrait", "square"]


def test_jpeg_quality_is_lowered_step_by_step_to_fit_a_limit(caplog: pytest.LogCaptureFixture) -> None:
    noisy = Image.effect_noise((600, 600), 80).convert("RGB")
    full, quality = encode_jpeg(noisy, 10_000_000, 90)
    assert quality == 90
    with caplog.at_level(logging.WARNING, logger="campaign.cards"):
        data, lowered = encode_jpeg(noisy, len(full) * 2 // 3, 90, label="test card")
    assert len(data) <= len(full) * 2 // 3 and lowered < 90 and lowered % 5 == 0
    assert "test card" in caplog.text and f"quality {lowered}" in caplog.text
    with pytest.raises(CardError):
        encode_jpeg(noisy, 1000, 90)


def test_every_card_is_within_each_platforms_limit(project: Project) -> None:
    settings = project.settings
    for fmt in FORMATS:
        limit = cards.byte_limit(fmt, settings)
        users = [p for p in settings.enabled_platforms() if cards.card_format(p, settings) == fmt]
        assert limit == min(cards.PLATFORM_BYTE_LIMITS[p] for p in users)
    assert cards.byte_limit("landscape", settings) == 2_000_000  # Bluesky's, the smallest


def test_theme_contrast_below_wcag_aa_is_reported(repo_copy: Path) -> None:
    assert contrast_ratio("#FFFFFF", "#000000") == pytest.approx(21)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    ok = load_project(repo_copy / "campaign.toml")
    assert [p.field for p in theme_problems(ok)] == ["theme.logo"]  # only: it is the placeholder
    config = repo_copy / "campaign.toml"
    config.write_text(config.read_text().replace('text = "#FFFFFF"', 'text = "#3A6B8C"'))
    problems = [p for p in theme_problems(load_project(config)) if p.field != "theme.logo"]
    line = config.read_text().splitlines().index('text = "#3A6B8C"') + 1
    assert [(p.file, p.line, p.field, p.severity) for p in problems] == [
        ("campaign.toml", line, "theme.text", "error")
    ]
    assert "4.5:1" in problems[0].message


def test_check_reports_cards_that_cannot_be_made(repo_copy: Path) -> None:
    story = repo_copy / "stories" / "03-fatima.md"
    text = story.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("quote:"))
    story.write_text(text.replace(old, "quote: " + "Dit is veel te lang voor een kaart. " * 15),
                     encoding="utf-8")
    # Within the story file's own limits text fits at 28 px; a theme that sets no text
    # smaller than 48 px makes this quote too long for the card.
    config = repo_copy / "campaign.toml"
    config.write_text(config.read_text().replace("min_font_size = 28", "min_font_size = 48"))
    result = CliRunner().invoke(app, ["--config", str(config), "check"])
    line = text.splitlines().index(old) + 1
    assert result.exit_code == 1
    assert f"stories/03-fatima.md:{line}: quote: too long for the" in result.stdout
    assert "shorten it to about" in result.stdout


def test_render_command_renders_then_uses_the_cache(repo_copy: Path) -> None:
    runner = CliRunner()
    args = ["--config", str(repo_copy / "campaign.toml"), "render"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "rendered, 0 cached" in first.stderr and first.stdout == ""
    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert " 0 rendered, " in second.stderr and "cached" in second.stderr
    forced = runner.invoke(app, [*args, "--force"])
    assert ", 0 cached" in forced.stderr
    assert len(list((repo_copy / "build" / "cards").glob("*.jpg"))) >= 8


def _examples() -> list[Story]:
    project = load_project(REPO / "campaign.toml")
    return [r.story for r in read_stories(project) if r.story is not None]


@pytest.mark.parametrize("story_id", [s.id for s in _examples()])
def test_example_stories_match_their_golden_images(story_id: str) -> None:
    project = load_project(REPO / "campaign.toml")
    story = next(s for s in _examples() if s.id == story_id)
    for fmt in cards.story_formats(story, project.settings):
        image = pixels(story, fmt, project)
        small = image.resize((image.width // GOLDEN_SCALE, image.height // GOLDEN_SCALE),
                             Image.Resampling.BOX)
        golden = GOLDEN / f"{story_id}-{fmt}.png"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            small.quantize(256, dither=Image.Dither.NONE).save(golden, optimize=True)
            continue
        assert golden.exists(), f"no golden image {golden.name}: run with UPDATE_GOLDEN=1 on purpose"
        expected = Image.open(golden).convert("RGB")
        assert expected.size == small.size
        diff = ImageChops.difference(small, expected).convert("L")
        mean = ImageStat.Stat(diff).mean[0]
        changed = diff.point(lambda v: 255 if v > 48 else 0).histogram()[255] / (small.width * small.height)
        assert mean < 2.0 and changed < 0.002, (fmt, mean, changed)


def test_a_campaign_name_too_long_for_the_footer_is_reported_on_campaign_toml(
    project: Project,
) -> None:
    long_name = "Week van de Zeldzame Kanker " * 8
    renamed = dataclasses.replace(project, settings=project.settings.model_copy(update={
        "campaign": project.settings.campaign.model_copy(update={"name": long_name})}))
    problems = card_problems(make_story(), renamed)
    assert problems and {(p.file, p.field, p.severity) for p in problems} == {
        ("campaign.toml", "campaign.name", "error")
    }


def test_card_files_can_be_read_by_the_web_server(project: Project) -> None:
    """Issue 21: cards were written with mode 600, so the web server publishing the
    Instagram folder (another user) could not read them."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        card = render_card(make_story(), "square", project, force=True)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(card.path.stat().st_mode)
    assert mode == 0o644, oct(mode)


# Issue 21: Dutch medical compounds break where their parts meet, then at syllables.
COMPOUNDS = {
    "bijnierschorscarcinoom": "bijnier|schors|carcinoom",
    "slokdarmkanker": "slok|darm|kanker",
    "alvleesklierkanker": "alvlees|klier|kanker",
    "schildklierkanker": "schild|klier|kanker",
    "eierstokkanker": "eier|stok|kanker",
    "baarmoederhalskanker": "baarmoeder|hals|kanker",
    "galwegkanker": "gal|weg|kanker",
    "wekedelensarcoom": "weke|delen|sarcoom",
    "botsarcoom": "bot|sarcoom",
    "hersentumor": "hersen|tumor",
    "chemotherapie": "chemo|therapie",
    "radiotherapie": "radio|therapie",
    "immunotherapie": "immuno|therapie",
    "stamceltransplantatie": "stam|cel|transplantatie",
    "beenmergtransplantatie": "been|merg|transplantatie",
    "behandelingsplan": "behandelings|plan",
    "bestralingsbehandeling": "bestralings|behandeling",
    "patiëntenvereniging": "patiënten|vereniging",
    "kankerpatiënten": "kanker|patiënten",
    "kankercentrum": "kanker|centrum",
    "longkanker": "long|kanker",
    "oogmelanoom": "oog|melanoom",
    "asbestkanker": "asbest|kanker",
    "bloedkanker": "bloed|kanker",
    "lymfklierkanker": "lymf|klier|kanker",
    "niercelcarcinoom": "nier|cel|carcinoom",
    "levermetastasen": "lever|metastasen",
    "borstkankeronderzoek": "borst|kanker|onderzoek",
    "carcinoombehandelings": "carcinoom|behandelings",
    "ziekenhuisopname": "zieken|huis|opname",
    "verpleegkundige": "verpleeg|kundige",
    "kinderoncologie": "kinder|oncologie",
    "dunnedarmkanker": "dunne|darm|kanker",
    "stromatumor": "stroma|tumor",
    "hoofdhalskanker": "hoofd|hals|kanker",
    "tweedelijnsbehandeling": "tweede|lijns|behandeling",
    "Bijnierschorscarcinoom": "Bijnier|schors|carcinoom",  # a capital at the start
    "mesothelioom": "mesothelioom",  # one word: no compound break
    "leukemie": "leukemie",
}


@pytest.mark.parametrize(("word", "parts"), list(COMPOUNDS.items()))
def test_dutch_compounds_break_where_their_parts_meet(word: str, parts: str) -> None:
    from campaign.cards import compound_breaks

    cuts = compound_breaks(word)
    shown = "|".join(word[a:b] for a, b in zip((0, *cuts), (*cuts, len(word)), strict=True))
    assert shown == parts
    options = hyphenations(word)
    boundaries = [len(h) - 1 for h, _t in options[: len(cuts)]]
    assert sorted(boundaries) == list(cuts), "compound breaks come before any syllable break"
    for head, _tail in options:  # and no syllable break ever crosses a boundary
        cut = len(head) - 1
        assert not any(0 < cut - b < 2 or 0 < b - cut < 3 for b in cuts) or cut in cuts, head


def test_a_long_dutch_compound_on_a_card_breaks_at_a_part(project: Project) -> None:
    """Seen: `bijnierschor-|scarcinoom` and `carcinoombe-|handelings` in the calendar."""
    from campaign.cards import font_paths, wrap
    from campaign.cards.text import _measures as measures  # the card's own measurements

    measure = measures(font_paths(project))["bold"]
    widest_part = measure.width("behandeling", 64)  # the longest part: it fits on a line
    tried = 0
    for width in range(int(widest_part) + 20, 1400, 20):
        lines = wrap("Bijnierschorscarcinoombehandeling", width, 64, measure, hyphenate=True)
        if lines and len(lines) > 1:
            tried += 1
            assert all(line.endswith(("Bijnier-", "schors-", "carcinoom-"))
                       for line in lines[:-1]), lines
    assert tried > 5


def test_the_placeholder_logo_is_a_warning_of_check(repo_copy: Path) -> None:
    [warning] = [p for p in theme_problems(load_project(repo_copy / "campaign.toml"))
                 if p.field == "theme.logo"]
    assert warning.severity == "warning" and warning.line == 28
    assert warning.message.startswith("the cards carry the placeholder logo (LOGO HIER")
    (repo_copy / "assets" / "logo-placeholder.png").rename(repo_copy / "assets" / "ons-logo.png")
    config = repo_copy / "campaign.toml"
    config.write_text(config.read_text().replace("logo-placeholder.png", "ons-logo.png"))
    # Renamed, but the same picture: still the placeholder, known by its bytes.
    assert [p.field for p in theme_problems(load_project(config))] == ["theme.logo"]


# -- issue 21: photos that flatter the patient ---------------------------------------------

FACE = REPO / "tests" / "fixtures" / "photos" / "astronaut_eileen_collins.jpg"


def _face_in_the_corner(tmp_path: Path) -> Path:
    """A 2000x1400 photo with the face near its top-left corner: a centre crop cuts it off."""
    canvas = Image.new("RGB", (2000, 1400), (120, 130, 140))
    with Image.open(FACE) as portrait:
        canvas.paste(portrait.convert("RGB"), (60, 40))
    path = tmp_path / "corner.jpg"
    canvas.save(path, quality=92)
    return path


def test_faces_are_found_with_the_bundled_detector() -> None:
    from campaign.cards import detect_faces

    with Image.open(FACE) as portrait:
        [face] = detect_faces(portrait.convert("RGB"))
    x0, y0, x1, y1 = face
    assert 0.25 < (x0 + x1) / 2 < 0.6 and 0.0 < (y0 + y1) / 2 < 0.35  # her face, upper middle


def test_the_crop_keeps_an_off_centre_face_on_the_card(project: Project, tmp_path: Path) -> None:
    from campaign.cards import crop_box, detect_faces, face_focus, faces_cut

    path = _face_in_the_corner(tmp_path)
    with Image.open(path) as source:
        photo = source.convert("RGB")
    [face] = detect_faces(photo)
    box = layout_for("square", 0).photo
    size = (box.width, box.height)
    assert faces_cut([face], photo.size, size, None) == 1  # the centre crop cut it off
    focus, fits = face_focus([face], photo.size, size)
    assert fits and faces_cut([face], photo.size, size, focus) == 0
    # The card's photo is that crop, by its pixels: close to it, far from the centre crop.
    card = render_card(make_story(photo=path, photo_alt="Foto"), "square", project, force=True)
    with Image.open(card.path) as drawn:
        area = drawn.convert("RGB").crop((box.x0, box.y0, box.x1, box.y1))

    def difference(crop: tuple[float, float, float, float]) -> float:
        expected = photo.resize(size, Image.Resampling.LANCZOS, box=crop)
        return float(ImageStat.Stat(ImageChops.difference(area, expected).convert("L")).mean[0])

    assert difference(crop_box(photo.size, size, focus)) < 6
    assert difference(crop_box(photo.size, size, None)) > 15


def test_check_warns_when_a_face_would_still_be_cut(project: Project, tmp_path: Path) -> None:
    """Two faces far apart do not fit one square crop: the largest is kept, and check says
    so with a photo_focus to choose."""
    from campaign.cards import photo_problems

    canvas = Image.new("RGB", (3000, 1200), (120, 130, 140))
    with Image.open(FACE) as portrait:
        face = portrait.convert("RGB")
        canvas.paste(face, (40, 300))
        canvas.paste(face.resize((400, 400)), (2560, 700))
    path = tmp_path / "two.jpg"
    canvas.save(path, quality=92)
    story = make_story(photo=path, photo_alt="Twee mensen")
    warnings = [p for p in photo_problems(story, project) if "face(s)" in p.message]
    assert warnings, "a face that no crop keeps is reported"
    assert all(p.field == "photo" and p.severity == "warning" for p in warnings)
    assert "set photo_focus to the point to keep" in warnings[0].message
    assert "e.g. photo_focus: [" in warnings[0].message


def test_a_small_photo_is_a_warning_that_says_how_many_pixels_are_needed(project: Project,
                                                                         tmp_path: Path) -> None:
    from campaign.cards import photo_problems

    path = tmp_path / "small.jpg"
    Image.new("RGB", (300, 200), (200, 100, 50)).save(path)
    story = make_story(photo=path, photo_alt="Klein")
    [warning] = photo_problems(story, project)
    assert warning.field == "photo" and warning.severity == "warning"
    # The landscape card's photo area (600x900, for X, Mastodon and Bluesky) needs the most.
    assert warning.message == ("the photo is 300x200 pixels, fewer than the card area it fills "
                               "(600x900): it is blown up 4.5 times and will look blurred; use a "
                               "photo of at least 1350x900 pixels")


def test_a_long_quote_is_a_warning_with_the_number(project: Project) -> None:
    story = make_story(quote=" ".join(["woord"] * 70))
    [warning] = [p for p in card_problems(story, project) if p.field == "quote"]
    assert warning.severity == "warning"
    assert warning.message.startswith("the quote has 70 words; on a card a quote reads well up "
                                      "to 30")
