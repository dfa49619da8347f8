"""Man pages in their source form (`passwd.1`, `usermod.8.gz`, as Debian ships them): rendered by the system's
man(1) at 100 columns, as a person reads them, then laid out like a rendered man page (ingest/manpage.py).

Rendering is the job of groff, not of a hand-written roff parser: tables (tbl), fonts, escapes and DocBook's
macros all come out right. groff runs in its safer mode (no shell, no pipes, no file writes) and only tbl runs
as a preprocessor, whatever the page asks for. A page must never pull a local file into the index: the requests
that read one (`.so`, `.mso`, `.nx`, `.cf`, `.trf`, `.rd`) are refused when written out, and made no-ops before
any line of the page runs, so that an alias or a string that names one calls the no-op.
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
_READS_FILES = re.compile(rb"^[.'][ \t]*(?:" + _FILE_REQUESTS + rb")(?:[ \t]|$)", re.MULTILINE)  # written out
_TITLE = re.compile(rb"^[.'][ \t]*(TH|Dd)(?:[ \t].*)?$", re.MULTILINE)  # man(7) and mdoc(7) pages open with one
# Before the page runs: the requests that read a file become no-ops, so that an alias, a renaming or a name built from
# strings (`.ds b so` / `.m\*b /etc/…`) calls the no-op. `mso` is how the man macros load at the page's first .TH,
# so a stand-in .TH (or .Dd) loads them first, and then `mso` too becomes a no-op; its header line is cut afterwards.
_DISARM = b"".join(b".de " + name + b"\n..\n" for name in (b"so", b"nx", b"cf", b"trf", b"rd"))
_STAND_IN = b"SOURCIER-STAND-IN"
_LOAD = {b"TH": b".TH " + _STAND_IN + b" 7\n", b"Dd": b".Dd January 1, 2000\n.Dt " + _STAND_IN + b" 7\n"}
_DISARM_MSO = b".de mso\n..\n"
_SECTION = re.compile(r"\.[1-9][a-z]{0,6}")


def man_suffix(name: str) -> bool:
    """Whether a file name is a man page's: `.1` to `.9` (`.3pm`, `.1ssl` too), optionally gzipped."""
    lower = name.lower().removesuffix(".gz")
    dot = lower.rfind(".")
    return dot > 0 and bool(_SECTION.fullmatch(lower[dot:]))


def _disarmed(source: bytes) -> bytes:
    """The page with every file-reading request refused (written out) or made a no-op (reached another way)."""
    if _READS_FILES.search(source):
        raise ExtractionError("includes another file (.so, .mso, .nx, .cf…), which sourcier does not follow; index "
                              "the page it points to instead; skipped")
    title = _TITLE.search(source[:65536])
    if title is None:
        raise ExtractionError("is named like a man page but has no .TH (or .Dd) line: not roff; skipped")
    return _DISARM + _LOAD[title.group(1)] + _DISARM_MSO + source


def _without_stand_in(rendered: bytes) -> bytes:
    """The output without the stand-in's header line."""
    if rendered.startswith(_STAND_IN):
        rendered = rendered.split(b"\n", 1)[-1].lstrip(b"\n")
    return rendered


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
    return re.sub(rb"[^\n]\x08", b"", _without_stand_in(done.stdout))  # overstrike bold/underline, if man(1) keeps it


def read_roff(raw: bytes, name: str) -> tuple[str, Layout]:
    """A man page's source: rendered, then read as the text a person sees."""
    return read_text(render(gunzip(raw, MAX_RENDERED)), name)
