"""Draws the placeholder logo and the two synthetic example photos in assets/.

Run it only to change them on purpose: `.venv/bin/python assets/make_placeholders.py`.
The output is made by this project from nothing but code (CC0): no real person,
no real photo, no third-party artwork.

- logo-placeholder.png: a white "LOGO HIER / placeholder" mark on transparency,
  to be replaced by the organisation's own logo (theme.logo in campaign.toml).
- photos/marieke.jpg: a landscape park scene (a figure on a bench), 2400x1600.
- photos/joost.jpg: a portrait scene on an athletics track, 1600x2400 as seen, but
  stored lying on its side (2400x1600) with EXIF Orientation = 6, as phones do: a
  renderer that ignores the orientation shows it sideways.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    _, height = size
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize(size)


def _grain(image: Image.Image, amount: int, seed: int) -> Image.Image:
    """A little noise so the pictures behave like photos for the JPEG encoder."""
    rng = random.Random(seed)  # noqa: S311 (noise, not secrets)
    small = Image.new("L", (image.width // 4, image.height // 4))
    small.putdata([128 + rng.randint(-amount, amount) for _ in range(small.width * small.height)])
    noise = small.resize(image.size, Image.Resampling.BILINEAR).convert("RGB")
    return Image.blend(image, noise, 0.06)


def _figure(
    draw: ImageDraw.ImageDraw, cx: int, top: int, scale: float, shirt: str, hair: str,
    *, long_hair: bool = False,
) -> None:
    """A simple, friendly, faceless person: head, hair, shoulders."""
    head = int(120 * scale)
    if long_hair:
        draw.rounded_rectangle((cx - head - 26, top - 10, cx + head + 26, top + int(2.9 * head)),
                               radius=head, fill=hair)
    draw.ellipse((cx - head, top, cx + head, top + 2 * head), fill="#E8B89A")
    draw.chord((cx - head - 12, top - 14, cx + head + 12, top + int(1.5 * head)), 180, 360, fill=hair)
    neck_top = top + 2 * head - 10
    draw.rectangle((cx - head // 3, neck_top, cx + head // 3, neck_top + int(50 * scale)), fill="#D9A584")
    body_top = neck_top + int(40 * scale)
    draw.rounded_rectangle(
        (cx - int(2.3 * head), body_top, cx + int(2.3 * head), body_top + int(5 * head)),
        radius=int(head * 1.2),
        fill=shirt,
    )


def make_logo() -> None:
    width, height = 520, 180
    logo = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((3, 3, width - 4, height - 4), radius=28, outline="white", width=6)
    bold = ImageFont.truetype(str(HERE / "fonts" / "Inter-Bold.otf"), 64)
    regular = ImageFont.truetype(str(HERE / "fonts" / "Inter-Regular.otf"), 30)
    draw.text((width // 2, 74), "LOGO HIER", font=bold, fill="white", anchor="mm")
    draw.text((width // 2, 134), "placeholder: vervang dit", font=regular, fill="white", anchor="mm")
    logo.save(HERE / "logo-placeholder.png", optimize=True)


def make_marieke() -> None:
    size = (2400, 1600)
    photo = _gradient(size, (150, 196, 232), (226, 238, 246))
    draw = ImageDraw.Draw(photo)
    draw.rectangle((0, 1000, 2400, 1600), fill="#6FA35B")
    for x, r, shade in ((260, 330, "#3F7A3A"), (720, 260, "#4C8C43"), (2050, 380, "#3B7035")):
        draw.rectangle((x - 30, 700, x + 30, 1080), fill="#6B4A2F")
        draw.ellipse((x - r, 700 - 2 * r + 120, x + r, 820), fill=shade)
    draw.rectangle((820, 1040, 1780, 1080), fill="#8A5A36")  # bench back
    draw.rectangle((820, 1180, 1780, 1230), fill="#8A5A36")  # bench seat
    for x in (880, 1720):
        draw.rectangle((x - 18, 1230, x + 18, 1400), fill="#4A3A2C")
    _figure(draw, 1300, 560, 1.0, shirt="#C8553D", hair="#5A3A22", long_hair=True)
    photo = photo.filter(ImageFilter.GaussianBlur(2))
    _grain(photo, 40, seed=1).save(HERE / "photos" / "marieke.jpg", quality=85)


def make_joost() -> None:
    size = (1600, 2400)  # as seen: portrait
    photo = _gradient(size, (120, 170, 220), (200, 225, 245))
    draw = ImageDraw.Draw(photo)
    draw.rectangle((0, 1560, 1600, 2400), fill="#B5523B")  # track
    for i in range(6):
        y = 1660 + i * 150
        draw.line((0, y, 1600, y - 60), fill="#F2EDE6", width=10)
    draw.rectangle((0, 1440, 1600, 1560), fill="#5E9E4E")
    # The face sits near the middle, so a crop around the centre keeps it.
    _figure(draw, 800, 980, 1.4, shirt="#1F6FB2", hair="#2B2118")
    draw.rectangle((650, 1660, 950, 1840), fill="white")  # start number
    number = ImageFont.truetype(str(HERE / "fonts" / "Inter-Bold.otf"), 130)
    draw.text((800, 1750), "27", font=number, fill="#1B1B1B", anchor="mm")
    photo = _grain(photo.filter(ImageFilter.GaussianBlur(2)), 40, seed=2)
    # Stored the way a phone held upright stores it: sensor landscape + Orientation 6.
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(HERE / "photos" / "joost.jpg", quality=85, exif=exif)


if __name__ == "__main__":
    (HERE / "photos").mkdir(exist_ok=True)
    make_logo()
    make_marieke()
    make_joost()
