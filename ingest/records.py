"""Typed records handed from one ingest stage to the next (and on to index/)."""

from __future__ import annotations

from dataclasses import dataclass


def section_header(organisation: str, title: str) -> str:
    """'北京市总工会 · 深化“双沟通” ...': the label a passage carries."""
    return " · ".join(part for part in (organisation, title) if part)


@dataclass(frozen=True)
class Document:
    """A loaded file: its text, one paragraph or layout line per line; headings
    the format marks explicitly (Markdown, Word styles, HTML) start with '#'."""

    source: str  # absolute path, the key for incremental updates
    name: str  # file name shown to users
    text: str
    sha256: str


@dataclass(frozen=True)
class Section:
    """One case (or one headed part) of a document."""

    document: str
    organisation: str
    title: str
    paragraphs: tuple[str, ...]
    position: int  # order within the document, 0 = text before the first case

    @property
    def header(self) -> str:
        return section_header(self.organisation, self.title)


@dataclass(frozen=True)
class Chunk:
    """A passage as indexed: `text` is shown to users, `index_text` (the section
    header plus the text) is what gets embedded and BM25-tokenised."""

    id: str
    text: str
    document: str
    source: str
    organisation: str
    title: str
    section: int
    ordinal: int
    # The people, places and organisations it names (ingest/entities.py), or
    # None for a chunk made before they were stored: the reader then finds them.
    entities: str | None = None

    @property
    def header(self) -> str:
        return section_header(self.organisation, self.title)

    @property
    def index_text(self) -> str:
        header = self.header
        return f"{header}\n{self.text}" if header else self.text

    def to_json(self) -> dict:
        row = {
            "chunk_id": self.id,
            "text": self.text,
            "document": self.document,
            "source": self.source,
            "organisation": self.organisation,
            "title": self.title,
            "section": self.section,
            "ordinal": self.ordinal,
        }
        if self.entities is not None:
            row["entities"] = self.entities
        return row

    @classmethod
    def from_json(cls, row: dict) -> Chunk:
        return cls(
            id=row["chunk_id"],
            text=row["text"],
            document=row["document"],
            source=row["source"],
            organisation=row["organisation"],
            title=row["title"],
            section=row["section"],
            ordinal=row["ordinal"],
            entities=row.get("entities"),
        )
