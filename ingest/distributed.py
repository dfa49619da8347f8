"""The coordinator of `sourcier ingest --distributed`: one job per file, then wait until the workers embedded all.

It only queues and waits; the build and the publish that follow are the ordinary ones (one transaction), with
the store in front of the embedder, so no partial source can ever be published.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from index.pg.queue import defer_file, make_app, queue_errors, require_queue, wait_for
from ingest.read import ReadParams, scan_sources


@dataclass
class Queued:
    """What the queue did for one distributed ingest."""

    files: int = 0
    seconds: float = 0.0


def files_of(source_root: Path, reading: ReadParams | None) -> tuple[list[str], str]:
    """The files build_index will read (absolute paths: every worker sees the folder at the same path), and
    their root."""
    found, _ = scan_sources(source_root, reading)  # the skipped ones are reported by the build itself
    root = source_root if source_root.is_dir() else source_root.parent
    return [str(f.path.absolute()) for f in found], str(root.absolute())


def queue_and_wait(url: str, source_root: Path, reading: ReadParams | None, wait_seconds: float) -> Queued:
    """Queue every file of source_root and return once workers embedded them all (IngestError otherwise)."""
    require_queue(url)
    paths, root = files_of(source_root, reading)
    if not paths:
        return Queued()  # the build says there is nothing to ingest, in its own words

    async def run() -> float:
        app = make_app(url)
        async with app.open_async():
            jobs = {await defer_file(app, path, root): Path(path).relative_to(root).as_posix() for path in paths}
            started = asyncio.get_running_loop().time()
            await wait_for(app, jobs, wait_seconds)
            return asyncio.get_running_loop().time() - started

    with queue_errors(url):
        waited = asyncio.run(run())
    return Queued(len(paths), round(waited, 3))
