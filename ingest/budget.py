"""Each source read under a budget: in a worker process with a memory cap (RLIMIT_AS) and a deadline, so one
hostile file costs bounded time and memory, is reported skipped with the reason, and the others go on.

Workers are plain `python -m ingest.budget` processes, not multiprocessing's: spawn and forkserver children
re-import the parent's `__main__` (`sourcier`: 0.7 s and 96 MB each), and forking an ingest that holds the
embedder's threads is unsafe. A worker starts in about 0.2 s, is reused for the whole ingest, and is replaced
only after it was killed. It talks over a socket of its own, so a library printing to stdout cannot garble
`sourcier ingest --json`; its stdout goes to the parent's stderr.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from index.errors import IngestError, SourceError

if TYPE_CHECKING:  # ingest.scan imports Budget from here
    from ingest.scan import Found

log = logging.getLogger(__name__)
T = TypeVar("T")
_START_S = 60.0  # a worker importing the format readers takes 0.2 s; this much only on a machine under siege


@dataclass(frozen=True, slots=True)
class Budget:
    """What reading one file may cost, and how many files are read at once; defaults live in bot/config.py."""

    seconds: float
    memory_mb: int
    workers: int = 1


def over_time(budget: Budget) -> str:
    """The reason a file that was stopped at its deadline is skipped."""
    return f"took more than {budget.seconds:g} s to read (SOURCIER_READ_TIMEOUT_SECONDS); skipped"


def over_memory(budget: Budget) -> str:
    """The reason a file whose reader ran out of its memory cap is skipped."""
    return f"needed more than {budget.memory_mb} MB to read (SOURCIER_READ_MEMORY_MB); skipped"


def _crashed(budget: Budget, returncode: int | None) -> str:
    """The reason a file whose reader process died is skipped (a C library failing an allocation aborts)."""
    how = signal.Signals(-returncode).name if returncode is not None and returncode < 0 else f"status {returncode}"
    return (f"its reader process died ({how}), most likely over the {budget.memory_mb} MB memory budget "
            "(SOURCIER_READ_MEMORY_MB); skipped")


class _Worker:
    """One reader process and its end of the socket."""

    def __init__(self, budget: Budget, preload: str) -> None:
        mine, theirs = socket.socketpair()
        self.proc = subprocess.Popen(  # stdout to fd 2 itself: sys.stderr may be no file (typer's CliRunner)
            [sys.executable, "-m", "ingest.budget", str(theirs.fileno()), str(budget.memory_mb), preload],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=2, close_fds=True)
        theirs.close()
        self.conn = Connection(mine.detach())
        self.ready = False

    def kill(self) -> None:
        """Stop the process now and reap it."""
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ReadPool(Generic[T]):
    """Reads items with `read` in worker processes under `budget`; what runs over is a SourceError, in order."""

    def __init__(self, read: Callable[[Found], T], budget: Budget, preload: str = "ingest.read") -> None:
        self._read, self._budget, self._preload = read, budget, preload
        self._workers: list[_Worker] = []

    def __enter__(self) -> Self:
        """The pool, its workers started at the first read that needs one."""
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """No worker outlives the ingest, even one interrupted by Ctrl-C."""
        self.close()

    def close(self) -> None:
        """Stop and reap every worker, idle or busy."""
        for worker in self._workers:
            worker.kill()
        self._workers = []

    def _ready(self, count: int) -> list[_Worker]:
        """Up to `count` started workers that said they are ready, starting the missing ones together."""
        while len(self._workers) < max(1, min(count, self._budget.workers)):
            self._workers.append(_Worker(self._budget, self._preload))
        deadline = time.monotonic() + _START_S
        for worker in [w for w in self._workers if not w.ready]:
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                raise IngestError(f"the reader processes did not start within {_START_S:g} s; the machine is "
                                  "overloaded, try again")
            try:
                worker.conn.recv()
            except (EOFError, OSError) as exc:
                raise IngestError(f"a reader process exited as it started (status {worker.proc.wait()}); its "
                                  "error is above; the index was not changed") from exc
            worker.ready = True
        return self._workers

    def map(self, items: Sequence[Found]) -> list[T | SourceError]:
        """Each item's result or the reason it was skipped, in the order given."""
        out: list[T | SourceError | None] = [None] * len(items)
        todo = list(range(len(items)))[::-1]
        busy: dict[Connection, tuple[_Worker, int, float]] = {}
        while todo or busy:
            for worker in self._ready(len(todo) + len(busy)):
                if todo and worker.conn not in busy:
                    at = todo.pop()
                    if self._send(worker, items[at]):
                        busy[worker.conn] = (worker, at, time.monotonic() + self._budget.seconds)
                    else:
                        todo.append(at)  # the worker died idle (killed from outside): a new one reads this file
            if not busy:
                continue
            wait(list(busy), timeout=max(0.0, min(d for _, _, d in busy.values()) - time.monotonic()))
            for conn, (worker, at, deadline) in list(busy.items()):
                result = self._collect(worker, items[at], deadline)
                if result is not None:
                    out[at] = result
                    del busy[conn]
        return [r for r in out if r is not None]

    def _send(self, worker: _Worker, item: Found) -> bool:
        """Hand a worker one file; False when it is gone (and dropped)."""
        try:
            worker.conn.send((self._read, item))
        except OSError:
            self._drop(worker)
            return False
        return True

    def _collect(self, worker: _Worker, item: Found, deadline: float) -> T | SourceError | None:
        """The worker's answer if it has one, a SourceError if it died or ran out of time, else None (not yet)."""
        try:
            if worker.conn.poll():
                answer: T | SourceError = worker.conn.recv()
                return answer
        except (EOFError, OSError):
            try:
                worker.proc.wait(timeout=5)  # how it died, before kill() would make it SIGKILL
            except subprocess.TimeoutExpired:
                pass
            self._drop(worker)
            return SourceError(item.path, _crashed(self._budget, worker.proc.returncode))
        if time.monotonic() < deadline:
            return None
        self._drop(worker)
        log.info("%s: stopped after %g s", item.path, self._budget.seconds)
        return SourceError(item.path, over_time(self._budget))

    def _drop(self, worker: _Worker) -> None:
        """Kill a worker that died or overran; a new one is started when there is more to read."""
        worker.kill()
        self._workers.remove(worker)


def _limit(memory_mb: int) -> None:
    """Cap this process's address space, and ask Linux for SIGKILL when the ingest that started it dies."""
    cap = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the worker still exits at the end of its socket


def _attempt(read: Callable[[Found], object], item: Found, budget: Budget) -> object:
    """One read in the worker: its result, or a SourceError for a bad file or one over the memory cap."""
    try:
        return read(item)
    except SourceError as exc:
        return exc
    except MemoryError:
        pass  # leave the handler first: its traceback still holds every frame's data, the memory to free
    return SourceError(item.path, over_memory(budget))


def _serve(conn: Connection, budget: Budget) -> None:
    """The worker's loop: read what comes, send back the result, until the parent closes the socket."""
    conn.send("ready")
    while True:
        try:
            read, item = conn.recv()
        except EOFError:
            return
        result = _attempt(read, item, budget)
        try:
            conn.send(result)
        except MemoryError:
            conn.send(SourceError(item.path, over_memory(budget)))


def main(argv: list[str]) -> None:
    """`python -m ingest.budget FD MEMORY_MB MODULE`: a reader worker, its module imported before it is ready."""
    fd, memory_mb, preload = int(argv[0]), int(argv[1]), argv[2]
    _limit(memory_mb)
    __import__(preload)
    _serve(Connection(fd), Budget(0, memory_mb))


if __name__ == "__main__":
    main(sys.argv[1:])
