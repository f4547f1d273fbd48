"""How fast are cards? Prints ratios measured in one run (SPEC §9: a script, not a timed test).

    .venv/bin/python bench/bench_cards.py

1. full card / JPEG encode of the same pixels    aim <= 6x
   (a 1080x1350 card: a 12-megapixel phone photo, logo, headline, a 25-word quote)
   a. first card with the 12 MP photo / the encode  aim <= 6x (issue 19)
      nothing of the photo known yet: photo_memory cleared and build/cache/photos/ removed
   b. the crop's mean difference from a LANCZOS crop of the full decode  aim < 1.0 (0-255)
   c. card after a text-only edit, new process / the encode  aim <= 3x (issue 19)
      a new interpreter per run (`bench_cards.py --edit ...`) with the disk cache warm; the
      time is taken inside it around render_card and the drawing modules it imports on
      first use (load_project before the clock starts), so it includes what a new process
      loads on its first card (modules, fonts, character maps, hyphenation patterns) but
      not the interpreter's start; printed whole and in its two parts
2. fresh week / cached week                       aim >= 50x
3. per-card cost at 100 stories / at 1 story      aim ~ 1 (flat)
4. warm headless Chromium screenshot of the same card as HTML / our first card (1a)
   aim >= 5x (issue 19); Chromium with a photo it has not decoded yet / our first card;
   and Chromium / our card with the photo decoded (1)
   (only when /usr/bin/chromium exists; it is driven over --remote-debugging-pipe,
   so the browser stays up between screenshots, as a warm service would)

The anchor, "JPEG encode", is Pillow's own encode of the card's pixels into bytes (none of
campaign's code), timed in turn with each row's runs: a shared machine's slow minutes
then slow both sides of a ratio alike.

Everything runs in a temporary copy of the campaign, so build/ is left alone.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import importlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from campaign import cards  # noqa: E402
from campaign.config import Project, load_project  # noqa: E402
from campaign.models import Consent, Story  # noqa: E402
from campaign.stories import read_stories  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
QUOTE_25 = (
    "Twee jaar lang hoorde ik dat het stress was. Vraag door, neem iemand mee naar je afspraak "
    "en vertrouw erop dat jij je eigen lichaam het beste kent."
)


def best_ms(action: Callable[[], object], runs: int) -> float:
    """The fastest of `runs` timings: on a shared machine the least disturbed one."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def copy_campaign(target: Path) -> Project:
    shutil.copy2(REPO / "campaign.toml", target / "campaign.toml")
    for folder in ("stories", "assets"):
        shutil.copytree(REPO / folder, target / folder)
    return load_project(target / "campaign.toml")


def phone_photo(path: Path) -> None:
    """A 4032x3024 JPEG with detail and noise, like a phone's photo (12 megapixels)."""
    rng = random.Random(7)
    small = Image.new("RGB", (504, 378))
    draw = ImageDraw.Draw(small)
    for _ in range(400):
        x, y, r = rng.randint(0, 504), rng.randint(0, 378), rng.randint(4, 60)
        colour = (rng.randint(40, 230), rng.randint(60, 230), rng.randint(40, 220))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    photo = small.resize((4032, 3024), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((4032, 3024), 24).convert("RGB")
    Image.blend(photo, noise, 0.08).save(path, quality=90)


def reference_story(photo: Path) -> Story:
    return Story(
        id="reference", file="stories/reference.md", title="Twee jaar zoeken naar een diagnose",
        name="Marieke", quote=QUOTE_25, body="", age=47, diagnosis="GIST", photo=photo,
        photo_alt="Marieke op een bankje", photo_focus=(0.5, 0.4),
        consent=Consent(signed=date(2026, 10, 30), reference="B-1", platforms=None, expires=None),
    )


def bench_card_vs_encode(project: Project, story: Story) -> tuple[float, float, float]:
    """Full card (layout, drawing, encode, write) against encoding its pixels, interleaved."""
    render, encode = interleaved(
        lambda: cards.render_card(story, "portrait", project, force=True),
        anchor(project, story), 15)
    return render, encode, render / encode


def plain_encode(image: Image.Image, quality: int) -> bytes:
    """The anchor: Pillow's own JPEG encode of the card's pixels into bytes, at the card's
    quality and chroma (4:4:4), with none of campaign's code (bands, files in memory)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def interleaved(action: Callable[[], object], anchor: Callable[[], object],
                runs: int, *, before: Callable[[], object] | None = None) -> tuple[float, float]:
    """(the fastest of `runs` timings of `action`, the fastest of the anchor's), taken in
    turn, so that a shared machine's slower minutes slow both alike; `before` runs ahead of
    each timing of `action`, outside it."""
    actions, anchors = [], []
    for _ in range(runs):
        if before is not None:
            before()
        actions.append(best_ms(action, 1))
        anchors.append(best_ms(anchor, 1))
    return min(actions), min(anchors)


def anchor(project: Project, story: Story) -> Callable[[], bytes]:
    """The anchor for the reference card: `plain_encode` of its pixels, drawn once here."""
    plan = cards.plan_card(story, "portrait", project)
    box = plan.layout.photo
    assert story.photo is not None
    photo = cards.load_photo(story.photo, (box.width, box.height), story.photo_focus, story="b")
    image = cards.draw_card(plan, project, photo)
    quality = project.settings.theme.jpeg_quality
    return lambda: plain_encode(image, quality)


def bench_first_card(project: Project, story: Story) -> tuple[float, float]:
    """A card whose photo is not known yet, in memory or on disk: the 12 MP decode and crop;
    and the anchor's encode, in turn with it."""
    def forget() -> None:  # not timed: the photo's crop in memory and on disk forgotten
        cards.photo_memory.clear()
        shutil.rmtree(project.build_dir / "cache" / "photos", ignore_errors=True)

    return interleaved(lambda: cards.render_card(story, "portrait", project, force=True),
                       anchor(project, story), 10, before=forget)


def crop_difference(story: Story) -> tuple[float, tuple[int, int]]:
    """Mean absolute difference (0-255) of our crop from a LANCZOS crop of the full decode,
    and the size the photo was decoded at for it."""
    assert story.photo is not None
    size = (1080, 560)
    cards.photo_memory.clear()
    ours = cards.load_photo(story.photo, size, story.photo_focus, story="b")
    with Image.open(story.photo) as source:
        full = source.convert("RGB")
    reference = full.resize(size, Image.Resampling.LANCZOS,
                            box=cards.crop_box(full.size, size, story.photo_focus))
    [decoded] = cards.photo_memory.decoded.values()
    return sum(ImageStat.Stat(ImageChops.difference(ours, reference)).mean) / 3, decoded.size


def bench_edit_in_new_process(project: Project, story: Story) -> tuple[float, float, float, float]:
    """A text-only edit rendered by a new interpreter, the photo's crop already on disk:
    (imports and render_card together, the imports, render_card after them, the anchor's
    encode timed here between the runs), each the fastest of 5."""
    assert story.photo is not None
    cards.render_card(story, "portrait", project)  # the disk cache is warm
    encode = anchor(project, story)
    runs, anchors = [], []
    for run in range(5):
        done = subprocess.run(
            [sys.executable, __file__, "--edit", str(project.root / "campaign.toml"),
             str(story.photo), str(run)], capture_output=True, text=True, check=True)
        imports, render = (float(word) for word in done.stdout.split()[-2:])
        runs.append((imports + render, imports, render))
        anchors.append(best_ms(encode, 3))
    return (*min(runs), min(anchors))


def bench_edit_in_process(project: Project, story: Story) -> tuple[float, float]:
    """The same edit in this process, its photo memory cleared (fonts, patterns loaded);
    and the anchor's encode, in turn with it."""
    edited = [story]

    def forget() -> None:  # not timed: a new quote each time, the photo memory cleared
        cards.photo_memory.clear()
        edited[0] = dataclasses.replace(story, quote=f"{QUOTE_25} (bewerking {random.random()})")

    def edit() -> None:
        assert not cards.render_card(edited[0], "portrait", project).cached

    return interleaved(edit, anchor(project, story), 10, before=forget)


def edit_in_this_process(toml: str, photo: str, run: str) -> None:
    """`--edit`: render the reference card with a new quote; print how long the modules that
    render_card imports on first use took to import, then how long render_card took."""
    project = load_project(Path(toml))
    story = dataclasses.replace(reference_story(Path(photo)), quote=f"{QUOTE_25} (versie {run})")
    start = time.perf_counter()
    for module in DRAWING_MODULES:
        importlib.import_module(module)
    imported = time.perf_counter()
    card = cards.render_card(story, "portrait", project)
    done = time.perf_counter()
    assert not card.cached
    print(f"{(imported - start) * 1000:.2f} {(done - imported) * 1000:.2f}")


# What render_card imports when it first draws (cards/cache.py), in a new process.
DRAWING_MODULES = ("campaign.captions", "campaign.cards.draw", "campaign.cards.layout",
                   "campaign.cards.photo", "campaign.cards.plan")


def bench_week(project: Project) -> tuple[float, float, int]:
    stories = [r.story for r in read_stories(project) if r.story is not None]
    def fresh_week() -> None:
        cards.photo_memory.clear()  # nothing decoded yet, as in a new `campaign render`
        cards.render_all(stories, project, force=True)

    fresh = best_ms(fresh_week, 3)
    cached = best_ms(lambda: cards.render_all(stories, project), 5)
    return fresh, cached, len(cards.render_all(stories, project))


def bench_flat(project: Project, story: Story) -> tuple[float, float]:
    def many(count: int) -> list[Story]:
        return [
            dataclasses.replace(story, id=f"s{i:03d}", quote=f"{QUOTE_25} ({i})") for i in range(count)
        ]

    # The median time of one card in each setting: one story rendered again and again,
    # and a hundred different stories rendered once each; interleaved, so that whatever
    # else the machine does slows both alike.
    one = many(1)[0]
    times_one, times_hundred = [], []
    for story_n in many(100):
        times_one.append(best_ms(lambda: cards.render_card(one, "portrait", project, force=True), 1))
        times_hundred.append(
            best_ms(lambda s=story_n: cards.render_card(s, "portrait", project, force=True), 1)  # type: ignore[misc]
        )
    return statistics.median(times_one), statistics.median(times_hundred)


def card_html(project: Project, story: Story, photo: Path, target: Path) -> Path:
    """The reference card as an HTML page: same size, fonts, colours, photo and logo."""
    theme = project.settings.theme
    # The font sizes our fitting chose, so both cards set the same text the same way.
    size = {b.field: b.size for b in cards.plan_card(story, "portrait", project).blocks}
    fonts = {w: project.path(getattr(theme, f"font_{n}")).as_uri()
             for w, n in ((400, "regular"), (600, "semibold"), (700, "bold"))}
    faces = "".join(f"@font-face{{font-family:Inter;font-weight:{w};src:url({u})}}"
                    for w, u in fonts.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>{faces}
html,body{{margin:0;width:1080px;height:1350px;overflow:hidden}}
body{{background:{theme.background};color:{theme.text};font-family:Inter;position:relative}}
.photo{{width:1080px;height:560px;object-fit:cover;object-position:50% 40%;display:block}}
.text{{position:absolute;left:72px;right:72px;top:604px;hyphens:auto}}
h1{{color:{theme.accent};font-size:{size["title"]}px;font-weight:700;margin:0 0 20px;
line-height:1.15}}
blockquote{{font-size:{size["quote"]}px;font-weight:600;margin:0 0 14px;line-height:1.2}}
p{{font-size:{size["name"]}px;margin:0}}
footer{{position:absolute;left:72px;right:72px;bottom:72px;height:84px;display:flex;
align-items:center;justify-content:space-between;font-size:28px;font-weight:600}}
footer img{{height:84px}}</style></head><body lang="nl">
<img class="photo" src="{photo.as_uri()}"><div class="text"><h1>{story.title}</h1>
<blockquote>“{story.quote}”</blockquote><p>{cards.name_line(story)}</p></div>
<footer><span>{project.settings.campaign.name}</span>
<img src="{project.path(theme.logo).as_uri()}"></footer></body></html>"""
    path = target / "card.html"
    path.write_text(page, encoding="utf-8")
    return path


class Chromium:
    """Headless Chromium driven through the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={profile}", "--remote-debugging-pipe", "--hide-scrollbars"]

        def wire() -> None:  # runs in the child: its fds 3 and 4 become the pipe's ends
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # dup2 makes them inheritable: they survive exec
            os.dup2(high_w, 4)

        # close_fds=False: only inheritable fds (0-4 here) survive exec; the pipes are CLOEXEC.
        self.process = subprocess.Popen(
            [str(CHROMIUM), *flags, "about:blank"], preexec_fn=wire, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = str(self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"])
        self.call("Page.enable", session=self.session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": 1080, "height": 1350,
                  "deviceScaleFactor": 1, "mobile": False}, session=self.session)

    def _read(self) -> dict[str, object]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, object] = json.loads(message)
        return parsed

    def call(self, method: str, params: dict[str, object] | None = None, *,
             session: str | None = None, until_event: str | None = None) -> dict[str, object]:
        self._next += 1
        message: dict[str, object] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        result: dict[str, object] | None = None
        event_seen = until_event is None
        while result is None or not event_seen:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result = reply.get("result", {})  # type: ignore[assignment]
            elif until_event and reply.get("method") == until_event:
                event_seen = True
        return result

    def screenshot(self, url: str) -> bytes:
        self.call("Page.navigate", {"url": url}, session=self.session, until_event="Page.loadEventFired")
        shot = self.call("Page.captureScreenshot", {"format": "jpeg", "quality": 90},
                         session=self.session)
        return base64.b64decode(str(shot["data"]))

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def bench_chromium(project: Project, story: Story, photo: Path, work: Path, first_ms: float,
                   ours_ms: float) -> str:
    if not CHROMIUM.exists():
        return "4. chromium: skipped (/usr/bin/chromium is not installed: apt-get install chromium)"
    page = card_html(project, story, photo, work).as_uri()
    browser = Chromium(work / "chromium-profile")
    try:
        for _ in range(3):  # warm: fonts, photo and the page's code are in memory
            shot = browser.screenshot(page)
        Image.open(io.BytesIO(shot)).save(work / "chromium-card.png")
        chromium_ms = best_ms(lambda: browser.screenshot(page), 15)
        # The same card with a photo Chromium has not decoded yet, as our first card's is:
        # a copy of it under a new name for each screenshot.
        unseen = []
        for number in range(15):
            folder = work / f"unseen-{number}"
            folder.mkdir()
            shutil.copy2(photo, folder / f"photo-{number}.jpg")
            unseen.append(card_html(project, story, folder / f"photo-{number}.jpg", folder).as_uri())
        new_photo_ms = min(best_ms(lambda url=url: browser.screenshot(url), 1)
                           for url in unseen)
    finally:
        browser.close()
    return (f"4. chromium warm screenshot {chromium_ms:7.1f} ms / our first card {first_ms:6.1f} ms"
            f" = {chromium_ms / first_ms:5.1f}x   (aim >= 5x; ours is faster when > 1)\n"
            f"   chromium warm screenshot, a photo it has not seen {new_photo_ms:7.1f} ms / our first"
            f" card = {new_photo_ms / first_ms:5.1f}x\n"
            f"   chromium warm screenshot {chromium_ms:7.1f} ms / our card, photo decoded"
            f" {ours_ms:6.1f} ms = {chromium_ms / ours_ms:5.1f}x")


def main() -> None:
    # Chromium may still be writing its profile as it stops: its folder is left if need be.
    with tempfile.TemporaryDirectory(prefix="bench-cards-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        project = copy_campaign(work)
        photo = work / "phone-photo.jpg"
        phone_photo(photo)
        story = reference_story(photo)
        cards.render_card(story, "portrait", project, force=True)  # load fonts once
        render, encode, ratio = bench_card_vs_encode(project, story)
        print(f"1. full card {render:7.1f} ms / JPEG encode of the same pixels {encode:6.1f} ms"
              f" = {ratio:5.1f}x   (aim <= 6x; 1080x1350, 25-word quote, quality 90, 4:4:4"
              " chroma; photo already decoded)")
        first, encode = bench_first_card(project, story)
        print(f"1a. first card with a 12 MP photo {first:6.1f} ms / JPEG encode {encode:6.1f} ms"
              f" = {first / encode:5.1f}x   (aim <= 6x; the photo decoded and cropped, nothing cached)")
        difference, decoded = crop_difference(story)
        print(f"1b. crop's mean difference from a full-decode LANCZOS crop: {difference:.2f}"
              f" of 255   (aim < 1.0; 4032x3024 decoded at {decoded[0]}x{decoded[1]},"
              f" {cards.RESAMPLING.name})")
        edit, imports, first_use, encode = bench_edit_in_new_process(project, story)
        print(f"1c. card after a text-only edit, new process {edit:6.1f} ms / JPEG encode"
              f" {encode:6.1f} ms = {edit / encode:5.1f}x   (aim <= 3x; photo crop on disk; timed"
              " inside the new process, around render_card and what it imports)")
        print(f"    of which importing the drawing modules {imports:6.1f} ms, and render_card"
              f" {first_use:6.1f} ms = {first_use / encode:5.1f}x the encode   (fonts, character"
              " maps, patterns and logo loaded on first use)")
        edit, encode = bench_edit_in_process(project, story)
        print(f"    the same edit in this process, photo memory cleared {edit:6.1f} ms"
              f" = {edit / encode:5.1f}x the encode ({encode:.1f} ms)   (the crop read from disk)")
        fresh, cached, count = bench_week(project)
        print(f"2. fresh week {fresh:7.1f} ms / cached week {cached:6.2f} ms = {fresh / cached:6.0f}x"
              f"   (aim >= 50x; {count} cards of the example stories)")
        per_one, per_hundred = bench_flat(project, story)
        print(f"3. per card at 100 stories {per_hundred:6.1f} ms / at 1 story {per_one:6.1f} ms"
              f" = {per_hundred / per_one:4.2f}   (aim ~ 1: flat)")
        print(bench_chromium(project, story, photo, work, first, render))
    print("   times are the fastest of several runs: the machine is shared")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--edit"]:
        edit_in_this_process(*sys.argv[2:5])
    else:
        main()
