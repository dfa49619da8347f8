"""Man pages in their source form (`passwd.1`, `usermod.8.gz`, as Debian ships them): rendered by the system's
man(1) at 100 columns, as a person reads them, then laid out like a rendered man page (ingest/manpage.py).

Rendering is the job of groff, not of a hand-written roff parser: tables (tbl), fonts, escapes and DocBook's
macros all come out right. groff runs in its safer mode (no shell, no pipes, no file writes) and only tbl runs
as a preprocessor, whatever the page asks for. A page must never pull a local file into the index: the requests
that read one (`.so`, `.mso`, `.nx`, `.cf`, `.trf`, `.rd`) are refused when written out, and made no-ops before
the page runs, so that an alias or a string that names one calls the no-op.
"""

from __future__ import annotations

import os
import re
import subprocess

from index.errors import ExtractionError
from ingest.formats.gz import gunzip
from ingest.formats.plain import decode, read_text
from ingest.structure import Layout

MAX_RENDERED = 8 * 2**20  # bytes of roff source once decompressed: a man page is tens of kilobytes
RENDER_SECONDS = 20.0
_FILE_REQUESTS = b"so|mso|nx|cf|trf|rd|pso|sy|open|opena|pi"
# A request that reads a file, written out, or one named `mso` under another name (an alias, a string).
_READS_FILES = re.compile(rb"^[.'][ \t]*(?:" + _FILE_REQUESTS + rb")(?:[ \t]|$)|\bmso\b", re.MULTILINE)
_TITLE = re.compile(rb"^[.'][ \t]*(?:TH|Dd)(?:[ \t].*)?$", re.MULTILINE)  # man(7) and mdoc(7) pages open with one
# Before .TH (while `mso` is still live): a request whose name holds a string or an argument (`.\*x`, `.m\*b`), or
# an alias or a renaming, could reach `mso`. 23,852 Debian pages have neither there (`.\}`, `.el\{` are fine).
_ESCAPED_REQUEST = re.compile(rb"^[.'][ \t]*[^ \t\n\\]*\\[^\"#}{]|^[.'][ \t]*(?:als|rn)(?:[ \t]|$)", re.MULTILINE)
# Requests that would read a file, made no-ops before the page runs (so an alias or a string naming them calls the
# no-op); `mso` loads the man macros at .TH, so it is disarmed right after that line.
_DISARM = b"".join(b".de " + name + b"\n..\n" for name in (b"so", b"nx", b"cf", b"trf", b"rd"))
_DISARM_MSO = b".de mso\n..\n"
_SECTION = re.compile(r"\.[1-9][a-z]{0,6}")


def man_suffix(name: str) -> bool:
    """Whether a file name is a man page's: `.1` to `.9` (`.3pm`, `.1ssl` too), optionally gzipped."""
    lower = name.lower().removesuffix(".gz")
    dot = lower.rfind(".")
    return dot > 0 and bool(_SECTION.fullmatch(lower[dot:]))


def _disarmed(source: bytes) -> bytes:
    """The page with every file-reading request refused or made a no-op."""
    if _READS_FILES.search(source):
        raise ExtractionError("includes another file (.so, .mso, .nx, .cf…), which sourcier does not follow; index "
                              "the page it points to instead; skipped")
    title = _TITLE.search(source[:65536])
    if title is None:
        raise ExtractionError("is named like a man page but has no .TH (or .Dd) line: not roff; skipped")
    if _ESCAPED_REQUEST.search(source[: title.start()]):
        raise ExtractionError("names a request through a string, or aliases one, before its .TH line, which "
                              "sourcier does not render; skipped")
    end = title.end() + 1
    return _DISARM + source[:end] + _DISARM_MSO + source[end:]


def render(source: bytes) -> bytes:
    """The page as man(1) shows it at 100 columns, in UTF-8, without bold or underline."""
    source = _disarmed(source)
    decode(source)  # the page's own text must be text: UTF-8 (or UTF-16), as Debian's pages are
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "MANWIDTH": "100",
           "HOME": "/nonexistent"}
    try:
        done = subprocess.run(["man", "--no-hyphenation", "--no-justification", "-p", "t", "-l", "-"],
                              input=source, capture_output=True, env=env, timeout=RENDER_SECONDS, check=False)
    except FileNotFoundError as exc:
        raise ExtractionError("is a man page, and man(1) is not installed (apt-get install man-db); skipped") from exc
    except subprocess.TimeoutExpired as exc:
        raise ExtractionError(f"took more than {RENDER_SECONDS:.0f} s to render; skipped") from exc
    if done.returncode != 0 or not done.stdout.strip():
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ExtractionError(f"could not be rendered as a man page ({why[0][:200]}); skipped")
    return re.sub(rb"[^\n]\x08", b"", done.stdout)  # overstrike bold/underline, if a man(1) keeps it


def read_roff(raw: bytes, name: str) -> tuple[str, Layout]:
    """A man page's source: rendered, then read as the text a person sees."""
    return read_text(render(gunzip(raw, MAX_RENDERED)), name)
