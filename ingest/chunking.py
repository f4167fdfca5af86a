"""Cut sections into passages on Chinese sentence boundaries.

Sizes are in characters. The embedding model reads at most 512 tokens; with
the XLM-R vocabulary a Chinese character is at most one token, so the default
300 characters plus a section header of under 60 stays well inside the limit
(the test suite checks every shipped chunk against the real tokenizer).
"""

from __future__ import annotations

import hashlib
import unicodedata

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.entities import find_entities
from ingest.records import Chunk, Section

# Paragraphs first, then sentence ends, then clause breaks; "" is the last
# resort for a run of text with no punctuation at all.
SEPARATORS = ["\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", " ", ""]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        length_function=len,
        strip_whitespace=True,
    )


def chunk_id(document: str, header: str, text: str) -> str:
    """Content hash: the same passage in the same place keeps its id, so an
    unchanged passage is never embedded twice."""
    normalised = unicodedata.normalize("NFC", " ".join(text.split()))
    key = "\x1f".join((document, header, normalised))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def chunk_sections(
    sections: list[Section], source: str, splitter: RecursiveCharacterTextSplitter
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in sections:
        pieces = splitter.split_text("\n".join(section.paragraphs))
        for ordinal, text in enumerate(pieces):
            chunks.append(
                Chunk(
                    id=chunk_id(section.document, section.header, text),
                    text=text,
                    document=section.document,
                    source=source,
                    organisation=section.organisation,
                    title=section.title,
                    section=section.position,
                    ordinal=ordinal,
                    entities=find_entities(text),
                )
            )
    return _unique(chunks)


def _unique(chunks: list[Chunk]) -> list[Chunk]:
    """A passage repeated word for word in one section is indexed once."""
    seen: set[str] = set()
    return [c for c in chunks if not (c.id in seen or seen.add(c.id))]
