"""A throwaway PostgreSQL cluster for the tests (issue 20): started once per test session.

`initdb` in a temporary folder, the server listening only on a unix socket in that folder
(on a free port number), stopped and removed at the end of the session. No Docker: the
binaries come from Debian's `postgresql` package (.ci/install-system-deps.sh), found under
/usr/lib/postgresql/*/bin (or on PATH). initdb and postgres refuse to run as root, and CI
runs the tests as root: then the cluster runs as the unprivileged user `nobody`, in a
folder it owns.

`postgres.new_database()` gives each test a fresh, empty database (`CREATE DATABASE`), as
a `postgresql://` URL. Skipped when PostgreSQL is not installed, failed instead when
CAMPAIGN_REQUIRE_REAL_SERVERS=1 (CI).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def find_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin (the
    newest), else wherever PATH has them."""
    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    bindir: Path
    folder: Path
    port: int
    user: str | None  # the unprivileged user the server runs as, when the tests run as root
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        extra: dict[str, Any] = {}
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run(list(args), capture_output=True, text=True, check=check,
                              cwd=self.folder, timeout=120, **extra)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                  "-m", mode, "stop", check=False)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            cursor = db.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def new_database(self) -> str:
        name = f"t_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def terminate(self, database_url: str, application_pid: int | None = None) -> int:
        """Cut the connections of one `campaign` process (by its pid) or of everyone to
        a database, as a network cut would: the number of backends terminated."""
        name = database_url.split("/")[3].split("?")[0]
        query = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname = %s AND pid <> pg_backend_pid()")
        params: tuple[Any, ...] = (name,)
        if application_pid is not None:
            query += " AND application_name LIKE %s"
            params = (name, f"campaign % pid {application_pid}")
        return int(self.execute(query, params)[0][0])


class NoPostgres(RuntimeError):
    pass


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PostgresCluster]:
    """A new cluster in a temporary folder, started; stopped and removed afterwards."""
    bindir = find_bindir()
    if bindir is None:
        raise NoPostgres("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin "
                         "or on PATH): install Debian's `postgresql` (.ci/install-system-deps.sh)")
    user = "nobody" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="campaign-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)
    cluster = PostgresCluster(bindir, folder, _free_port(), user)
    try:
        cluster._run(str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                     "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        cluster.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise NoPostgres(f"the test PostgreSQL did not start: {exc.stderr or exc.stdout}") from None
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        with throwaway_cluster() as cluster:
            yield cluster
    except NoPostgres as exc:
        if os.environ.get("CAMPAIGN_REQUIRE_REAL_SERVERS") == "1" or find_bindir() is not None:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@dataclass
class LedgerBackend:
    """One of the ledger's two backends for a test: `target()` is what `Ledger.open` takes
    (a new file, or a new database), `env` what a `campaign` command needs to use it."""

    name: str
    folder: Path
    cluster: PostgresCluster | None
    _first: Path | str | None = None

    def target(self, name: str = "ledger") -> Path | str:
        if self.cluster is None:
            made: Path | str = self.folder / "state" / f"{name}.sqlite"
        else:
            made = self.cluster.new_database()
        if self._first is None:
            self._first = made
        return made

    @property
    def url(self) -> str | None:
        """The database of the first `target()` (made now if there is none), on PostgreSQL."""
        if self.cluster is None:
            return None
        if self._first is None:
            self.target()
        return str(self._first)

    @property
    def env(self) -> dict[str, str]:
        return {"CAMPAIGN_LEDGER_URL": self.url} if self.url else {}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def ledger_backend(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerBackend:
    """Runs the test once on a SQLite ledger file and once on a PostgreSQL database."""
    cluster = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return LedgerBackend(request.param, tmp_path, cluster)
