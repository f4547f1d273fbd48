"""PyPI `mastodon-mock`, an independently written Mastodon server, on 127.0.0.1.

tests/conftest.py loads this module as a plugin, so any test can ask for the fixture::

    def test_something(mastodon_mock):
        mastodon_mock.url, mastodon_mock.token

It runs as its own process, `python -m mastodon_mock serve` (its CLI; FastAPI + uvicorn),
with a TOML config written here: in-memory SQLite, one seeded account whose access token is
`token`, media files under the test's temp dir. Its fault-injection control plane
(/api/v1/_mock/faults) and reset (/api/v1/_mock/reset) stay available.

Note (issue 7): the mock is more lenient than real Mastodon: it accepts `media_ids` without
`[]` and unknown media ids. Our sandbox must not copy that.

Skipped when the package is missing, failed instead when CAMPAIGN_REQUIRE_REAL_SERVERS=1.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .pds_fixture import unavailable

TOKEN = "campaign-test-token"  # a mock credential, accepted only by this mock
USERNAME = "campaign"
STARTUP_TIMEOUT_S = 30.0


@dataclass
class MastodonMock:
    url: str  # http://127.0.0.1:PORT
    token: str
    username: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(port: int, media_dir: Path) -> str:
    return f"""\
domain = "127.0.0.1:{port}"
url_scheme = "http"
title = "campaign test mock"
media_storage_path = "{media_dir}"

[database]
path = ":memory:"

[server]
host = "127.0.0.1"
port = {port}

[[seed.accounts]]
username = "{USERNAME}"
display_name = "Campaign test"
access_token = "{TOKEN}"
"""


@contextmanager
def run_mastodon_mock(tmp_dir: Path) -> Iterator[MastodonMock]:
    if importlib.util.find_spec("mastodon_mock") is None:
        unavailable("mastodon-mock not installed: run `.venv/bin/pip install -e '.[test]'`")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    media_dir = tmp_dir / "media"
    media_dir.mkdir(exist_ok=True)
    log_path = tmp_dir / "mastodon-mock.log"
    last_error = ""
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = _free_port()
        config_path = tmp_dir / "mastodon_mock.toml"
        config_path.write_text(_config(port, media_dir))
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mastodon_mock",
                    "serve",
                    "--config",
                    str(config_path),
                    "--log-level",
                    "warning",
                ],
                cwd=tmp_dir,  # it would read ./pyproject.toml or ./.mastodon_mock.toml otherwise
                env={**os.environ, "PORT": "", "HOST": ""},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(f"{url}/api/v1/instance", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            last_error = f"exit code {proc.poll()}"
            _stop(proc)
            continue
        try:
            yield MastodonMock(url=url, token=TOKEN, username=USERNAME, process=proc, log_path=log_path)
        finally:
            _stop(proc)
        return
    tail = log_path.read_text(errors="replace")[-3000:]
    message = f"mastodon-mock did not start ({last_error})\n--- {log_path} ---\n{tail}"
    if os.environ.get("CAMPAIGN_REQUIRE_REAL_SERVERS") == "1":
        pytest.fail(message)
    raise RuntimeError(message)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mastodon_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonMock]:
    """mastodon-mock on a free 127.0.0.1 port for the session: `.url` and `.token`."""
    with run_mastodon_mock(tmp_path_factory.mktemp("mastodon-mock")) as server:
        yield server
