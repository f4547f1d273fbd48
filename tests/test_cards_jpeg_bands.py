"""A card's JPEG encoded in bands of rows and joined with restart markers (cards/draw.py,
issue 19): byte for byte what Pillow writes for the whole image with `restart_marker_rows`,
the same pixels as without markers, and read alike by another decoder (OpenCV's).

Real Pillow images, checked by their bytes and pixels; no timings.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
from pathlib import Path

import cv2
import numpy
import pytest
from PIL import Image, ImageDraw, ImageFilter

from campaign import cards
from campaign.cards import draw
from campaign.cards.draw import JpegBands, _header
from campaign.config import Project, load_project
from campaign.models import CARD_SIZES
from campaign.stories import read_stories
from tests.conftest import REPO


@pytest.fixture
def project(repo_copy: Path) -> Project:
    return load_project(repo_copy / "campaign.toml")


def busy_card(size: tuple[int, int], seed: int = 3) -> Image.Image:
    """Coloured shapes, text-like strokes and noise: every band has something to code."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (250, 246, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randint(5, 200), y + rng.randint(5, 200)), fill=colour)
        draw.line((x, y, x + rng.randint(-300, 300), y + rng.randint(-40, 40)), fill=(20, 20, 30),
                  width=rng.randint(1, 4))
    noise = Image.effect_noise(size, 30).convert("RGB")
    return Image.blend(image.filter(ImageFilter.GaussianBlur(1)), noise, 0.1)


def whole(image: Image.Image, quality: int, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=0, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("size", "rows"),
    [
        ((1080, 1350), 560),  # portrait: photo 0-560, then 560-1120 and a last band of 230
        ((1080, 1080), 400),  # square
        ((1080, 1350), 8),  # the smallest band: one row of blocks
        ((1083, 1001), 200),  # neither side on a block edge: the coder pads the last blocks
        ((64, 2000), 64),  # more than eight bands: RST0..RST7 and round again
    ],
)
@pytest.mark.parametrize("quality", [90, 55])
def test_the_joined_bands_are_the_bytes_pillow_writes_with_restart_markers(
        size: tuple[int, int], rows: int, quality: int) -> None:
    image = busy_card(size)
    bands = JpegBands(size, rows, quality)
    order = list(range(0, size[1], rows))
    random.Random(size[0] + rows).shuffle(order)
    for top in order:  # in any order: each band is coded on its own
        bands.encode(image, outside=(0, top) if top else (rows, size[1]))
    joined = bands.finish(image)
    assert joined == whole(image, quality, restart_marker_rows=rows // 8)


def test_the_joined_bands_have_the_pixels_of_a_jpeg_without_markers() -> None:
    image = busy_card((1080, 1350))
    bands = JpegBands(image.size, 560, 90)
    joined = bands.finish(image)
    plain = whole(image, 90)
    assert joined != plain and b"\xff\xdd" in joined  # markers were written
    with Image.open(io.BytesIO(joined)) as ours, Image.open(io.BytesIO(plain)) as theirs:
        assert ours.size == theirs.size == (1080, 1350)
        assert ours.tobytes() == theirs.tobytes()
    # Another decoder (OpenCV's, its own build of libjpeg-turbo) reads them alike.
    decoded = [cv2.imdecode(numpy.frombuffer(data, numpy.uint8), cv2.IMREAD_COLOR)
               for data in (joined, plain)]
    assert decoded[0] is not None and decoded[0].shape == (1350, 1080, 3)
    assert numpy.array_equal(decoded[0], decoded[1])


def test_rows_that_hold_the_photo_are_left_for_later() -> None:
    image = busy_card((1080, 1350))
    bands = JpegBands(image.size, 560, 90)
    bands.encode(image, outside=(0, 560))
    assert sorted(bands._bands) == [560, 1120]
    # The photo arrives: its rows change, and the join codes them as they are now.
    image.paste((200, 30, 30), (0, 0, 1080, 560))
    assert bands.finish(image) == whole(image, 90, restart_marker_rows=70)


def test_a_stream_that_is_not_a_plain_jpeg_is_refused() -> None:
    with pytest.raises(ValueError, match="not a whole JPEG"):
        _header(b"\xff\xd8 not a jpeg")
    progressive = whole(busy_card((64, 64)), 90, progressive=True)
    bands = JpegBands((64, 64), 32, 90)
    bands._bands[0] = bands._bands[32] = progressive
    with pytest.raises(ValueError, match="baseline"):
        bands.finish(busy_card((64, 64)))


def test_each_layout_s_bands_have_edges_at_the_photo_s_top_middle_and_bottom() -> None:
    margin = load_project(REPO / "campaign.toml").settings.theme.margin
    # The photo's two halves (resampled at once by crop_to_fill) are a band each.
    assert cards.band_rows(cards.layout_for("portrait", margin)) == 280
    assert cards.band_rows(cards.layout_for("square", margin)) == 200
    # Landscape's photo is a column from top to bottom: every row holds photo, one band.
    assert cards.band_rows(cards.layout_for("landscape", margin)) == 0
    for fmt in CARD_SIZES:
        rows = cards.band_rows(cards.layout_for(fmt, margin))
        box = cards.layout_for(fmt, margin).photo
        middle = box.y0 + box.height // 2
        assert rows == 0 or (box.y0 % rows == 0 and box.y1 % rows == 0 and rows % 8 == 0
                             and middle % rows == 0)


def test_a_photo_box_without_a_middle_on_a_block_edge_is_one_band() -> None:
    layout = cards.layout_for("portrait", load_project(REPO / "campaign.toml").settings.theme.margin)
    odd = dataclasses.replace(layout, photo=dataclasses.replace(layout.photo, y1=552))  # half 276
    assert cards.band_rows(odd) == 552


def test_the_photo_s_bands_encoded_from_the_crop_on_two_threads_are_the_bytes_of_the_whole() -> None:
    image = busy_card((1080, 1350), seed=5)
    photo = image.crop((0, 0, 1080, 560))
    bands = JpegBands(image.size, 280, 90)
    assert bands.encode_part(0, photo)  # bands 0 and 280, one on a second thread
    assert sorted(bands._bands) == [0, 280]
    bands.encode(image, outside=(0, 560), together=True)  # 560, 840, 1120: two threads
    assert sorted(bands._bands) == [0, 280, 560, 840, 1120]
    assert bands.finish(image) == whole(image, 90, restart_marker_rows=35)


def test_a_part_that_does_not_cover_whole_bands_is_refused_and_left_to_be_pasted() -> None:
    bands = JpegBands((1080, 1350), 280, 90)
    photo = busy_card((1080, 560))
    assert not bands.encode_part(0, photo.crop((0, 0, 1080, 300)))  # ends inside a band
    assert not bands.encode_part(8, photo)  # begins inside one
    assert not bands.encode_part(0, photo.crop((0, 0, 1000, 560)))  # narrower than the card
    assert bands._bands == {}


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="files in memory are Linux's")
def test_a_jpeg_encoded_into_a_file_in_memory_is_the_one_pillow_writes_into_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    image = busy_card((1083, 1001), seed=2)
    in_memory_file = draw._encode(image, 90, 200)
    monkeypatch.setattr(draw, "_MEMFD", None)  # as on macOS: a BytesIO
    assert in_memory_file == draw._encode(image, 90, 200) == whole(image, 90, restart_marker_rows=25)

    def refused(name: str, flags: int) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(draw, "_MEMFD", refused)  # refused: a BytesIO too
    assert draw._encode(image, 90, 200) == in_memory_file


def test_a_card_over_its_limit_is_encoded_again_whole_at_a_lower_quality() -> None:
    image = busy_card((1080, 1350), seed=9)
    started = JpegBands(image.size, 560, 90)
    started.encode(image, outside=(0, 560))
    full = whole(image, 90, restart_marker_rows=70)
    data, quality = cards.encode_jpeg(image, len(full) - 1, 90, band_rows=560, started=started)
    assert quality == 85
    assert data == whole(image, 85, restart_marker_rows=70)


def test_a_rendered_card_with_a_photo_is_one_jpeg_read_alike_by_pillow_and_opencv(
        project: Project) -> None:
    stories = [r.story for r in read_stories(project) if r.story is not None]
    story = next(s for s in stories if s.photo is not None)
    card = cards.render_card(story, "portrait", project, force=True)
    data = card.path.read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.format == "JPEG" and opened.size == (1080, 1350)
        pillow = numpy.asarray(opened.convert("RGB"))[:, :, ::-1]
    opencv = cv2.imdecode(numpy.frombuffer(data, numpy.uint8), cv2.IMREAD_COLOR)
    assert numpy.array_equal(pillow, opencv)


