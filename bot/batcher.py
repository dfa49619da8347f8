"""Micro-batching inside one worker: concurrent questions share one encoder pass, and one trip to the CPU thread.

USE costs per question, on one thread: 2.31 ms alone, 1.35 ms in a batch of 4, 0.75 ms in a batch of 16
(issue 24). A question that finds the encoder idle goes at once, alone: nothing waits when nothing else is
asking. Questions that arrive while a pass is queued join it; while one runs, they gather for at most `window`
seconds, or until `max_batch` of them, and then go through the encoder together. A pass does each question's
whole job on the CPU thread: what comes before its embedding, the encoder for all of them, and what comes after,
so a question costs one hop off the event loop instead of three. Each caller gets its own result, and a question
that fails (the encoder cannot read it, its sources do not exist) fails alone, never its neighbours.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

Run = Callable[..., Awaitable[Any]]  # the engine's `run`: fn, *args on its CPU pool
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    """A question's work around its embedding, both halves run on the CPU thread by a pass."""

    def text(self) -> str | None:
        """What to embed (None: nothing, e.g. a cached answer); it may raise, failing this job alone."""

    def finish(self, vector: np.ndarray | None, embed_ms: float | None) -> T_co:
        """The result, from the vector (None when `text` asked for none) and the pass's encoder time."""


class Vector:
    """The job of a caller that only wants the vector."""

    def __init__(self, text: str) -> None:
        self._text = text

    def text(self) -> str:
        """The text as given."""
        return self._text

    def finish(self, vector: np.ndarray | None, embed_ms: float | None) -> np.ndarray:
        """The vector itself."""
        assert vector is not None
        return vector


Pending = tuple[Job[Any], "asyncio.Future[Any]"]


@dataclass
class BatchStats:
    """What the batchers of one engine did, counted (tests assert on counts, never on time)."""

    batches: int = 0  # encoder passes
    questions: int = 0  # questions embedded through them
    waits: int = 0  # times a question was held back for the window (never when the encoder is idle)
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> batches of that size
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    on_batch: Callable[[int], None] | None = None  # /metrics

    def batch(self, size: int) -> None:
        """Count one encoder pass over `size` questions."""
        with self._lock:
            self.batches += 1
            self.questions += size
            self.largest = max(self.largest, size)
            self.sizes[size] = self.sizes.get(size, 0) + 1
        if self.on_batch is not None:
            self.on_batch(size)

    def waited(self) -> None:
        """Count one question held back for the window."""
        with self._lock:
            self.waits += 1


class MicroBatcher:
    """Gathers the questions of one event loop into encoder passes.

    A pass is queued on the CPU pool and takes the questions that are pending when it *starts*, not when it was
    queued: questions that arrive while it waits behind other requests' work join it at no cost to anyone. A
    question that finds nothing queued or running goes at once; one that arrives while a pass runs and none is
    queued waits at most `window` for others before its own pass is queued (or until `max_batch` are pending).
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], run: Run, stats: BatchStats,
                 max_batch: int = 16, window: float = 0.001) -> None:
        self._encode = encode
        self._run = run  # how a pass gets off the event loop (the engine's CPU pool)
        self.stats = stats
        self.max_batch = max(1, max_batch)
        self.window = max(0.0, window)
        self._lock = threading.Lock()  # the pending list is shared with the pool thread that takes it
        self._pending: list[Pending] = []
        self._queued = False  # a pass is on the pool and has not started: it will take what is pending
        self._passes = 0  # passes queued or running (event loop side)
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Questions waiting for a pass to take them."""
        with self._lock:
            return len(self._pending)

    @property
    def queued(self) -> bool:
        """Whether a pass is on the pool, not started yet (it will take what is pending)."""
        with self._lock:
            return self._queued

    async def embed(self, text: str) -> np.ndarray:
        """This text's vector, encoded with whatever other questions are asking at the same moment."""
        vector: np.ndarray = await self.run(Vector(text))
        return vector

    async def run(self, job: Job[T]) -> T:
        """This job's result, its embedding shared with whatever other questions are asking at the same moment."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._pending.append((job, future))
            joined, pending = self._queued, len(self._pending)
        if joined:
            pass  # the queued pass takes it when it starts
        elif self._passes == 0 or pending >= self.max_batch or self.window == 0:
            self._submit()  # an idle encoder: no reason to wait
        elif self._timer is None:
            self.stats.waited()
            self._timer = loop.call_later(self.window, self._submit)
        return await future

    def _submit(self) -> None:
        """Queue one pass on the pool, unless one is queued already (it will take what is pending)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            if self._queued or not self._pending:
                return
            self._queued = True
        self._passes += 1
        task = asyncio.get_running_loop().create_task(self._pass())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[Pending]:
        """What this pass runs: up to max_batch of the pending jobs, at the moment it starts."""
        with self._lock:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self._queued = False
        return batch

    def _taken_and_done(self) -> tuple[list[Pending], list[Any]]:
        """In the pool thread: take the pending jobs, embed what they ask for in one pass, finish each."""
        batch = self._take()
        results, texts = self._texts(batch)
        started = time.perf_counter()
        vectors = dict(zip(texts, self._vectors(list(texts.values())), strict=True)) if texts else {}
        embed_ms = round((time.perf_counter() - started) * 1000, 3)
        for i, (job, _) in enumerate(batch):
            if isinstance(results[i], Exception):
                continue
            vector = vectors.get(i)
            try:
                if isinstance(vector, Exception):
                    raise vector
                results[i] = job.finish(vector, embed_ms if i in texts else None)
            except Exception as exc:  # noqa: BLE001 - this job's own failure, never its neighbours'
                results[i] = exc
        return batch, results

    @staticmethod
    def _texts(batch: list[Pending]) -> tuple[list[Any], dict[int, str]]:
        """Each job's text to embed, by its place in the batch; a job whose preparation failed holds its error."""
        results: list[Any] = [None] * len(batch)
        texts: dict[int, str] = {}
        for i, (job, _) in enumerate(batch):
            try:
                text = job.text()
            except Exception as exc:  # noqa: BLE001 - handed to this job's caller, who raises it
                results[i] = exc
                continue
            if text is not None:
                texts[i] = text
        return results, texts

    async def _pass(self) -> None:
        """One pass off the loop; each caller gets its own result."""
        try:
            batch, results = await self._run(self._taken_and_done)
        except Exception as exc:  # noqa: BLE001 - the pool failed (shut down): every waiting caller raises it
            batch = self._take()
            results = [exc] * len(batch)
        except BaseException:  # this task was cancelled (the loop is closing): so are the waiting callers
            for _, future in self._take():
                future.cancel()
            raise
        finally:
            self._passes -= 1
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away (client disconnected)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._passes == 0:
            self._submit()  # those that gathered beyond this pass go now: the encoder is free

    def _vectors(self, texts: list[str]) -> list[np.ndarray | Exception]:
        """One encoder pass; if it fails, each text alone, so only the texts that fail get the error."""
        self.stats.batch(len(texts))
        try:
            vectors = self._encode(texts)
            return [np.array(v, dtype=np.float32) for v in vectors]
        except Exception as exc:  # noqa: BLE001 - not swallowed: retried alone, each caller raises its own
            if len(texts) == 1:
                return [exc]
        return [self._alone(text) for text in texts]

    def _alone(self, text: str) -> np.ndarray | Exception:
        """One text's vector, or the error encoding it raised."""
        try:
            return np.array(self._encode([text])[0], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - handed to this text's caller, who raises it
            return exc
