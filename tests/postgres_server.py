"""A real PostgreSQL server for tests, from the binaries of the `pgserver` wheel (PostgreSQL
16, a test dependency): nothing to install outside pip, no system service touched.

`pgserver.get_server` itself is not used: it listens on a Unix socket only, creates a system
user when run as root and widens the permissions of every folder above its data directory.
Here the server listens on 127.0.0.1 on a free port, lives in one temporary folder, and,
since PostgreSQL refuses to run as root, runs as `nobody` when the tests run as root (CI
does). When `nobody` cannot reach the wheel's binaries (a checkout under a private folder),
they are copied into that temporary folder first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"


def wheel_install_dir() -> Path:
    """The wheel's `pginstall` folder (bin, lib, share), found without importing pgserver
    (its import sets up a lock file and a runtime folder we have no use for)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is a test dependency: pip install -e '.[test]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to `nobody` (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server; `stop()` ends it and removes its folder."""

    root: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    _run_as: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def sql(self, statements: str, database: str = "postgres") -> str:
        """Runs SQL with the wheel's psql over TCP; stops at the first error and raises
        with psql's message. Returns what psql printed (unaligned, tuples only)."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--tuples-only",
                "--no-align",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
            ],
            input=statements,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10", "PGTZ": "UTC"},
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
                **self._run_as,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _binaries_for(run_as: dict[str, Any], root: Path) -> Path:
    """The bin folder the server's user can run: the wheel's own, else a copy in `root`."""
    installed = wheel_install_dir()
    if not run_as:
        return installed / "bin"
    try:
        probe = subprocess.run(
            [str(installed / "bin" / "postgres"), "--version"],
            capture_output=True,
            timeout=30,
            check=False,
            **run_as,
        )
        if probe.returncode == 0:
            return installed / "bin"
    except PermissionError:  # raised by the exec itself: a folder on the way is private
        pass
    # The same layout as in site-packages: the binaries find their libraries in
    # ../../../pgserver.libs (auditwheel's rpath).
    site = root / "site-packages"
    for part in ("bin", "lib", "share"):
        shutil.copytree(installed / part, site / "pgserver" / "pginstall" / part, symlinks=True)
    libs = installed.parent.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / "pgserver.libs", symlinks=True)
    return site / "pgserver" / "pginstall" / "bin"


def _check(done: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if done.returncode == 0:
        return
    server_log = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr}\n{server_log}")


def start() -> PostgresServer:
    """initdb into a fresh temporary folder and start the server on 127.0.0.1 (trust
    authentication: it listens on loopback only and lives for one test session)."""
    run_as = _run_as()
    # Not under pytest's tmp_path: that folder is private to root, and the server may run
    # as nobody.
    root = Path(tempfile.mkdtemp(prefix="target-intercom-postgres-"))
    try:
        root.chmod(0o755)
        bin_dir = _binaries_for(run_as, root)
        data = root / "data"
        data.mkdir(mode=0o700)
        if run_as:
            os.chown(data, run_as["user"], run_as["group"])
            log = root / "postgres.log"
            log.touch()
            os.chown(log, run_as["user"], run_as["group"])
        initdb = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **run_as,
        )
        _check(initdb, "initdb")
        for attempt in range(5):
            server = PostgresServer(root, bin_dir, _free_port(), _run_as=run_as)
            options = (
                f"-c listen_addresses={server.host} -c port={server.port} "
                "-c unix_socket_directories='' -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c timezone=UTC"
            )
            # No pipes: the server outlives pg_ctl, and a pipe it inherited would keep
            # subprocess waiting for its end. Its own output goes to its log file.
            with tempfile.TemporaryFile("w+") as errors:
                started = subprocess.run(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(server.log_path),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    text=True,
                    timeout=120,
                    check=False,
                    **run_as,
                )
                errors.seek(0)
                started.stderr = errors.read()
            if started.returncode == 0:
                return server
            if attempt == 4 or "could not bind" not in server.log_path.read_text(errors="replace"):
                _check(started, "pg_ctl start", server.log_path)
            time.sleep(0.2)  # another process took the port between probe and bind
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


@contextlib.contextmanager
def running() -> Iterator[PostgresServer]:
    server = start()
    try:
        yield server
    finally:
        server.stop()
