"""Photos on cards: read, decoded, upright, in sRGB and cropped to fill around
`photo_focus` or the faces in them; remembered in `photo_memory` for this process
and, when the caller gives a folder (build/cache/photos/<story>/), on disk, so a
text-only edit in a new process does not decode the photo again.

Photos are health data about a person: orientation from EXIF is applied, the
photo is decoded at a reduced size where JPEG allows, cropped to fill (never
stretched), converted to sRGB, and the card is written from fresh pixels, so no
EXIF, GPS, ICC profile or file name reaches a card; the cached crops on disk are
bare pixels with a two-line header, so no metadata reaches them either.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError, features

from campaign.cards.assets import known_digest
from campaign.cards.layout import layout_for
from campaign.errors import CardError
from campaign.files import MAX_PHOTO_BYTES, FileRefused, read_bounded
from campaign.i18n import _
from campaign.models import CARD_SIZES

MAX_PHOTO_PIXELS = 40_000_000

# Measured (bench/bench_cards.py, a 12 MP phone photo decoded at 1/2): from the JPEG draft,
# BILINEAR is 8 ms against LANCZOS's 19 ms, and differs from a LANCZOS crop of the full
# decode by 0.33 on average (0-255); BOX is 6 ms but 0.62. Pillow's BILINEAR widens its
# triangle with the scale, so it is a real anti-aliased downscale, not point sampling.
RESAMPLING = Image.Resampling.BILINEAR
# Bump when the decode or the crop changes its pixels: every cached crop is made again.
PHOTO_CACHE_VERSION = "3"  # 2: the crop resampled in two halves; 3: decoded at 3/8
# A crop of at least this many rows is resampled in two halves at once (`crop_to_fill`).
SPLIT_ROWS = 64

T = TypeVar("T")


class Background(Generic[T]):
    """`work()` on a thread of its own, begun at once; `result()` waits for it and returns
    its value or raises its exception. Pillow lets go of the GIL while it decodes and
    resamples, so a photo's decode and crop run on the second core while this thread
    sets the card's text (issue 19: about 15 of a first card's 50 ms).

    A thread per call rather than a shared `concurrent.futures` pool: the photo's work
    itself waits for a second thread (`crop_to_fill`), and a bounded pool whose workers
    all wait like that would have none left for the halves they wait for."""

    def __init__(self, work: Callable[[], T], *, head_start: bool = False,
                 then: Callable[[T], None] | None = None) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._then_error: BaseException | None = None
        self._done = threading.Event()
        self._going = threading.Event() if head_start else None
        self._thread = threading.Thread(target=self._run, args=(work, then), daemon=True)
        self._thread.start()
        if self._going is not None:
            # With `head_start`, wait until the work calls `let_go()` (or ends): the Python
            # before a photo's decode (reading it, its headers) then does not wait for the
            # GIL behind this thread's text setting. Measured: the decode began 2 ms sooner.
            self._going.wait(timeout=1.0)

    def _run(self, work: Callable[[], T], then: Callable[[T], None] | None) -> None:
        _this_thread.going = self._going
        try:
            self._value = work()
        except BaseException as exc:  # handed to the thread that waits, in result()
            self._error = exc
        finally:
            if self._going is not None:
                self._going.set()
            self._done.set()
        if then is not None and self._error is None:
            try:
                then(self._value)  # type: ignore[arg-type]
            except BaseException as exc:  # handed over in finished()
                self._then_error = exc

    def done(self) -> bool:
        """Whether the work has ended (`then` may still run)."""
        return self._done.is_set()

    def result(self) -> T:
        """The work's value (or its exception), as soon as it is there: `then` may still run."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def finished(self) -> None:
        """Wait for `then` as well (it was given the value after `result()` had it)."""
        self._thread.join()
        if self._then_error is not None:
            raise self._then_error


_this_thread = threading.local()


def let_go() -> None:
    """Let the thread that started this one with `Background(..., head_start=True)` go
    on: this one is about to work for a while without needing the GIL."""
    going = getattr(_this_thread, "going", None)
    if going is not None:
        going.set()


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
        # The workspace's server draws a story's cards on several threads at once: one at a
        # time here, so the second waits for the first's decode and then finds it.
        self._lock = threading.RLock()
        self.decoded: OrderedDict[str, Image.Image] = OrderedDict()
        self.cropped: OrderedDict[tuple[object, ...], Image.Image] = OrderedDict()
        self.found: dict[str, tuple[Face, ...]] = {}  # the faces in each photo
        self.sizes: dict[str, tuple[int, int]] = {}  # the decoded size each was found in

    @staticmethod
    def _remember(store: OrderedDict[Any, Image.Image], key: object, image: Image.Image,
                  limit: int) -> Image.Image:
        store[key] = image
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)
        return image

    def decode(self, digest: str, make: Callable[[], Image.Image]) -> Image.Image:
        with self._lock:
            if digest in self.decoded:
                self.decoded.move_to_end(digest)
                return self.decoded[digest]
            return self._remember(self.decoded, digest, make(), self._limits[0])

    def crop(self, key: tuple[object, ...], make: Callable[[], Image.Image]) -> Image.Image:
        with self._lock:
            if key in self.cropped:
                self.cropped.move_to_end(key)
                return self.cropped[key]
            return self._remember(self.cropped, key, make(), self._limits[1])

    def recall(self, key: tuple[object, ...]) -> Image.Image | None:
        """The crop made for `key`, if it is still remembered."""
        with self._lock:
            if key not in self.cropped:
                return None
            self.cropped.move_to_end(key)
            return self.cropped[key]

    def faces(self, digest: str, size: tuple[int, int],
              find: Callable[[], tuple[Face, ...]]) -> tuple[Face, ...]:
        """The faces in the photo `digest` (decoded at `size`): remembered, or `find()`."""
        with self._lock:
            if digest not in self.found:
                if len(self.found) >= self._limits[1]:
                    oldest = next(iter(self.found))
                    self.found.pop(oldest)
                    self.sizes.pop(oldest, None)
                self.found[digest] = find()
            self.sizes[digest] = size
            return self.found[digest]

    def recall_decoded(self, digest: str) -> Image.Image | None:
        """The photo decoded from the bytes `digest`, if it is still remembered."""
        with self._lock:
            if digest not in self.decoded:
                return None
            self.decoded.move_to_end(digest)
            return self.decoded[digest]

    def known_faces(self, digest: str) -> tuple[tuple[int, int], tuple[Face, ...]] | None:
        """(the decoded size, the faces) found in the photo `digest`, if still remembered."""
        with self._lock:
            if digest in self.found and digest in self.sizes:
                return self.sizes[digest], self.found[digest]
            return None

    def clear(self) -> None:
        with self._lock:
            self.decoded.clear()
            self.cropped.clear()
            self.found.clear()
            self.sizes.clear()


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
                    focus: tuple[float, float] | None, *, story: str,
                    cache: Path | None = None,
                    each_half: Callable[[int, Image.Image], object] | None = None,
                    ) -> tuple[Image.Image, str, Callable[[], None] | None]:
    """(the cropped photo, the digest of the bytes it was made from, what is left to store).

    Looked for in this process's memory, then in the `cache` folder on disk; the file is
    read and decoded only when neither has it. Without `focus`, the crop keeps the faces in
    the photo on the card (found once per photo and kept beside the crops). A crop that the
    folder does not hold yet comes with the call that writes it there (1.4 ms for 1.8 MB),
    for the caller to make while it finishes the card, or None. A crop made here from the
    decoded photo hands its halves to `each_half` as they are made (`crop_to_fill`)."""
    if focus is None:
        upright_size, faces, digest = _faces(path, digest, story=story, cache=cache)
        focus = face_focus(faces, upright_size, size)[0]
    key = (digest, size, focus)
    stored = cache / crop_file_name(digest, size, focus) if cache is not None else None
    if (remembered := photo_memory.recall(key)) is not None:
        if stored is not None and not stored.exists():  # another story with the same photo
            return remembered, digest, lambda: write_cached_photo(stored, remembered)
        return remembered, digest, None
    if stored is not None and stored.is_file():
        let_go()  # reading the crop lets go of the GIL: the text need not wait for it
        if (image := read_cached_photo(stored, size)) is not None:
            return photo_memory.crop(key, lambda: image), digest, None
    upright, drawn = _decoded(path, digest, story=story)
    # When the photo changed a moment ago, `drawn` names what this crop was made from.
    cropped = photo_memory.crop((drawn, size, focus),
                                lambda: crop_to_fill(upright, size, focus, each_half=each_half))
    if cache is None:
        return cropped, drawn, None
    name = crop_file_name(drawn, size, focus)

    def store() -> None:
        write_cached_photo(cache / name, cropped)
        _prune(cache, f"{size[0]}x{size[1]}-*.rgb", keep=name)  # the story's earlier crop

    return cropped, drawn, store


def _decoded(path: Path, digest: str, *, story: str) -> tuple[Image.Image, str]:
    """The decoded photo and the digest of the bytes decoded: from memory, else read once."""
    if (remembered := photo_memory.recall_decoded(digest)) is not None:
        return remembered, digest
    data = _read_photo(path, story)
    drawn = digest if _still(path, digest, len(data)) else hashlib.sha256(data).hexdigest()
    return photo_memory.decode(drawn, lambda: _decode_photo(data, story=story, name=path.name)), drawn


def _still(path: Path, digest: str, size: int) -> bool:
    """Whether the photo just read still has the size and modification time its `digest`
    was made under (`assets._digest`), so its bytes are not hashed again: 0.65 ms of a
    first card for a 1.3 MB photo. Looked at after the read: a photo replaced before or
    during it has a new modification time, and is hashed."""
    try:
        after = path.stat()
    except OSError:
        return False
    return after.st_size == size and known_digest(path, after.st_mtime_ns, size) == digest


def _faces(path: Path, digest: str, *, story: str,
           cache: Path | None) -> tuple[tuple[int, int], tuple[Face, ...], str]:
    """(the decoded photo's size, its faces, the digest they belong to): from memory, from
    the faces file in `cache`, or found in the decoded photo (and then written there)."""
    stored = cache / faces_file_name(digest) if cache is not None else None
    if (remembered := photo_memory.known_faces(digest)) is not None:
        size, faces = remembered
        if stored is not None and not stored.exists():  # another story with the same photo
            _write_faces(stored, size, faces)
        return size, faces, digest
    if stored is not None and (known := read_cached_faces(stored)) is not None:
        return known[0], photo_memory.faces(digest, known[0], lambda: known[1]), digest
    upright, digest = _decoded(path, digest, story=story)
    faces = photo_memory.faces(digest, upright.size, lambda: detect_faces(upright))
    if cache is not None:
        _write_faces(cache / faces_file_name(digest), upright.size, faces)
        _prune(cache, "*.faces.json", keep=faces_file_name(digest))  # an earlier photo's
    return upright.size, faces, digest


def photo_faces(path: Path, *, story: str,
                cache: Path | None = None) -> tuple[tuple[int, int], tuple[Face, ...]]:
    """(the decoded photo's size, its faces): for check's warnings; from `cache` when there."""
    data = _read_photo(path, story)
    size, faces, _digest = _faces(path, hashlib.sha256(data).hexdigest(), story=story, cache=cache)
    return size, faces


# --------------------------------------------------------------------------- the disk cache
#
# A crop is stored as bare pixels: a two-line text header ("campaign-photo 1", "W H")
# and then W*H*3 bytes of RGB, as Image.tobytes gives them. Measured on a 1080x560 crop:
# 0.4 ms to load against 5.7 ms for a PNG at compress_level 0 and 10 ms at level 1 (the
# file is 1.8 MB either way at level 0). It holds pixels only: no EXIF, GPS or ICC.

_RAW_MAGIC = b"campaign-photo 1\n"


def crop_file_name(digest: str, size: tuple[int, int], focus: tuple[float, float] | None) -> str:
    """The cached crop's file name: its size, and a hash of the photo's digest, the size and
    the focus: `1080x560-<hash>.rgb`."""
    material = json.dumps([PHOTO_CACHE_VERSION, digest, list(size),
                           list(focus) if focus is not None else None])
    return f"{size[0]}x{size[1]}-{hashlib.sha256(material.encode()).hexdigest()[:40]}.rgb"


def faces_file_name(digest: str) -> str:
    return f"{digest[:40]}.faces.json"


def read_cached_photo(path: Path, size: tuple[int, int]) -> Image.Image | None:
    """The crop stored at `path`, or None when it is missing, unreadable or not `size`."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = _RAW_MAGIC + f"{size[0]} {size[1]}\n".encode()
    if not data.startswith(header) or len(data) != len(header) + size[0] * size[1] * 3:
        return None
    return Image.frombytes("RGB", size, memoryview(data)[len(header):])  # no 1.8 MB copy


def write_cached_photo(path: Path, image: Image.Image) -> None:
    """Store a crop at `path` (atomically; a build folder that cannot be written is no error)."""
    header = _RAW_MAGIC + f"{image.width} {image.height}\n".encode()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    _write_quietly(path, header, rgb.tobytes())  # the pixels are not copied once more


def read_cached_faces(path: Path) -> tuple[tuple[int, int], tuple[Face, ...]] | None:
    """The (size, faces) stored at `path`, or None when missing, unreadable or another version."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["version"] != PHOTO_CACHE_VERSION:
            return None
        width, height = (int(v) for v in record["size"])
        faces = tuple(tuple(float(v) for v in face) for face in record["faces"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(len(face) != 4 for face in faces):
        return None
    return (width, height), faces  # type: ignore[return-value]


def _prune(folder: Path, pattern: str, *, keep: str) -> None:
    """Remove what a story's folder holds for an earlier photo or focus: one crop per size
    and one faces file stay, so the cache does not grow with every change of focus."""
    for stale in folder.glob(pattern):
        if stale.name != keep:
            with contextlib.suppress(OSError):
                stale.unlink()


def _write_faces(path: Path, size: tuple[int, int], faces: tuple[Face, ...]) -> None:
    record = {"version": PHOTO_CACHE_VERSION, "size": list(size), "faces": [list(f) for f in faces]}
    _write_quietly(path, json.dumps(record).encode())


def _write_quietly(path: Path, *parts: bytes) -> None:
    """Write via a temporary file and os.replace, so a reader never sees half a file."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                for part in parts:
                    handle.write(part)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


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
            orientation = source.getexif().get(0x0112, 1)
            sideways = orientation in (5, 6, 7, 8)
            target = (max(h if sideways else w for w, h in _PHOTO_BOXES),
                      max(w if sideways else h for w, h in _PHOTO_BOXES))
            if source.format == "JPEG":
                _draft(source, draft_eighths(source.size, target))
            # One call into the decoder for the whole file, not one per 64 KB: it lets go
            # of the GIL for each call, and on a thread (`Background`) every return to
            # Python would wait for the thread that is setting the card's text.
            source.decodermaxblock = max(len(data), ImageFile.MAXBLOCK)
            let_go()
            source.load()
            # exif_transpose copies even an upright photo (5 ms at 12 MP): only when turned.
            upright = ImageOps.exif_transpose(source) if orientation != 1 else source
            upright = _to_srgb(upright, source.info.get("icc_profile"))
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


# The JPEG scales libjpeg-turbo decodes at, in eighths, and the denominator Pillow's
# decoder passes on for each: libjpeg-turbo rounds a scale of 1/3 up to 3/8.
_DENOMINATOR = {1: 8, 2: 4, 3: 3, 4: 2, 8: 1}


def draft_eighths(source: tuple[int, int], target: tuple[int, int]) -> int:
    """The JPEG scale, in eighths, to decode a `source`-sized photo at: the cheapest of 1/8,
    2/8, 3/8, 4/8 and 8/8 whose image (the size rounded up, as libjpeg makes it) is still at
    least `target` in both dimensions, so every crop has all the pixels its box needs."""
    for eighths in (1, 2, 3, 4):
        if all(-(-side * eighths // 8) >= least for side, least in zip(source, target, strict=True)):
            return eighths
    return 8


def _draft(source: ImageFile.ImageFile, eighths: int) -> None:
    """Have Pillow decode the JPEG `source` at `eighths`/8 of its size.

    Pillow's `draft` offers 1/2, 1/4 and 1/8. libjpeg-turbo also decodes at 3/8, which
    a 12 MP photo needs for a 1080-pixel box: measured on one, 2.5 ms less decoding and
    3 ms less cropping than at 1/2, with the crop 0.35 of 255 from a full-decode LANCZOS
    crop against 0.33 (bench/bench_cards.py). Pillow is asked for 1/2, and its decoder is
    then given the denominator 3 and the size libjpeg-turbo will make. The IJG's own
    libjpeg would decode 1/3 at 1/2, larger than the image Pillow made ready, so 3/8 is
    asked for only from libjpeg-turbo (every Pillow wheel and Debian's Pillow have it)."""
    if eighths == 3 and not features.check_feature("libjpeg_turbo"):
        eighths = 4
    if eighths == 8:
        return
    full = source.size
    half = _DENOMINATOR[4 if eighths == 3 else eighths]
    source.draft("RGB", (source.width // half, source.height // half))
    if eighths == 3 and len(source.tile) == 1 and source.decoderconfig == (2, 0):
        width, height = (-(-side * 3 // 8) for side in full)
        tile = source.tile[0]
        source.tile = [ImageFile._Tile(tile.codec_name, (0, 0, width, height), tile.offset, tile.args)]
        source._size = (width, height)
        source.decoderconfig = (_DENOMINATOR[3], 0)


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


def crop_to_fill(image: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None,
                 *, each_half: Callable[[int, Image.Image], object] | None = None) -> Image.Image:
    """Scale so the photo covers `size`, keep its aspect ratio, crop around `focus` (0..1).

    A large crop is resampled as two halves at once, the top half on a second thread:
    9 ms become 5 on two cores. The halves' rows are where a single resize puts them;
    a pixel may differ from it by 1 of 255 in rounding. `each_half(row, half)` is called
    on the thread that made each half, with the crop's row it begins at: render_card
    encodes the half's rows of the card there and then (3 ms of a first card's 45)."""
    x0, y0, x1, y1 = crop_box(image.size, size, focus)
    width, height = size
    if height < SPLIT_ROWS:
        return image.resize(size, RESAMPLING, box=(x0, y0, x1, y1))
    half = height // 2
    middle = y0 + (y1 - y0) * half / height

    def resampled(rows: int, box: tuple[float, float, float, float], at: int) -> Image.Image:
        made = image.resize((width, rows), RESAMPLING, box=box)
        if each_half is not None:
            each_half(at, made)
        return made

    top = Background(lambda: resampled(half, (x0, y0, x1, middle), 0))
    bottom = resampled(height - half, (x0, middle, x1, y1), half)
    crop = Image.new(image.mode, size)
    crop.paste(top.result(), (0, 0))
    crop.paste(bottom, (0, half))
    return crop


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
    with _CASCADE_LOCK:  # one cascade object, not safe for two threads at once
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


# OpenCV's CascadeClassifier is not safe to use from two threads at once: the workspace's
# server draws a story's three cards on three threads, and two searches in one cascade at
# the same time corrupted memory and killed the process (seen in a test, 2 runs in 6).
_CASCADE_LOCK = threading.Lock()


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
