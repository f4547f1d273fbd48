"""The sandbox's HTTP server: one port, each platform under its own path prefix.

    http://127.0.0.1:PORT/x/2/tweets                  X, real paths after the prefix
    http://127.0.0.1:PORT/facebook/v25.0/{page}/photos
    http://127.0.0.1:PORT/instagram/v25.0/{ig}/media
    http://127.0.0.1:PORT/linkedin/rest/posts
    http://127.0.0.1:PORT/mastodon/api/v1/statuses
    http://127.0.0.1:PORT/bluesky/xrpc/com.atproto.repo.putRecord
    http://127.0.0.1:PORT/_sandbox/...                the sandbox's own API (docs/sandbox.md)
    http://127.0.0.1:PORT/                            the feed pages

`CAMPAIGN_<PLATFORM>_API_URL=http://127.0.0.1:PORT/<platform>` points a
publisher at it (`Sandbox.env()` lists every variable). Platforms are the
modules of this package that define `PLATFORM_API`: adding a platform adds a file.

In-process: `with Sandbox(port=0) as sandbox: sandbox.url` (or `.start()` /
`.stop()`); from a shell: `campaign sandbox --port 8931 --env-file .env.sandbox`.
"""

from __future__ import annotations

import errno
import importlib
import logging
import pkgutil
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from campaign.sandbox import feed
from campaign.sandbox.core import (
    FAULT_KINDS,
    Fault,
    FaultBook,
    PlatformApi,
    Request,
    Response,
    SandboxClock,
    SandboxError,
    inspect_image,
    parse_body,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 8931
MAX_BODY = 64 * 1024 * 1024
_MEDIA_NAME = re.compile(r"[A-Za-z0-9_-]{8,64}\.(?:jpe?g|png)")


def platform_classes() -> list[type[PlatformApi]]:
    """Every sandboxed platform: the modules of this package that define PLATFORM_API."""
    package = importlib.import_module("campaign.sandbox")
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"campaign.sandbox.{info.name}")
        cls = getattr(module, "PLATFORM_API", None)
        if isinstance(cls, type) and issubclass(cls, PlatformApi):
            found.append(cls)
    return found


class Sandbox:
    """The fake platforms, in a thread of this process.

    `host` is 127.0.0.1 unless told otherwise; `port=0` picks a free port.
    `public_url` is the base URL others use to reach it (defaults to the bound one).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, public_url: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._public_url = public_url
        self.stop_event = threading.Event()
        self.faults = FaultBook()
        self.clock = SandboxClock()  # the time posts' numbers grow with (POST /_sandbox/clock)
        self.platforms: dict[str, PlatformApi] = {
            cls.name: cls(self.faults, self.stop_event, self.clock) for cls in platform_classes()
        }
        self.media: dict[str, bytes] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self.media_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise SandboxError("the sandbox is not running: call start() first")
        if self._public_url:
            return self._public_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self._server.server_address[1]}"

    def api_url(self, platform: str) -> str:
        return f"{self.url}/{platform}"

    def start(self) -> str:
        """Bind and serve in a daemon thread; return the base URL."""
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SandboxError(self._port_taken_message()) from None
            raise SandboxError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror}): pick another "
                "--port or host"
            ) from None
        server.sandbox = self
        self._server = server
        self.stop_event.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        log.info("sandbox listening on %s", self.url)
        return self.url

    def _port_taken_message(self) -> str:
        where = f"{self.host}:{self.port}"
        try:
            answer = requests.get(f"http://{where}/_sandbox/health", timeout=1).json()
        except (requests.RequestException, ValueError):
            answer = None
        if isinstance(answer, dict) and answer.get("sandbox") == "campaign":
            return (
                f"a campaign sandbox is already running on {where}: use it, stop it first, "
                "or start this one with another --port"
            )
        return f"port {self.port} on {self.host} is in use by another program: pick another --port"

    def stop(self) -> None:
        self.stop_event.set()  # wakes requests held by a timeout fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state ------------------------------------------------------------------------

    def reset(self) -> None:
        for api in self.platforms.values():
            api.reset()
        self.faults.reset()
        self.clock.set(now=datetime.now(UTC), speed=1.0)
        with self.media_lock:
            self.media.clear()
            self.requests.clear()

    def add_fault(self, fault: Fault) -> None:
        api = self.platforms.get(fault.platform)
        if api is None:
            raise SandboxError(
                f"platform must be one of {sorted(self.platforms)}, not {fault.platform!r}"
            )
        call = api.call_name(fault.call)
        if call is None:
            raise SandboxError(
                f"call for {fault.platform} must be one of {sorted(api.calls)} or '*', "
                f"not {fault.call!r}"
            )
        fault.call = call
        if fault.kind not in api.fault_kinds and fault.kind != "answer":
            raise SandboxError(
                f"kind for {fault.platform} must be one of {list(api.fault_kinds)}, "
                f"not {fault.kind!r}"
            )
        if fault.times < 1:
            raise SandboxError("times must be 1 or more")
        self.faults.add(fault)

    def posts(self) -> list[dict[str, Any]]:
        return [p.as_json() for api in self.platforms.values() for p in api.live_posts()]

    def deleted(self) -> list[dict[str, Any]]:
        return [p.as_json() for api in self.platforms.values() for p in api.deleted_posts()]

    def env(self) -> dict[str, str]:
        """Every variable that points `campaign` at this sandbox, credentials included."""
        out = {"CAMPAIGN_SANDBOX_URL": self.url, "CAMPAIGN_INSTAGRAM_MEDIA_HOST": "sandbox"}
        for name, api in self.platforms.items():
            out[f"CAMPAIGN_{name.upper()}_API_URL"] = self.api_url(name)
            out.update(api.credentials())
            out.update(api.settings_env())
        return out

    def write_env_file(self, path: Path) -> None:
        """A dotenv file (`set -a; . FILE`) with every variable of `env()`."""
        lines = [
            "# Written by `campaign sandbox`: points campaign at the sandbox on "
            f"{self.url}.",
            "# These credentials are the sandbox's fake ones; they work nowhere else.",
            "# The sandbox's accounts are the example campaign.toml's page_id and account_id",
            "# (CAMPAIGN_SANDBOX_* below say which).",
        ]
        lines += [f"{key}={_dotenv_quote(value)}" for key, value in sorted(self.env().items())]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- the /_sandbox/ API -------------------------------------------------------------

    def handle_own(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/_sandbox/health" and method == "GET":
            return Response.json(200, {"sandbox": "campaign", "platforms": sorted(self.platforms)})
        if path == "/_sandbox/posts" and method == "GET":
            return Response.json(200, self.posts())
        if path == "/_sandbox/requests" and method == "GET":
            with self.media_lock:
                return Response.json(200, list(self.requests))
        if path == "/_sandbox/deleted" and method == "GET":
            return Response.json(200, self.deleted())
        if path == "/_sandbox/reset" and method == "POST":
            self.reset()
            return Response.json(200, {"reset": True})
        if path == "/_sandbox/faults" and method == "GET":
            return Response.json(
                200,
                {"pending": [f.as_json() for f in self.faults.pending], "met": self.faults.met},
            )
        if path == "/_sandbox/faults" and method == "POST":
            return self._post_fault(request)
        if path == "/_sandbox/accounts" and method == "GET":
            return Response.json(
                200, {name: {**api.account_state.as_json(), "granted_scopes": api.scopes()}
                      for name, api in self.platforms.items()},
            )
        if path == "/_sandbox/accounts" and method == "POST":
            return self._post_account(request)
        if path == "/_sandbox/clock" and method == "GET":
            return Response.json(200, self.clock.as_json())
        if path == "/_sandbox/clock" and method == "POST":
            return self._post_clock(request)
        if path.startswith("/_sandbox/media/"):
            return self._media(request, path.rsplit("/", 1)[1])
        match = re.fullmatch(r"/_sandbox/image/(\w+)/([^/]+)", path)
        if match and method == "GET":  # ids may be URNs or at:// URIs, percent-encoded
            return self._image(match.group(1), unquote(match.group(2)))
        match = re.fullmatch(r"/_sandbox/feed/(\w+)", path)
        if match and method == "GET" and match.group(1) in self.platforms:
            api = self.platforms[match.group(1)]
            others = [(n, a.title) for n, a in self.platforms.items()]
            return Response.html(feed.render_feed(api.title, api.name, api.live_posts(), others))
        if path in ("/", "/_sandbox", "/_sandbox/") and method == "GET":
            return Response.html(feed.render_index(self.platforms))
        return Response.json(404, {"error": f"no such sandbox call: {method} {path}"})

    def _post_fault(self, request: Request) -> Response:
        body = request.json
        if not isinstance(body, dict):
            return Response.json(400, {"error": "send a JSON object: {platform, call, kind, times}"})
        unknown = set(body) - {"platform", "call", "kind", "times", "reset_after", "delay",
                               "status", "body", "headers"}
        if unknown:
            return Response.json(400, {"error": f"unknown keys: {sorted(unknown)}"})
        try:
            fault = Fault(
                platform=str(body["platform"]),
                call=str(body.get("call", "*")),
                kind=str(body["kind"]),
                times=int(body.get("times", 1)),
                reset_after=int(body.get("reset_after", 60)),
                delay=float(body.get("delay", 30)),
                status=int(body.get("status", 500)),
                body=body.get("body"),
                headers={str(k): str(v) for k, v in dict(body.get("headers") or {}).items()},
            )
            self.add_fault(fault)
        except KeyError as exc:
            return Response.json(400, {"error": f"missing key: {exc.args[0]}"})
        except (TypeError, ValueError) as exc:
            return Response.json(400, {"error": f"bad value: {exc}"})
        except SandboxError as exc:
            return Response.json(400, {"error": str(exc), "kinds": FAULT_KINDS})
        return Response.json(201, {"fault": fault.as_json()})

    def _post_account(self, request: Request) -> Response:
        """Set what a platform's token can do: expiry, scopes, image host, clock (for doctor)."""
        body = request.json
        if not isinstance(body, dict) or body.get("platform") not in self.platforms:
            return Response.json(400, {"error": "send a JSON object with platform (one of "
                                       f"{sorted(self.platforms)}) and the keys to change"})
        known = {"platform", "token_expires_at", "scopes", "media_reachable", "date_offset_seconds",
                 "sunset_versions"}
        unknown = set(body) - known
        if unknown:
            return Response.json(400, {"error": f"unknown key(s) {sorted(unknown)}: use {sorted(known)}"})
        state = self.platforms[body["platform"]].account_state
        try:
            if "token_expires_at" in body:
                raw = body["token_expires_at"]
                moment = None if raw is None else datetime.fromisoformat(str(raw))
                if moment is not None and moment.tzinfo is None:
                    raise ValueError("token_expires_at needs an offset, e.g. 2027-03-10T00:00:00+00:00")
                state.token_expires_at = moment
            if "scopes" in body:
                scopes = body["scopes"]
                if scopes is not None and not (
                    isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)
                ):
                    raise ValueError("scopes must be a list of strings, or null for all")
                state.scopes = scopes
            if "media_reachable" in body:
                state.media_reachable = bool(body["media_reachable"])
            if "date_offset_seconds" in body:
                state.date_offset_seconds = float(body["date_offset_seconds"])
            if "sunset_versions" in body:
                versions = body["sunset_versions"]
                if not (isinstance(versions, list) and all(isinstance(v, str) for v in versions)):
                    raise ValueError("sunset_versions must be a list of YYYYMM strings")
                state.sunset_versions = versions
        except (TypeError, ValueError) as exc:
            return Response.json(400, {"error": f"bad value: {exc}"})
        api = self.platforms[body["platform"]]
        return Response.json(200, {**state.as_json(), "granted_scopes": api.scopes()})

    def _post_clock(self, request: Request) -> Response:
        """Set the clock posts' numbers grow with: `now` (ISO 8601 with an offset), `speed`
        (sandbox seconds per wall second), `advance_seconds` (move it on)."""
        body = request.json
        known = {"now", "speed", "advance_seconds"}
        if not isinstance(body, dict) or set(body) - known:
            return Response.json(400, {"error": f"send a JSON object with any of {sorted(known)}"})
        try:
            raw = body.get("now")
            self.clock.set(
                now=None if raw is None else datetime.fromisoformat(str(raw)),
                speed=None if body.get("speed") is None else float(body["speed"]),
                advance=timedelta(seconds=float(body.get("advance_seconds") or 0)),
            )
        except (TypeError, ValueError) as exc:
            return Response.json(400, {"error": f"bad value: {exc}"})
        return Response.json(200, self.clock.as_json())

    def _media(self, request: Request, name: str) -> Response:
        if not _MEDIA_NAME.fullmatch(name):
            return Response.json(400, {"error": "media names are random: [A-Za-z0-9_-]{8,64}.jpg"})
        if request.method == "PUT":
            if inspect_image(request.body) is None:
                return Response.json(400, {"error": "the body is not an image"})
            with self.media_lock:
                self.media[name] = request.body
            return Response.json(201, {"url": f"{request.public_url}/_sandbox/media/{name}"})
        if request.method == "DELETE":
            with self.media_lock:
                self.media.pop(name, None)
            return Response(204)
        if request.method == "GET":
            instagram = self.platforms.get("instagram")
            if instagram is not None and not instagram.account_state.media_reachable:
                return Response.dropped()  # POST /_sandbox/accounts {"media_reachable": false}
            with self.media_lock:
                data = self.media.get(name)
            if data is None:
                return Response(404, b"not found", "text/plain")
            info = inspect_image(data)
            return Response(200, data, info.mime if info else "application/octet-stream")
        return Response.json(405, {"error": "use PUT, GET or DELETE"})

    def _image(self, platform: str, post_id: str) -> Response:
        api = self.platforms.get(platform)
        if api is None:
            return Response(404, b"not found", "text/plain")
        with api.lock:
            post = api.posts.get(post_id) or api.deleted.get(post_id)
        if post is None or not post.image:
            return Response(404, b"not found", "text/plain")
        return Response(200, post.image, post.image_type or "application/octet-stream")

    def dispatch(self, request: Request) -> Response:
        if request.path == "/" or request.path.startswith("/_sandbox"):
            return self.handle_own(request)
        prefix, _, rest = request.path.lstrip("/").partition("/")
        api = self.platforms.get(prefix)
        if api is None:
            return Response.json(
                404,
                {"error": f"no platform {prefix!r}: the sandbox serves {sorted(self.platforms)}"},
            )
        request.path = "/" + rest
        self._record(prefix, request)
        response = api.handle(request)
        offset = api.account_state.date_offset_seconds
        if offset:
            response.headers["Date"] = formatdate(time.time() + offset, usegmt=True)
        return response

    def _record(self, platform: str, request: Request) -> None:
        """Keep what a request carried (never its credentials) for tests to inspect."""
        hidden = {"access_token", "appsecret_proof", "input_token"}
        entry = {
            "platform": platform,
            "method": request.method,
            "path": request.path,
            "query": {k: v for k, v in request.query.items() if k not in hidden},
            "content_type": request.content_type,
            "json": request.json,
            "form": {k: v for k, v in request.form.items() if k not in hidden},
            "files": {name: f.filename for name, f in request.files.items()},
        }
        with self.media_lock:
            self.requests.append(entry)


def _dotenv_quote(value: str) -> str:
    if re.fullmatch(r"[\w.:/@+-]*", value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written separately: without TCP_NODELAY, Nagle plus the
    # client's delayed ACK stall every answer on a kept-alive connection by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "campaign-sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        # The request line would include query strings, where Meta's SDK puts tokens:
        # log the path only.
        pass

    def _request(self) -> Request | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response.json(413, {"error": "request body too large"}))
            return None
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            public_url=self.server.sandbox.url,
        )
        parse_body(request)
        return request

    def _serve(self) -> None:
        request = self._request()
        if request is None:
            return
        try:
            response = self.server.sandbox.dispatch(request)
        except Exception:
            log.exception("sandbox: %s %s failed", request.method, request.path)
            response = Response.json(500, {"error": "the sandbox failed; see its log"})
        log.debug("sandbox: %s %s -> %s", request.method, request.path,
                  "dropped" if response.drop else response.status)
        if response.drop:
            self.close_connection = True
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        date = response.headers.pop("Date", None)
        if date is None:
            self.send_response(response.status)
        else:  # a platform's clock set off with POST /_sandbox/accounts
            self.send_response_only(response.status)
            self.send_header("Server", self.version_string())
            self.send_header("Date", date)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


__all__ = ["DEFAULT_PORT", "Sandbox", "SandboxError", "platform_classes"]
