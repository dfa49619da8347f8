"""One audit line per question or source read (logger `sourcier.audit`): who, where, which sources answered.

So an operator can answer « who read the HR folder last week » with grep. The question text is written only
when SOURCIER_AUDIT_QUESTIONS is on: questions can hold personal data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from bot.access import Caller

log = logging.getLogger("sourcier.audit")


def audit(caller: Caller, action: str, sources: Iterable[str], found: bool | None = None,
          question: str | None = None) -> None:
    """Log one line: `who=… surface=… action=… audiences=… sources=a,b found=…` (and `question="…"`)."""
    named = ",".join(dict.fromkeys(sources)) or "-"
    extra = "" if found is None else f" found={str(found).lower()}"
    if question is not None:
        extra += f" question={json.dumps(question, ensure_ascii=False)}"
    log.info("who=%s surface=%s action=%s audiences=%s sources=%s%s", caller.who, caller.surface, action,
             caller.label, named, extra)
