"""Photos on cards: read, decoded, upright, in sRGB and cropped to fill around
`photo_focus` or the faces in them; remembered in `photo_memory` for this process.

Photos are health data about a person: orientation from EXIF is applied, the
photo is decoded at a reduced size where JPEG allows, cropped to fill (never
stretched), converted to sRGB, and the card is written from fresh pixels, so no
EXIF, GPS, ICC profile or file name reaches a card.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from campaign.cards.layout import layout_for
from campaign.errors import CardError
from campaign.files import MAX_PHOTO_BYTES, FileRefused, read_bounded
from campaign.i18n import _
from campaign.models import CARD_SIZES

MAX_PHOTO_PIXELS = 40_000_000


def load_photo(path: Path, size: tuple[int, int], focus: tuple[float, float] | None,
               *, story: str) -> Image.Image:
    """The photo, upright, in sRGB, cropped to fill `size` around `focus`; CardError if unusable."""
    data = _read_photo(path, story)
    return photo_from_bytes(data, size, focus, story=story, name=path.name)


def _read_photo(path: Path, story: str) -> bytes:
    """The photo's bytes: an ordinary file of at most MAX_PHOTO_BYTES (never a pipe or device)."""
    try:
        return read_bounded(path, MAX_PHOTO_BYTES, too_large=_("export it smaller"))
    except FileRefused as exc:
        raise CardError(f"{story}: photo: {path.name} {exc}") from None


class _PhotoMemory:
    """The last few photos decoded and cropped in this process, by the sha256 of their bytes.

    A story's three formats share one decode (made large enough for every photo
    box), and a story whose text is edited keeps its cropped photo. Small and
    bounded: a campaign has a handful of photos, and the scheduler renders rarely.
    """

    def __init__(self, decoded: int = 3, cropped: int = 12) -> None:
        self._limits = (decoded, cropped)
        self.decoded: OrderedDict[str, Image.Image] = OrderedDict()
        self.cropped: OrderedDict[tuple[object, ...], Image.Image] = OrderedDict()
        self.found: dict[str, tuple[Face, ...]] = {}  # the faces in each photo

    @staticmethod
    def _remember(store: OrderedDict[Any, Image.Image], key: object, image: Image.Image,
                  limit: int) -> Image.Image:
        store[key] = image
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)
        return image

    def decode(self, digest: str, make: Callable[[], Image.Image]) -> Image.Image:
        if digest in self.decoded:
            self.decoded.move_to_end(digest)
            return self.decoded[digest]
        return self._remember(self.decoded, digest, make(), self._limits[0])

    def crop(self, key: tuple[object, ...], make: Callable[[], Image.Image]) -> Image.Image:
        if key in self.cropped:
            self.cropped.move_to_end(key)
            return self.cropped[key]
        return self._remember(self.cropped, key, make(), self._limits[1])

    def faces(self, digest: str, find: Callable[[], tuple[Face, ...]]) -> tuple[Face, ...]:
        if digest not in self.found:
            if len(self.found) >= self._limits[1]:
                self.found.pop(next(iter(self.found)))
            self.found[digest] = find()
        return self.found[digest]

    def clear(self) -> None:
        self.decoded.clear()
        self.cropped.clear()
        self.found.clear()


photo_memory = _PhotoMemory()
# Every format's photo box: one decode must be large enough for all of them.
_PHOTO_BOXES = [(b.width, b.height) for b in (layout_for(f, 0).photo for f in CARD_SIZES)]


def photo_from_bytes(data: bytes, size: tuple[int, int], focus: tuple[float, float] | None,
                     *, story: str, name: str) -> Image.Image:
    """`load_photo` from the photo's bytes, reusing this process's earlier decode of them."""
    digest = hashlib.sha256(data).hexdigest()
    upright = photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=name))
    return photo_memory.crop((digest, size, focus), lambda: crop_to_fill(upright, size, focus))


def _prepared_photo(path: Path, digest: str, size: tuple[int, int],
                    focus: tuple[float, float] | None, *, story: str) -> tuple[Image.Image, str]:
    """The cropped photo and the digest of the bytes it was made from; reads the file only
    when this process has not decoded those bytes yet. Without `focus`, the crop keeps the
    faces in the photo on the card."""
    if digest not in photo_memory.decoded:
        data = _read_photo(path, story)
        digest = hashlib.sha256(data).hexdigest()
        photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=path.name))
    upright = photo_memory.decode(digest, lambda: photo_memory.decoded[digest])
    if focus is None:
        faces = photo_memory.faces(digest, lambda: detect_faces(upright))
        focus = face_focus(faces, upright.size, size)[0]
    return photo_memory.crop((digest, size, focus),
                             lambda: crop_to_fill(upright, size, focus)), digest


def photo_faces(path: Path, *, story: str) -> tuple[tuple[int, int], tuple[Face, ...]]:
    """(the upright photo's size, its faces): for check's warnings."""
    data = _read_photo(path, story)
    digest = hashlib.sha256(data).hexdigest()
    upright = photo_memory.decode(digest, lambda: _decode_photo(data, story=story, name=path.name))
    return upright.size, photo_memory.faces(digest, lambda: detect_faces(upright))


def _decode_photo(data: bytes, *, story: str, name: str) -> Image.Image:
    """Decode upright and in sRGB, at the smallest JPEG scale that still covers every photo box."""
    fix = _("use a JPEG or PNG photo of at most 40 megapixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data))
            pixels = source.width * source.height
            if pixels > MAX_PHOTO_PIXELS:
                raise CardError(f"{story}: photo: " + _(
                    "{name} is {width}x{height} ({megapixels} megapixels), over the limit of 40: "
                    "{fix}").format(name=name, width=source.width, height=source.height,
                                    megapixels=f"{pixels / 1e6:.0f}", fix=fix))
            sideways = source.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            scale = max(
                max((h if sideways else w) / source.width, (w if sideways else h) / source.height)
                for w, h in _PHOTO_BOXES
            )
            if source.format == "JPEG" and scale < 1:
                source.draft("RGB", (math.ceil(source.width * scale), math.ceil(source.height * scale)))
            source.load()
            upright = _to_srgb(ImageOps.exif_transpose(source), source.info.get("icc_profile"))
    except CardError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CardError(f"{story}: photo: " + _(
            "{name} claims to be enormous (a decompression bomb?): {fix}").format(
                name=name, fix=fix)) from None
    except UnidentifiedImageError:
        raise CardError(f"{story}: photo: " + _(
            "{name} is not an image Pillow can read: {fix}").format(name=name, fix=fix)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if "truncated" in str(exc):
            message = _("{name} is truncated (the file is incomplete): save or export it again")
        else:
            message = _("{name} is damaged ({error}): save or export it again")
        raise CardError(f"{story}: photo: " + message.format(name=name, error=exc)) from None
    return upright


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if icc:
        with contextlib.suppress(ImageCms.PyCMSError, OSError):
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGB" if image.mode not in ("RGBA", "LA", "PA") else "RGBA"
            converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=mode)
            if converted is not None:
                image = converted
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB") if image.mode != "RGB" else image


@lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def crop_box(image_size: tuple[int, int], size: tuple[int, int],
             focus: tuple[float, float] | None) -> tuple[float, float, float, float]:
    """The part of a photo of `image_size` that fills `size`: as large as the aspect ratio
    allows, around `focus` (0..1; the centre when None), never past the photo's edges."""
    image_w, image_h = image_size
    width, height = size
    scale = max(width / image_w, height / image_h)
    crop_w, crop_h = width / scale, height / scale
    fx, fy = focus if focus is not None else (0.5, 0.5)
    left = min(max(fx * image_w - crop_w / 2, 0), image_w - crop_w)
    top = min(max(fy * image_h - crop_h / 2, 0), image_h - crop_h)
    return left, top, left + crop_w, top + crop_h


def crop_to_fill(image: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None) -> Image.Image:
    """Scale so the photo covers `size`, keep its aspect ratio, crop around `focus` (0..1)."""
    box = crop_box(image.size, size, focus)
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


# --------------------------------------------------------------------------- faces

Face = tuple[float, float, float, float]  # x0, y0, x1, y1 as parts (0..1) of the photo
_FACE_SCAN = 1024  # faces are looked for in a copy at most this many pixels across


def detect_faces(image: Image.Image) -> tuple[Face, ...]:
    """The faces in a photo, found by OpenCV's Haar cascade that ships with the package
    (nothing is downloaded), as parts of the photo, with room for hair and chin."""
    import cv2  # imported here: the first import costs a fifth of a second
    import numpy

    scale = min(1.0, _FACE_SCAN / max(image.size))
    small = image.convert("L")
    if scale < 1:
        small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BOX)
    cascade = _cascade(str(cv2.data.haarcascades)  # type: ignore[attr-defined]
                       + "haarcascade_frontalface_default.xml")
    least = max(20, round(min(small.size) * 0.04))
    found = cascade.detectMultiScale(numpy.asarray(small), scaleFactor=1.1, minNeighbors=6,
                                     minSize=(least, least))
    faces: list[Face] = []
    for row in (found if len(found) else []):
        x, y, w, h = (float(v) for v in row)
        # The cascade finds eyes to mouth: a head reaches further up and a little down.
        x0, x1 = (x - 0.15 * w) / small.width, (x + 1.15 * w) / small.width
        y0, y1 = (y - 0.45 * h) / small.height, (y + 1.2 * h) / small.height
        faces.append((max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)))
    return tuple(sorted(faces))


@lru_cache(maxsize=2)
def _cascade(path: str) -> Any:
    import cv2

    return cv2.CascadeClassifier(path)


def face_focus(faces: Sequence[Face], image_size: tuple[int, int],
               size: tuple[int, int]) -> tuple[tuple[float, float] | None, bool]:
    """(the point to crop around so the faces stay on the card, whether they all do).

    With no faces: (None, True), the centre. When all faces do not fit in one crop,
    the largest is kept, and the answer says so (check then suggests photo_focus)."""
    if not faces:
        return None, True
    left, top, right, bottom = crop_box(image_size, size, None)
    crop_w, crop_h = (right - left) / image_size[0], (bottom - top) / image_size[1]
    x0, y0 = min(f[0] for f in faces), min(f[1] for f in faces)
    x1, y1 = max(f[2] for f in faces), max(f[3] for f in faces)
    fits = x1 - x0 <= crop_w + 1e-9 and y1 - y0 <= crop_h + 1e-9
    if not fits:
        x0, y0, x1, y1 = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
    return ((x0 + x1) / 2, (y0 + y1) / 2), fits


def faces_cut(faces: Sequence[Face], image_size: tuple[int, int], size: tuple[int, int],
              focus: tuple[float, float] | None) -> int:
    """How many faces a crop around `focus` cuts (any part of the face outside the card)."""
    left, top, right, bottom = crop_box(image_size, size, focus)
    w, h = image_size
    cut = 0
    for x0, y0, x1, y1 in faces:
        inner = (x0 + 0.1 * (x1 - x0), y0 + 0.25 * (y1 - y0), x1 - 0.1 * (x1 - x0), y1)
        if inner[0] * w < left - 1 or inner[2] * w > right + 1 or \
                inner[1] * h < top - 1 or inner[3] * h > bottom + 1:
            cut += 1
    return cut
