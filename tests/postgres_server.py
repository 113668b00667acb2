"""A real PostgreSQL server for the tests, started in a temporary folder: `postgres_url`.

    from tests.postgres_server import postgres_url  # noqa: F401 (a fixture)

It runs Debian's (or this machine's) `initdb` and `pg_ctl`, found on PATH or in
/usr/lib/postgresql/<version>/bin, on a free localhost port, with its unix socket in a short
folder. PostgreSQL refuses to run as root, so as root (here and in CI) the server runs as an
unprivileged user: `nobody`, else a `sentiment-pg` user made with useradd. Without the
binaries or psycopg2 the tests skip, and say what to install (CI installs both, and fails on
a skip: tests/no_skips.py).
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

UNPRIVILEGED_USERS = ("nobody", "sentiment-pg")
DATABASE = "sweeps"
START_TIMEOUT_SECONDS = 60


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else the newest Debian package's."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)  # fmt: skip
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_user() -> str | None:
    """Who runs the server: None (this user) unless root, else an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    name = UNPRIVILEGED_USERS[-1]
    subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
    return name


def as_user(user: str | None, command: list[str]) -> list[str]:
    return command if user is None else ["runuser", "-u", user, "--", *command]


def _skip_without_postgres() -> Path:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install -r requirements-cluster.txt)")
    found = postgres_bin()
    if found is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in "
                    "/usr/lib/postgresql/*/bin (apt-get install postgresql)")  # fmt: skip
    return found


@contextlib.contextmanager
def running_postgres(binaries: Path) -> Iterator[str]:
    """Start a PostgreSQL server with an empty database in a temporary folder; its URL.

    Args:
        binaries: the folder of initdb, pg_ctl and createdb (postgres_bin()).
    """
    user = server_user()
    folder = Path(tempfile.mkdtemp(prefix="pg-"))  # short: a socket path has ~100 characters
    data, sockets = folder / "data", folder / "s"
    sockets.mkdir()
    if user is not None:
        shutil.chown(folder, user)
        shutil.chown(sockets, user)
    port = free_port()
    role = pwd.getpwuid(os.geteuid()).pw_name if user is None else user

    def run(*command: str) -> None:
        done = subprocess.run(as_user(user, list(command)), capture_output=True, text=True,
                              cwd=folder, timeout=START_TIMEOUT_SECONDS)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr}{done.stdout}")

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", role, "--auth=trust", "-E",
            "UTF8", "--no-instructions")  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o",
            options, "-w", "-t", str(START_TIMEOUT_SECONDS), "start")  # fmt: skip
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", role, DATABASE)
        yield f"postgresql://{role}@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run(as_user(user, [str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                      "-w", "stop"]), capture_output=True, cwd=folder)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """A running PostgreSQL server with an empty database; yields its URL, stops it after."""
    with running_postgres(_skip_without_postgres()) as url:
        yield url
