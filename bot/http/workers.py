"""Several worker processes, each with a listening socket of its own, so connections spread over the workers.

With uvicorn's own supervisor the workers share one socket, and the worker that wakes first accepts every
connection waiting: a client that opens its keep-alive connections at once (a proxy's pool, a load tester)
lands them all on one worker, and the other workers' cores stay idle (measured: all 8 of wrk's connections on
one of 2 workers, half the throughput). Here each worker listens on its own SO_REUSEPORT socket bound to the
same address, and the kernel spreads new connections over the sockets. uvicorn's supervisor still starts,
watches and restarts the workers; each one is given its own socket.
"""

from __future__ import annotations

import logging
import socket

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from index.errors import ListenError

log = logging.getLogger("uvicorn.error")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """`count` sockets bound to one address (port 0: one the system picks), ready to share out. The address is
    first bound alone, so a server already on it (another sourcier's SO_REUSEPORT sockets too) is refused, not
    silently joined."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)  # at once: a second server's probe then finds the address taken
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sockets


class OwnSockets(Multiprocess):
    """uvicorn's supervisor, giving worker i the socket i only (on start, on restart, on SIGHUP)."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.own = sockets

    def _spawn(self, idx: int) -> Process:
        process = Process(self.config, [self.own[idx]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._spawn(i) for i in range(len(self.own))]

    def restart_all(self) -> None:
        """Replace the workers one at a time (uvicorn's order: the new one serving before the old one stops)."""
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._spawn(idx)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def keep_subprocess_alive(self) -> None:
        """uvicorn's check, and a replacement takes over the dead worker's socket (and the connections waiting)."""
        for idx, process in enumerate(self.processes):
            if self.should_exit.is_set() or process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app cannot start: every restart would fail alike
                log.error("worker [%s] failed to start, stopping", process.pid)
                self.should_exit.set()
                return
            log.info("worker [%s] died, starting another on its socket", process.pid)
            self.processes[idx] = self._spawn(idx)


def serve_workers(config: Config) -> None:
    """Run `config.workers` workers, each accepting on its own socket."""
    sockets = listening_sockets(config.host, config.port, config.workers, config.backlog)
    host = f"[{config.host}]" if ":" in config.host else config.host
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit), %d workers", host,
             sockets[0].getsockname()[1], config.workers)
    OwnSockets(config, sockets).run()
