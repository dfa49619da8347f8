"""Gzipped documents (`NEWS.md.gz`, `guide.html.gz`, `usermod.8.gz`, as /usr/share/doc and man pages keep them):
read as the file they hold, never more of it than a bound, so that a small gzip bomb cannot fill memory."""

from __future__ import annotations

import gzip
import io
import zlib

from index.errors import ExtractionError

MAX_GUNZIPPED = 64 * 2**20  # bytes once decompressed: far over any document a team writes


def gunzip(raw: bytes, limit: int = MAX_GUNZIPPED) -> bytes:
    """The bytes a gzip file holds (the raw bytes themselves when they are not gzipped)."""
    if not raw.startswith(b"\x1f\x8b"):
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            held = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ExtractionError(f"is not a readable gzip file ({exc}); skipped") from exc
    if len(held) > limit:
        raise ExtractionError(f"holds more than {limit // 2**20} MiB once decompressed; skipped")
    return held
