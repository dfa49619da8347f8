"""The record every layer shares: a chunk, an exact span of one source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Chunk:
    """An exact span of a source: `source_text[start:end] == text`."""

    chunk_id: str
    source_id: str
    title: str
    text: str
    start: int
    end: int
    ordinal: int
    sentences: tuple[tuple[int, int], ...] = ()  # sentence spans, as absolute source offsets
    section: str = ""  # the headings above the chunk, "Titre › Section"
    anchor: str = ""  # the section heading's anchor in the original (HTML id, Markdown slug), if any
    page: int = 0  # the PDF page the chunk is on (chunks never cross pages); 0 for other formats
    code: tuple[int, ...] = ()  # which of `sentences` are code lines (quoted as code, only when they answer)
    headings: tuple[int, ...] = ()  # which of `sentences` are the section's heading (read by retrieval, never quoted)

    @property
    def context(self) -> str:
        """What retrieval reads besides the text: headings help find a passage, but are never quoted."""
        return f"{self.section}\n{self.text}" if self.section else self.text

    def to_json(self) -> dict[str, Any]:
        """A plain dict for chunks.jsonl and API responses."""
        return {"chunk_id": self.chunk_id, "source_id": self.source_id, "title": self.title, "text": self.text,
                "start": self.start, "end": self.end, "ordinal": self.ordinal,
                "sentences": [list(s) for s in self.sentences], "section": self.section,
                "anchor": self.anchor, "page": self.page, **({"code": list(self.code)} if self.code else {}),
                **({"headings": list(self.headings)} if self.headings else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        """Inverse of to_json; tolerant of the tuple/list difference JSON introduces."""
        fields = dict(data)
        fields["sentences"] = tuple(tuple(s) for s in fields.get("sentences", ()))
        fields["code"] = tuple(fields.get("code", ()))
        fields["headings"] = tuple(fields.get("headings", ()))
        return cls(**fields)


def unit_keys(chunks: list[Chunk]) -> list[tuple[str, int, int]]:
    """The distinct sentences of the chunks in order: the rows of the sentence-vector table."""
    seen: dict[tuple[str, int, int], None] = {}
    for chunk in chunks:
        for start, end in chunk.sentences:
            seen.setdefault((chunk.source_id, start, end), None)
    return list(seen)
