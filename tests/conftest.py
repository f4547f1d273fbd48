"""Shared fixtures. The autouse guard makes any connection off this machine fail loudly."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

# Real servers for the integration tier (issue 7): `real_pds`, `mastodon_mock`; see tests/servers/.
pytest_plugins = ["tests.servers.pds_fixture", "tests.servers.mastodon_mock_fixture",
                  "tests.servers.postgres_fixture"]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PLATFORM_NAMES = ("X", "FACEBOOK", "INSTAGRAM", "LINKEDIN", "MASTODON", "BLUESKY")


class InternetAccessError(AssertionError):
    """A test tried to reach an address that is not on this machine."""


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)) and not isinstance(address, tuple):
        return True  # AF_UNIX path
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it would need DNS, i.e. the internet


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection to a non-loopback address, in this process.

    Child processes get every CAMPAIGN_<PLATFORM>_API_URL pointed at a closed
    loopback port, so a subprocess that forgets its sandbox fails instead of
    reaching a real platform.
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_local(address):
            raise InternetAccessError(f"test tried to connect to {address!r}: tests stay on 127.0.0.1")
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(address):
            raise InternetAccessError(f"test tried to connect to {address!r}: tests stay on 127.0.0.1")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    for name in PLATFORM_NAMES:
        if f"CAMPAIGN_{name}_API_URL" not in os.environ:
            monkeypatch.setenv(f"CAMPAIGN_{name}_API_URL", "http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The suite asserts the messages as written (English), in this process and in every
    `campaign` it starts (CAMPAIGN_LANG beats ui_language); the language tests
    (tests/test_i18n*.py) choose Dutch themselves with `use_language("nl")` or `--lang nl`."""
    from campaign import i18n

    monkeypatch.setenv(i18n.LANG_ENV, "en")
    with i18n.use_language("en"):
        yield


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A webhook receiver on 127.0.0.1: the JSON bodies POSTed to it, and its address."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/hooks/abc"
    server.shutdown()


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the repository's campaign (campaign.toml, stories, assets) to change freely."""
    target = tmp_path / "repo"
    target.mkdir()
    shutil.copy2(REPO / "campaign.toml", target / "campaign.toml")
    for folder in ("stories", "assets"):
        if (REPO / folder).exists():
            shutil.copytree(REPO / folder, target / folder, symlinks=True)
    return target


STORY_FIXTURES = FIXTURES / "stories"


def make_campaign(root: Path, *story_fixtures: str) -> Path:
    """A campaign folder at `root`: the repository's campaign.toml and assets, plus the
    named fixture stories (and the fixture photos they refer to) in stories/."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "campaign.toml", root / "campaign.toml")
    if not (root / "assets").exists():
        shutil.copytree(REPO / "assets", root / "assets")
    stories = root / "stories"
    stories.mkdir(exist_ok=True)
    shutil.copy2(STORY_FIXTURES / "not_an_image.jpg", stories / "not_an_image.jpg")
    for name in story_fixtures:
        shutil.copy2(STORY_FIXTURES / name, stories / name)
    return root


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Any:
    """Call with fixture story names; returns the campaign folder (stories only those)."""

    def build(*story_fixtures: str) -> Path:
        return make_campaign(tmp_path / "campaign", *story_fixtures)

    return build


# A real SMTP server on 127.0.0.1 (aiosmtpd), for the alert and doctor tests.

class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
