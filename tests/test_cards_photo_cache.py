"""The photo path of a card (issue 19): the JPEG draft scale, the resampling against a
full-decode LANCZOS reference, and the cropped photos cached in build/cache/photos/<story>/.

Real Pillow images, checked by their pixels; no timings.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from campaign import cards
from campaign.cards import photo as photo_module
from campaign.config import Project, load_project
from campaign.errors import CardError
from campaign.ledger import Ledger
from campaign.models import Consent, Story
from campaign.publish import remove_story_files
from tests.conftest import REPO

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def project(repo_copy: Path) -> Project:
    return load_project(repo_copy / "campaign.toml")


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    cards.photo_memory.clear()


def phone_like_photo(path: Path, size: tuple[int, int], **save: object) -> None:
    """A JPEG with soft shapes and sensor-like noise, as bench/bench_cards.py makes, smaller."""
    rng = random.Random(7)
    small = Image.new("RGB", (size[0] // 8, size[1] // 8))
    draw = ImageDraw.Draw(small)
    for _ in range(300):
        x, y, r = rng.randint(0, small.width), rng.randint(0, small.height), rng.randint(3, 40)
        colour = (rng.randint(40, 230), rng.randint(60, 230), rng.randint(40, 220))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    picture = small.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise(size, 24).convert("RGB")
    Image.blend(picture, noise, 0.08).save(path, quality=90, **save)  # type: ignore[arg-type]


def make_story(photo: Path, **changes: object) -> Story:
    story = Story(
        id="photo-story", file="stories/photo-story.md", title="Twee jaar zoeken",
        name="Marieke", quote="Vraag door.", body="", age=47, diagnosis="GIST", photo=photo,
        photo_alt="Marieke op een bankje", photo_focus=(0.5, 0.4),
        consent=Consent(signed=date(2026, 10, 30), reference="B-1", platforms=None, expires=None),
    )
    return dataclasses.replace(story, **changes)  # type: ignore[arg-type]


def story_cache(project: Project, story: Story) -> Path:
    return cards.photo_cache_dir(project.build_dir, story.id)


class DecodeSpy:
    """Stands in for the photo decoder and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = photo_module._decode_photo

    def __call__(self, data: bytes, *, story: str, name: str) -> Image.Image:
        self.calls += 1
        return self.real(data, story=story, name=name)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> DecodeSpy:
    spy = DecodeSpy()
    monkeypatch.setattr(photo_module, "_decode_photo", spy)
    return spy


# --------------------------------------------------------------------------- the draft scale


@pytest.mark.parametrize(
    ("source", "target", "eighths"),
    [
        ((4032, 3024), (1080, 900), 3),  # a phone photo on every format: 3/8 is 1512x1134
        ((4032, 3024), (1080, 628), 3),  # 2/8 is 1008 wide: one pixel in 14 short
        ((4032, 3024), (600, 628), 2),  # one box of 600x628: 2/8 is 1008x756
        ((4032, 3024), (500, 378), 1),  # 1/8 is exactly 504x378
        ((4032, 3024), (505, 378), 2),  # one pixel too few at 1/8
        ((8064, 6048), (1080, 628), 2),
        ((4031, 3023), (1512, 1134), 3),  # libjpeg rounds up: 1511.6 x 1133.6 make 1512x1134
        ((4032, 3024), (1513, 1134), 4),  # one pixel more than 3/8 gives
        ((2000, 1500), (1080, 628), 8),  # 4/8 would be 1000 wide: decoded whole
        ((1080, 560), (1080, 560), 8),
        ((800, 600), (1080, 628), 8),  # too small already: never smaller still
        ((4033, 3025), (2017, 1513), 4),  # 2017x1513 at 1/2
        ((3024, 4032), (900, 1080), 3),  # sideways: the caller swaps the target
    ],
)
def test_the_draft_scale_is_the_cheapest_that_still_covers_the_target(
        source: tuple[int, int], target: tuple[int, int], eighths: int) -> None:
    assert cards.draft_eighths(source, target) == eighths


@pytest.mark.parametrize("size", [(4032, 3024), (4031, 3023), (3025, 4033), (2883, 2403)])
def test_a_photo_decoded_at_three_eighths_is_the_whole_photo_made_smaller(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """libjpeg-turbo's 3/8 decode (Pillow has no draft for it): the size libjpeg makes,
    and the same picture as the full decode made smaller, not a shifted or torn one."""
    path = tmp_path / "photo.jpg"
    phone_like_photo(path, size)
    assert_decoded_at_three_eighths(path)


def assert_decoded_at_three_eighths(path: Path) -> None:
    """The photo at `path`, decoded for a card, is libjpeg's 3/8 size of the upright photo,
    in RGB, and the full decode made smaller: on average and in every band of rows, so
    that no row is out of place (a wrong row width tears them)."""
    cards.load_photo(path, (1080, 560), None, story="s")
    [decoded] = cards.photo_memory.decoded.values()
    with Image.open(path) as source:
        upright = ImageOps.exif_transpose(source).convert("RGB")
    assert decoded.mode == "RGB"
    assert decoded.size == tuple(-(-side * 3 // 8) for side in upright.size)
    reference = upright.resize(decoded.size, Image.Resampling.LANCZOS)
    difference = ImageChops.difference(decoded, reference)
    assert sum(ImageStat.Stat(difference).mean) / 3 < 1.5
    for top in range(0, decoded.height - 32, decoded.height // 8):
        band = difference.crop((0, top, decoded.width, top + 32))
        assert sum(ImageStat.Stat(band).mean) / 3 < 2.0, top


@pytest.mark.parametrize("kind", ["progressive", "cmyk", "grey", "chroma-4:2:2", "restart-markers",
                                  "turned-by-exif"])
def test_every_kind_of_jpeg_decoded_at_three_eighths_is_the_whole_photo_made_smaller(
        tmp_path: Path, kind: str) -> None:
    """The kinds of JPEG that phones, scanners and photo editors save: the 3/8 decode's tile
    and size rewrite must hold for each (a progressive file is decoded in several scans, a
    CMYK one through Pillow's own conversion, a turned one is turned after the decode)."""
    made = tmp_path / "made.jpg"
    phone_like_photo(made, (4032, 3024))
    with Image.open(made) as source:
        picture = source.convert("RGB")
    path = tmp_path / f"{kind}.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees clockwise to be upright
    saves: dict[str, tuple[Image.Image, dict[str, object]]] = {
        "progressive": (picture, {"progressive": True}),
        "cmyk": (picture.convert("CMYK"), {}),
        "grey": (picture.convert("L"), {}),
        "chroma-4:2:2": (picture, {"subsampling": 1}),
        "restart-markers": (picture, {"restart_marker_blocks": 16}),
        "turned-by-exif": (picture, {"exif": exif.tobytes()}),
    }
    image, options = saves[kind]
    image.save(path, quality=90, **options)  # type: ignore[arg-type]
    assert_decoded_at_three_eighths(path)


def test_without_libjpeg_turbo_a_photo_is_decoded_at_one_half_not_three_eighths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The IJG's libjpeg decodes a scale of 1/3 at 1/2: more rows than Pillow made ready."""
    path = tmp_path / "photo.jpg"
    phone_like_photo(path, (4032, 3024))
    real = photo_module.features.check_feature
    monkeypatch.setattr(photo_module.features, "check_feature",
                        lambda name: False if name == "libjpeg_turbo" else real(name))
    cards.load_photo(path, (1080, 560), None, story="s")
    [decoded] = cards.photo_memory.decoded.values()
    assert decoded.size == (2016, 1512)


def test_the_draft_crop_stays_within_one_level_of_a_full_decode_lanczos_crop(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    size, focus = (1080, 560), (0.5, 0.4)
    ours = cards.load_photo(path, size, focus, story="s")
    [decoded] = cards.photo_memory.decoded.values()
    assert decoded.size == (1200, 900)  # decoded at 1/2: enough for every format's box
    with Image.open(path) as source:
        full = source.convert("RGB")
    reference = full.resize(size, Image.Resampling.LANCZOS, box=cards.crop_box(full.size, size, focus))
    mean = sum(ImageStat.Stat(ImageChops.difference(ours, reference)).mean) / 3
    assert mean < 1.0, mean


def test_the_crop_in_two_halves_is_one_resize_but_for_rounding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    with Image.open(path) as source:
        decoded = source.convert("RGB")
    halves: list[str] = []
    real = photo_module.Background
    monkeypatch.setattr(photo_module, "Background",
                        lambda work: halves.append("top") or real(work))
    for size, focus in (((1080, 560), (0.5, 0.4)), ((1080, 400), (0.2, 0.9)), ((600, 628), None)):
        ours = photo_module.crop_to_fill(decoded, size, focus)
        whole = decoded.resize(size, photo_module.RESAMPLING,
                               box=photo_module.crop_box(decoded.size, size, focus))
        difference = ImageChops.difference(ours, whole)
        assert ours.size == size
        assert max(high for _low, high in difference.getextrema()) <= 1  # no seam, no shift
        assert sum(ImageStat.Stat(difference).mean) / 3 < 0.05
    assert halves == ["top"] * 3  # each was made in two halves at once
    small = photo_module.crop_to_fill(decoded, (80, photo_module.SPLIT_ROWS - 1), None)
    assert small.size == (80, photo_module.SPLIT_ROWS - 1) and len(halves) == 3  # in one go


def test_the_photo_is_decoded_on_a_second_thread_while_the_text_is_set(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    threads: dict[str, str] = {}
    real_decode, real_plan = photo_module._decode_photo, cards.plan_card

    def decode(data: bytes, *, story: str, name: str) -> Image.Image:
        threads["decode"] = threading.current_thread().name
        return real_decode(data, story=story, name=name)

    def plan(*args: object, **kwargs: object) -> cards.CardPlan:
        threads["text"] = threading.current_thread().name
        return real_plan(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(photo_module, "_decode_photo", decode)
    monkeypatch.setattr("campaign.cards.plan.plan_card", plan)
    card = cards.render_card(story, "portrait", project)
    assert threads["text"] == threading.current_thread().name != threads["decode"]
    # The same pixels as drawing with the photo in hand: the photo's box holds no text.
    drawn = cards.draw_card(real_plan(story, "portrait", project), project,
                            cards.load_photo(path, (1080, 560), story.photo_focus, story="s"))
    # Encoded in bands (the text's while the photo was decoded): byte for byte what Pillow
    # writes for the whole card with a restart marker every band.
    rows = cards.band_rows(cards.layout_for("portrait", project.settings.theme.margin))
    assert rows == 280
    assert card.path.read_bytes() == cards.encode_jpeg(drawn, 10**9, 90, band_rows=rows)[0]


def test_after_a_text_only_edit_the_photo_s_rows_are_encoded_on_the_photo_s_thread(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from campaign.cards import draw

    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    cards.render_card(make_story(path), "portrait", project)  # the crop is on disk now
    photo_module.photo_memory.clear()  # as in a new process
    edited = make_story(path, quote="Een nieuwe zin, alleen de tekst is anders.")
    threads: list[str] = []  # where the photo's rows were encoded
    real_encode_part = draw.JpegBands.encode_part

    def encode_part(self: draw.JpegBands, top: int, part: Image.Image, **options: bool) -> bool:
        threads.append(threading.current_thread().name)
        return real_encode_part(self, top, part, **options)

    monkeypatch.setattr(draw.JpegBands, "encode_part", encode_part)
    card = cards.render_card(edited, "portrait", project)
    assert not card.cached
    assert threads and threading.current_thread().name not in threads
    drawn = cards.draw_card(cards.plan_card(edited, "portrait", project), project,
                            cards.load_photo(path, (1080, 560), edited.photo_focus, story="s"))
    assert card.path.read_bytes() == cards.encode_jpeg(drawn, 10**9, 90, band_rows=280)[0]


def test_a_new_photo_s_halves_are_encoded_on_the_threads_that_resampled_them(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from campaign.cards import draw

    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    encoded: list[tuple[str, list[int]]] = []  # (thread, the card's rows of the bands it encoded)
    real_encode_bands = draw.JpegBands._encode_bands

    def encode_bands(self: draw.JpegBands, image: Image.Image, top: int, tops: list[int],
                     **options: bool) -> None:
        if image.height < self.size[1]:  # from the photo, not from the whole card
            encoded.append((threading.current_thread().name, tops))
        real_encode_bands(self, image, top, tops, **options)

    resampled_on: list[str] = []
    real_resize = Image.Image.resize

    def resize(self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object) -> Image.Image:
        if size == (1080, 280):
            resampled_on.append(threading.current_thread().name)
        return real_resize(self, size, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(draw.JpegBands, "_encode_bands", encode_bands)
    monkeypatch.setattr(Image.Image, "resize", resize)
    card = cards.render_card(story, "portrait", project)
    monkeypatch.undo()
    # Each half's band was encoded once, on the thread that had just resampled it, and no
    # band of the photo was left to be encoded from the whole crop afterwards.
    assert len(set(resampled_on)) == 2 and threading.current_thread().name not in resampled_on
    assert sorted(thread for thread, _tops in encoded) == sorted(resampled_on)
    assert sorted(tops for _thread, tops in encoded) == [[0], [280]]
    drawn = cards.draw_card(cards.plan_card(story, "portrait", project), project,
                            cards.load_photo(path, (1080, 560), story.photo_focus, story="s"))
    assert card.path.read_bytes() == cards.encode_jpeg(drawn, 10**9, 90, band_rows=280)[0]


def test_the_text_s_error_is_the_one_told_when_the_photo_is_damaged_too(
        project: Project, tmp_path: Path) -> None:
    path = tmp_path / "half.jpg"
    phone_like_photo(path, (1200, 900))
    path.write_bytes(path.read_bytes()[:20_000])
    story = make_story(path, quote=" ".join(["Dit verhaal is veel te lang voor een kaart."] * 40))
    with pytest.raises(cards.CardTextError) as caught:
        cards.render_card(story, "portrait", project)
    assert caught.value.field == "quote"
    with pytest.raises(CardError, match="truncated"):  # and the photo's own, once the text fits
        cards.render_card(make_story(path), "portrait", project)


def test_faces_are_searched_for_one_photo_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenCV's cascade is one object and not safe for two threads at once (two searches at
    the same time corrupted memory and killed the process)."""
    import threading
    import time

    class Cascade:
        def __init__(self) -> None:
            self.now, self.most = 0, 0

        def detectMultiScale(self, *_args: object, **_kwargs: object) -> tuple[()]:
            self.now += 1
            self.most = max(self.most, self.now)
            time.sleep(0.02)
            self.now -= 1
            return ()

    cascade = Cascade()
    monkeypatch.setattr(photo_module, "_cascade", lambda _path: cascade)
    image = Image.new("RGB", (640, 480), "grey")
    threads = [threading.Thread(target=photo_module.detect_faces, args=(image,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cascade.most == 1


def test_a_story_s_cards_drawn_on_many_threads_at_once_are_the_cards_drawn_one_by_one(
        project: Project, tmp_path: Path) -> None:
    """The workspace's server (waitress, 8 threads) draws a story's three cards at once.
    In a process of its own, so that a crash fails this test instead of ending the run."""
    script = f"""
import dataclasses, shutil, sys, threading
from pathlib import Path
from campaign import cards
from campaign.cards import photo
from campaign.config import load_project
from tests.test_cards_photo_cache import make_story, phone_like_photo

project = load_project(Path({str(project.config_file)!r}))
photos = []
for i in range(4):
    path = Path({str(tmp_path)!r}) / f"p{{i}}.jpg"
    phone_like_photo(path, (1600 + 16 * i, 1200))
    photos.append(path)
stories = [make_story(photos[i % 4], id=f"s{{i}}", file=f"stories/s{{i}}.md",
                      photo_focus=None if i % 2 else (0.5, 0.4)) for i in range(8)]
jobs = [(story, fmt) for story in stories for fmt in ("portrait", "square", "landscape")]
photo.photo_memory = photo._PhotoMemory(decoded=1, cropped=2)  # much coming and going
alone = {{}}
for story, fmt in jobs:
    alone[story.id, fmt] = cards.render_card(story, fmt, project, force=True).path.read_bytes()
errors = []
for _ in range(4):
    shutil.rmtree(project.build_dir, ignore_errors=True)
    photo.photo_memory.clear()
    def draw(story, fmt):
        try:
            card = cards.render_card(story, fmt, project, force=True)
            if card.path.read_bytes() != alone[story.id, fmt]:
                errors.append(f"{{story.id}} {{fmt}}: other pixels")
        except Exception as exc:
            errors.append(repr(exc))
    threads = [threading.Thread(target=draw, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(errors)
"""
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------- the disk cache


def test_a_text_only_edit_in_a_fresh_process_does_not_decode_the_photo(
        project: Project, tmp_path: Path, decodes: DecodeSpy) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    first = cards.render_card(story, "portrait", project)
    assert decodes.calls == 1
    assert len(list(story_cache(project, story).glob("*.rgb"))) == 1
    cards.photo_memory.clear()  # as a new process: nothing decoded in memory
    again = cards.render_card(story, "portrait", project, force=True)
    assert decodes.calls == 1  # not decoded again
    assert again.path.read_bytes() == first.path.read_bytes()  # the very same pixels
    cards.photo_memory.clear()
    edited = cards.render_card(dataclasses.replace(story, quote="Een nieuw citaat."), "portrait",
                               project)
    assert not edited.cached and decodes.calls == 1


def test_the_cached_crop_has_the_pixels_of_the_crop_it_replaces(
        project: Project, tmp_path: Path, decodes: DecodeSpy) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    digest = cards.assets._digest(path)
    folder = tmp_path / "cache"
    made, _, store = photo_module._prepared_photo(path, digest, (1080, 400), (0.3, 0.6),
                                                  story="s", cache=folder)
    assert store is not None and not list(folder.glob("*.rgb"))  # written when the caller says
    store()
    cards.photo_memory.clear()
    read, _, again = photo_module._prepared_photo(path, digest, (1080, 400), (0.3, 0.6),
                                                  story="s", cache=folder)
    assert decodes.calls == 1 and again is None
    assert read.size == made.size and read.tobytes() == made.tobytes()


def test_faces_are_kept_beside_the_crops_so_an_edit_does_not_look_for_them_again(
        project: Project, tmp_path: Path, decodes: DecodeSpy, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path, photo_focus=None)
    looked = []

    def no_faces(image: Image.Image) -> tuple[cards.Face, ...]:
        looked.append(image.size)
        return ((0.1, 0.2, 0.3, 0.5),)

    monkeypatch.setattr(photo_module, "detect_faces", no_faces)
    first = cards.render_card(story, "square", project)
    assert looked == [(1200, 900)] and decodes.calls == 1
    assert len(list(story_cache(project, story).glob("*.faces.json"))) == 1
    cards.photo_memory.clear()
    again = cards.render_card(story, "square", project, force=True)
    assert looked == [(1200, 900)] and decodes.calls == 1
    assert again.path.read_bytes() == first.path.read_bytes()
    cards.photo_memory.clear()  # check's warnings read the same faces file
    assert cards.photo_faces(path, story=story.file, cache=story_cache(project, story)) == \
        ((1200, 900), ((0.1, 0.2, 0.3, 0.5),))
    assert decodes.calls == 1


@pytest.mark.parametrize("damage", [b"", b"campaign-photo 1\n1080 560\nshort", b"\x00" * 4096,
                                    b"campaign-photo 1\n99 99\n" + b"\x00" * 99 * 99 * 3])
def test_a_damaged_cache_file_is_made_again_not_an_error(
        project: Project, tmp_path: Path, decodes: DecodeSpy, damage: bytes) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    first = cards.render_card(story, "portrait", project)
    [stored] = story_cache(project, story).glob("*.rgb")
    stored.write_bytes(damage)
    cards.photo_memory.clear()
    again = cards.render_card(story, "portrait", project, force=True)
    assert decodes.calls == 2  # decoded again, and the file written again
    assert again.path.read_bytes() == first.path.read_bytes()
    assert cards.read_cached_photo(stored, (1080, 560)) is not None


def test_a_damaged_faces_file_is_made_again(project: Project, tmp_path: Path,
                                            decodes: DecodeSpy) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path, photo_focus=None)
    cards.render_card(story, "square", project)
    [faces] = story_cache(project, story).glob("*.faces.json")
    faces.write_text('{"version": "1", "size": [1, "x"]', encoding="utf-8")
    cards.photo_memory.clear()
    cards.render_card(story, "square", project, force=True)
    assert decodes.calls == 2
    assert photo_module.read_cached_faces(faces) is not None


def test_the_cache_key_follows_the_focus_the_size_and_the_photo(
        project: Project, tmp_path: Path) -> None:
    name = cards.crop_file_name
    base = name("a" * 64, (1080, 560), (0.5, 0.4))
    assert base == name("a" * 64, (1080, 560), (0.5, 0.4))
    assert len({base, name("a" * 64, (1080, 560), (0.5, 0.5)), name("a" * 64, (1080, 400), (0.5, 0.4)),
                name("b" * 64, (1080, 560), (0.5, 0.4)), name("a" * 64, (1080, 560), None)}) == 5
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    folder = story_cache(project, story)
    names = []
    cards.render_card(story, "portrait", project)
    names += [f.name for f in folder.glob("*.rgb")]
    cards.render_card(dataclasses.replace(story, photo_focus=(0.5, 0.7)), "portrait", project)
    names += [f.name for f in folder.glob("*.rgb")]
    with Image.open(path) as source:  # other bytes: another photo
        source.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path, quality=90)
    cards.render_card(story, "portrait", project)
    cards.render_card(story, "square", project)
    now = sorted(f.name for f in folder.glob("*.rgb"))
    assert len(set(names)) == 2 and not set(names) & set(now)
    # One crop per size stays: the earlier photo's and focus's are removed.
    assert [n.split("-")[0] for n in now] == ["1080x400", "1080x560"]


def test_cached_photos_carry_no_metadata(project: Project, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 5.0, 0.0), "E", (4.0, 53.0, 0.0)
    path = tmp_path / "IMG_PatientName.jpg"
    phone_like_photo(path, (1600, 1200), exif=exif)
    story = make_story(path, photo_focus=None)
    for fmt in ("portrait", "square", "landscape"):
        cards.render_card(story, fmt, project)  # type: ignore[arg-type]
    stored = sorted(story_cache(project, story).iterdir())
    assert len(stored) == 4  # three crops and the faces
    for file in stored:
        data = file.read_bytes()
        # Long needles only: three random bytes of pixels may well spell "GPS".
        for needle in (b"Exif\x00\x00", b"CameraMaker", b"PatientName", b"ICC_PROFILE"):
            assert needle not in data, (file.name, needle)
        if file.suffix == ".rgb":  # a header and the pixels, and not one byte more
            header, dims, _pixels = data.split(b"\n", 2)
            width, height = (int(v) for v in dims.split())
            assert header == b"campaign-photo 1"
            assert len(data) == len(header) + len(dims) + 2 + width * height * 3
        else:
            assert set(json.loads(data)) == {"version", "size", "faces"}


def test_withdrawing_a_story_removes_its_cached_photos(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (1600, 1200))
    story = make_story(path)
    other = make_story(path, id="other-story")
    for each in (story, other):
        cards.render_card(each, "portrait", project)
        cards.render_card(each, "square", project)
    mine, theirs = story_cache(project, story), story_cache(project, other)
    assert len(list(mine.iterdir())) == 2
    with Ledger.open(project.ledger_path) as ledger:
        removed = remove_story_files(project, story.id, ledger, NOW)
    assert not mine.exists()
    assert removed >= 2 + 4  # two crops, two cards and their two notes
    assert len(list(theirs.iterdir())) == 2  # another story's stay


def test_a_new_process_reads_the_crop_from_disk(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    first = cards.render_card(make_story(path), "portrait", project)
    script = f"""
import dataclasses, sys
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from campaign import cards
from campaign.cards import photo
from campaign.config import load_project
from tests.test_cards_photo_cache import make_story

def refuse(*args, **kwargs):
    raise SystemExit("decoded the photo")

photo._decode_photo = refuse
project = load_project(Path({str(project.root / "campaign.toml")!r}))
card = cards.render_card(make_story(Path({str(path)!r})), "portrait", project, force=True)
print(card.bytes)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == first.bytes


def test_a_photo_replaced_just_before_it_is_read_is_hashed_and_the_card_filed_under_it(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """render_card takes the photo's digest, then its photo thread reads the file. A photo
    saved in between has a new modification time: its bytes are hashed, not trusted."""
    import hashlib
    import os

    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    story = make_story(path)
    replacement = tmp_path / "other.jpg"
    phone_like_photo(replacement, (2400, 1800))  # its noise differs: other bytes
    real_read = photo_module._read_photo

    def read_after_a_save(file: Path, name: str) -> bytes:
        os.replace(replacement, file)  # a colleague saves a new photo just now
        return real_read(file, name)

    monkeypatch.setattr(photo_module, "_read_photo", read_after_a_save)
    card = cards.render_card(story, "portrait", project)
    new = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = json.loads(card.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert manifest["key"] == cards.cache_key(story, "portrait", project, new)


def test_a_photo_read_unchanged_is_not_hashed_a_second_time(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    path = tmp_path / "phone.jpg"
    phone_like_photo(path, (2400, 1800))
    size = path.stat().st_size
    story = make_story(path)
    cards.assets._digest(path)  # render_card's look at the photo
    hashed: list[int] = []
    real = hashlib.sha256

    def counting(data: bytes = b"", **kwargs: object) -> object:
        hashed.append(len(data))
        return real(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(photo_module.hashlib, "sha256", counting)
    card = cards.render_card(story, "portrait", project)
    assert not card.cached
    assert size not in hashed  # only small things (file names) were hashed
