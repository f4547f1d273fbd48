"""The parts every sandboxed platform shares: requests, responses, posts, faults, routes.

A platform module (`x.py`, `facebook.py`, ...) defines one `PlatformApi`
subclass: its routes (method, path pattern, call name), its auth check, its fault
answers and its state. The server finds those modules by themselves, so a new
platform is a new file.

Posts' numbers (the metrics calls) grow with the sandbox's own clock (`SandboxClock`,
`POST /_sandbox/clock`) by `engagement`, the same for every platform.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesParser
from typing import Any, ClassVar
from urllib.parse import parse_qs

from PIL import Image, UnidentifiedImageError

from campaign.errors import SandboxError

FAULT_KINDS: dict[str, str] = {
    "rate_limit": "answer with the platform's rate-limit error and its reset header",
    "server_error": "answer with the platform's 5xx error",
    "timeout": "hold the request for `delay` seconds, then close without answering or acting",
    "drop_response": "do the call (create the post), then close without answering",
    "slow_response": "do the call (create the post), then hold the answer for `delay` seconds",
    "expired_token": "answer as if the token had expired",
    "duplicate": "answer with the platform's duplicate-post error",
    "stuck_in_progress": "Instagram: the container stays IN_PROGRESS",
    "container_error": "Instagram: the container goes to ERROR",
    "delete_refused": "Instagram: the delete is refused (no API delete for this account)",
    "media_processing": "Mastodon: the upload answers 202 and the media is read 206 once, then 200",
    "daily_limit": "X: 429 with the 24-hour user cap spent (x-user-limit-24hour-* headers; "
    "`reset_after` is the 24-hour reset)",
    "duplicate_368": "Facebook: the duplicate answered as code 368 \"You've already posted this\"",
    "account_blocked": "Facebook: code 368/1346003, content reported as abusive (a real block)",
    "missing_scope": "the metrics call: answer as to a token without the permission to read the "
    "numbers (X: the non-public numbers refused for each post)",
    "answer": "any platform: answer `status` with the JSON `body` and `headers` given, as a "
    "real platform did (the error policy tests replay each row this way)",
}


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Request:
    """One HTTP request as a platform handler sees it (path without the platform prefix)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    json: Any = None
    json_error: str | None = None
    match: re.Match[str] | None = None
    fault: Fault | None = None
    public_url: str = ""  # the sandbox's own base URL, for links in responses

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def param(self, name: str) -> str | None:
        """A query or form parameter (Graph takes either)."""
        if name in self.form:
            return self.form[name]
        values = self.query.get(name)
        return values[0] if values else None

    def params(self) -> dict[str, str]:
        merged = {k: v[0] for k, v in self.query.items() if v}
        merged.update(self.form)
        return merged

    def group(self, name: str) -> str:
        assert self.match is not None
        return self.match.group(name)


def parse_body(request: Request) -> None:
    """Fill `form`, `files` and `json` from the body according to its Content-Type."""
    ctype = request.content_type
    if not request.body:
        return
    if ctype == "application/json":
        try:
            request.json = json.loads(request.body)
        except ValueError as exc:
            request.json_error = str(exc)
    elif ctype == "application/x-www-form-urlencoded":
        parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        request.form = {k: v[0] for k, v in parsed.items()}
    elif ctype == "multipart/form-data":
        header = request.headers.get("Content-Type", "")
        message = BytesParser().parsebytes(
            b"Content-Type: " + header.encode("latin-1") + b"\r\n\r\n" + request.body
        )
        parts = message.get_payload() if message.is_multipart() else []
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, Message):
                continue
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                request.files[name] = UploadedFile(filename, part.get_content_type(), data)
            else:
                charset = part.get_content_charset() or "utf-8"
                request.form[name] = data.decode(charset, "replace")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, json.dumps(obj).encode("utf-8"), headers=dict(headers or {}))

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8")

    @classmethod
    def dropped(cls) -> Response:
        return cls(0, drop=True)


@dataclass
class SandboxPost:
    """One post a platform holds, with what `/_sandbox/posts` reports."""

    platform: str
    id: str
    caption: str
    alt_text: str
    image: bytes
    image_type: str
    width: int
    height: int
    account: str
    url: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    deleted_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    born: datetime | None = None  # the sandbox clock's time when it was created (`PostBook`)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "platform": self.platform,
            "id": self.id,
            "account": self.account,
            "caption": self.caption,
            "alt_text": self.alt_text,
            "image_bytes": len(self.image),
            "image_type": self.image_type,
            "width": self.width,
            "height": self.height,
            "url": self.url,
            "created_at": self.created_at.isoformat(),
        }
        if self.deleted_at is not None:
            out["deleted_at"] = self.deleted_at.isoformat()
        return out


@dataclass
class Fault:
    platform: str
    call: str
    kind: str
    times: int = 1
    reset_after: int = 60  # rate_limit: seconds until the reset the header announces
    delay: float = 30.0  # timeout: seconds the request is held
    status: int = 500  # answer: the HTTP status
    body: Any = None  # answer: the JSON body
    headers: dict[str, str] = field(default_factory=dict)  # answer: the headers

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform, "call": self.call, "kind": self.kind,
            "times": self.times, "reset_after": self.reset_after, "delay": self.delay,
            **({"status": self.status, "body": self.body, "headers": self.headers}
               if self.kind == "answer" else {}),
        }


@dataclass
class AccountState:
    """What a platform's token can do, as set with `POST /_sandbox/accounts` (for `doctor`).

    `token_expires_at`: None, the token does not expire; once past, every call gets the
    platform's expired-token answer. `scopes`: None, every scope the publisher needs
    (the platform's `default_scopes`); else exactly these. `media_reachable` (Instagram):
    False makes the sandbox's image host drop every fetch of a hosted image, as an
    unreachable web server would. `date_offset_seconds`: the platform's `Date` header is
    this far off the real time (a platform whose clock, or ours, is wrong).
    `sunset_versions` (LinkedIn): `LinkedIn-Version`s answered 426 NONEXISTENT_VERSION
    as if sunset, besides those more than a year old.
    """

    token_expires_at: datetime | None = None
    scopes: list[str] | None = None
    media_reachable: bool = True
    date_offset_seconds: float = 0.0
    sunset_versions: list[str] = field(default_factory=list)  # LinkedIn: answered 426

    def as_json(self) -> dict[str, Any]:
        return {
            "token_expires_at": self.token_expires_at.isoformat() if self.token_expires_at else None,
            "scopes": self.scopes,
            "media_reachable": self.media_reachable,
            "date_offset_seconds": self.date_offset_seconds,
            "sunset_versions": self.sunset_versions,
        }


class SandboxClock:
    """The sandbox's own time, which a post's numbers grow with (`engagement`).

    By default it is the wall clock. A rehearsal sets it to its campaign clock
    (`set(now=..., speed=86400 / day_seconds)`), so that numbers grow by campaign hours;
    a test moves it on (`set(advance=timedelta(hours=6))`). `POST /_sandbox/clock` does
    the same over HTTP. Posts keep their wall-clock `created_at` (the feed pages and the
    rehearsal's account read it); their `born` is this clock's time at creation.
    """

    def __init__(self, real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._real = real
        self._lock = threading.Lock()
        self.speed = 1.0  # sandbox seconds per wall second
        self._wall_origin = real()
        self._origin = self._wall_origin

    def now(self) -> datetime:
        with self._lock:
            return self._origin + (self._real() - self._wall_origin) * self.speed

    def set(self, *, now: datetime | None = None, speed: float | None = None,
            advance: timedelta | None = None) -> datetime:
        """Re-anchor the clock: at `now` (else where it is), running `speed` times the wall
        clock (else as fast as before), moved on by `advance`. Returns the new time."""
        if speed is not None and not speed > 0:
            raise ValueError("speed must be more than 0")
        if now is not None and now.tzinfo is None:
            raise ValueError("now needs an offset, e.g. 2027-03-08T09:00:00+00:00")
        current = self.now()
        with self._lock:
            self._wall_origin = self._real()
            self._origin = (now if now is not None else current) + (advance or timedelta(0))
            if speed is not None:
                self.speed = speed
        return self.now()

    def as_json(self) -> dict[str, Any]:
        return {"now": self.now().isoformat(), "speed": self.speed}


class PostBook(dict[str, SandboxPost]):
    """A platform's posts by id; each post stored is stamped with the clock's time (`born`),
    kept when a post is stored again under its id (Bluesky's putRecord)."""

    def __init__(self, clock: SandboxClock) -> None:
        super().__init__()
        self.clock = clock

    def __setitem__(self, key: str, post: SandboxPost) -> None:
        if post.born is None:
            earlier = self.get(key)
            post.born = earlier.born if earlier is not None else self.clock.now()
        super().__setitem__(key, post)


#: How many times as many people see a post on each platform, roughly: the sandbox's
#: numbers are made up, but in proportions a comms team would recognise.
_AUDIENCE = {"x": 0.6, "facebook": 1.0, "instagram": 1.4, "linkedin": 0.8, "mastodon": 0.15,
             "bluesky": 0.3}


@dataclass(frozen=True)
class Engagement:
    """A sandbox post's numbers at one moment (made up, see `engagement`)."""

    views: int
    reach: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    saves: int
    clicks: int
    profile_clicks: int

    @property
    def interactions(self) -> int:
        return self.likes + self.reposts + self.replies + self.saves


def engagement(post: SandboxPost, now: datetime) -> Engagement:
    """The numbers of `post` at `now` (the sandbox clock), the same for the same inputs.

    Views rise as `peak · (1 − e^(−hours/τ))`: fast in the first hours, nearly still after
    a few days. `peak` (400 to 5,000, times the platform's audience) and `τ` (8 to 36
    hours) come from a hash of the platform and the caption (the id when there is none),
    so every story has numbers of its own on every platform, and two runs agree. The
    other numbers are fixed shares of the views (also from the hash): reach 55-85 %,
    likes 2-6 %, and so on. Each is rounded down, so no number ever goes down.
    """
    digest = hashlib.sha256(f"{post.platform}\n{post.caption or post.id}".encode()).digest()

    def unit(i: int) -> float:
        return int.from_bytes(digest[2 * i : 2 * i + 2], "big") / 65535

    born = post.born or post.created_at
    hours = max(0.0, (now - born).total_seconds() / 3600)
    peak = (400 + 4600 * unit(0)) * _AUDIENCE.get(post.platform, 1.0)
    tau = 8 + 28 * unit(1)
    views = int(peak * (1 - math.exp(-hours / tau)))

    def share(low: float, high: float, i: int) -> int:
        return int(views * (low + (high - low) * unit(i)))

    return Engagement(
        views=views, reach=share(0.55, 0.85, 2), likes=share(0.02, 0.06, 3),
        reposts=share(0.002, 0.01, 4), replies=share(0.001, 0.007, 5),
        quotes=share(0.0005, 0.0025, 6), saves=share(0.002, 0.012, 7),
        clicks=share(0.005, 0.025, 8), profile_clicks=share(0.002, 0.008, 9),
    )


class FaultBook:
    """Faults waiting to happen, and a log of the ones that did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending: list[Fault] = []
        self.met: list[dict[str, Any]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.pending.append(fault)

    def take(self, platform: str, call: str) -> Fault | None:
        with self._lock:
            for fault in self.pending:
                if fault.platform == platform and fault.call in (call, "*"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.pending.remove(fault)
                    self.met.append(
                        {**fault.as_json(), "call": call, "at": datetime.now(UTC).isoformat()}
                    )
                    return fault
        return None

    def reset(self) -> None:
        with self._lock:
            self.pending.clear()
            self.met.clear()


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    call: str
    handler: Callable[[Request], Response]


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, MPO...
    mime: str
    width: int
    height: int


def inspect_image(data: bytes) -> ImageInfo | None:
    """What Pillow says the bytes are, or None when they are not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            fmt = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    mime = Image.MIME.get(fmt, "application/octet-stream")
    return ImageInfo(fmt, mime, width, height)


class Counter:
    """Thread-safe increasing ids that look like the platform's."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._next += 1
            return str(self._next)


class PlatformApi:
    """One sandboxed platform: routes, auth, faults, state. Subclasses fill these in."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: call name -> what it is; the names `POST /_sandbox/faults` accepts for `call`
    calls: ClassVar[dict[str, str]]
    #: other names accepted for a call (the endpoint's or SDK method's name) -> call name
    call_aliases: ClassVar[dict[str, str]] = {}
    fault_kinds: ClassVar[tuple[str, ...]] = (
        "rate_limit", "server_error", "timeout", "drop_response", "slow_response", "expired_token",
        "duplicate",
    )
    #: the scopes (permissions) a token has unless `POST /_sandbox/accounts` says otherwise
    default_scopes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, faults: FaultBook, stop: threading.Event,
                 clock: SandboxClock | None = None) -> None:
        self.faults = faults
        self.stop_event = stop
        self.clock = clock or SandboxClock()
        self.lock = threading.RLock()
        self.posts: dict[str, SandboxPost] = PostBook(self.clock)
        self.deleted: dict[str, SandboxPost] = {}
        self.routes: list[Route] = []
        self.account_state = AccountState()
        self.setup()

    # -- subclasses ----------------------------------------------------------------

    def setup(self) -> None:
        """Register routes with `self.route(...)`."""
        raise NotImplementedError

    def credentials(self) -> dict[str, str]:
        """The environment variables (secrets) this platform's sandbox accepts."""
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries valid credentials, else the platform's error."""
        raise NotImplementedError

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The platform's answer for a fault of kind rate_limit, server_error, ... ."""
        raise NotImplementedError

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"error": f"no such path in the {self.title} sandbox"})

    def settings_env(self) -> dict[str, str]:
        """Non-secret variables that point campaign at this platform's sandbox account."""
        return {}

    # -- shared ----------------------------------------------------------------------

    def call_name(self, name: str) -> str | None:
        """The call a fault names, by its own name or an alias; None if unknown."""
        if name == "*" or name in self.calls:
            return name
        return self.call_aliases.get(name)

    def route(
        self, method: str, pattern: str, call: str, handler: Callable[[Request], Response]
    ) -> None:
        self.routes.append(Route(method, re.compile(pattern + r"\Z"), call, handler))

    def reset(self) -> None:
        with self.lock:
            self.posts.clear()
            self.deleted.clear()
            self.account_state = AccountState()

    def scopes(self) -> list[str]:
        """The scopes the sandbox's token has now."""
        state = self.account_state
        return list(self.default_scopes) if state.scopes is None else list(state.scopes)

    def token_expired(self) -> bool:
        expires = self.account_state.token_expires_at
        return expires is not None and datetime.now(UTC) >= expires

    def refuses_metrics(self, request: Request, scopes: set[str]) -> bool:
        """The metrics call is refused: the token has none of `scopes`, or a fault said so."""
        fault = request.fault
        return (fault is not None and fault.kind == "missing_scope") or not (
            scopes & set(self.scopes()))

    def metrics_of(self, post: SandboxPost) -> Engagement:
        """The post's numbers now, by the sandbox clock."""
        return engagement(post, self.clock.now())

    def live_posts(self) -> list[SandboxPost]:
        with self.lock:
            return sorted(self.posts.values(), key=lambda p: p.created_at)

    def deleted_posts(self) -> list[SandboxPost]:
        with self.lock:
            return sorted(self.deleted.values(), key=lambda p: p.created_at)

    def remove(self, post_id: str) -> SandboxPost | None:
        with self.lock:
            post = self.posts.pop(post_id, None)
            if post is not None:
                post.deleted_at = datetime.now(UTC)
                self.deleted[post_id] = post
            return post

    def handle(self, request: Request) -> Response:
        for route in self.routes:
            if route.method != request.method:
                continue
            match = route.pattern.match(request.path)
            if match is None:
                continue
            request.match = match
            denied = self.authenticate(request)
            if denied is not None:
                return denied
            if self.token_expired():  # set with POST /_sandbox/accounts
                return self.fault_response(Fault(self.name, route.call, "expired_token"), request)
            fault = self.faults.take(self.name, route.call)
            if fault is None:
                return route.handler(request)
            if fault.kind == "timeout":
                self.stop_event.wait(fault.delay)
                return Response.dropped()
            if fault.kind == "drop_response":
                route.handler(request)
                return Response.dropped()
            if fault.kind == "slow_response":
                response = route.handler(request)
                self.stop_event.wait(fault.delay)
                return response
            if fault.kind == "answer":
                return Response.json(fault.status, fault.body, fault.headers)
            if fault.kind in ("stuck_in_progress", "container_error", "missing_scope"):
                request.fault = fault
                return route.handler(request)
            return self.fault_response(fault, request)
        return self.not_found(request)


__all__ = [
    "FAULT_KINDS",
    "AccountState",
    "Counter",
    "Engagement",
    "Fault",
    "FaultBook",
    "ImageInfo",
    "PlatformApi",
    "PostBook",
    "Request",
    "Response",
    "Route",
    "SandboxClock",
    "SandboxError",
    "SandboxPost",
    "UploadedFile",
    "engagement",
    "inspect_image",
    "parse_body",
]
