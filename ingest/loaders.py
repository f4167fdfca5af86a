"""Read .txt, .md, .docx, .pdf and .html files into plain text.

Every loader returns paragraphs on lines of their own; headings that a
format marks explicitly are rendered as Markdown '#' lines so that `structure`
can split on them. Anything that cannot be read raises UnsupportedDocument with
the reason, and the pipeline skips that file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from errors import UnsupportedDocument
from ingest.records import Document

# Chinese files from older Windows tools are often GB18030/GBK, not UTF-8.
_ENCODINGS = ("utf-8-sig", "gb18030")


def load_document(path: Path, name: str | None = None) -> Document:
    """`name`: the file name to show users, when the file on disk has another
    (an uploaded file is stored under its content hash)."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UnsupportedDocument(
            f"不支持的文件类型 {path.suffix or '(无扩展名)'}，支持：{', '.join(sorted(LOADERS))}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnsupportedDocument(f"无法读取：{exc.strerror or exc}") from exc
    text = loader(data)
    if not text.strip():
        raise UnsupportedDocument("文件中没有可提取的文字")
    return Document(
        source=str(path.resolve()),
        name=name or path.name,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnsupportedDocument("看起来是二进制文件，不是文本")
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnsupportedDocument("无法识别文字编码（请另存为 UTF-8）")


def load_docx(data: bytes) -> str:
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # zip, XML and package errors all mean "not a docx"
        raise UnsupportedDocument(f"不是有效的 .docx 文件（{type(exc).__name__}）") from exc
    blocks = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        level = _heading_level(para.style.name if para.style is not None else "")
        blocks.append(f"{'#' * level} {text}" if level else text)
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(blocks)


def _heading_level(style: str) -> int:
    """Word's built-in 'Heading 2' / Chinese '标题 2' styles; 'Title' is level 1."""
    name = style.strip().lower()
    if name in ("title", "标题"):
        return 1
    for prefix in ("heading", "标题"):
        if name.startswith(prefix) and name[len(prefix) :].strip().isdigit():
            return min(int(name[len(prefix) :]), 6)
    return 0


def load_pdf(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = [] if encrypted else [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # a damaged PDF fails in many ways inside pypdf
        raise UnsupportedDocument(f"不是有效的 PDF 文件（{type(exc).__name__}）") from exc
    if encrypted:
        raise UnsupportedDocument("PDF 已加密，请先解除密码保护")
    # A page break is a paragraph break; the cleaner joins sentences it cuts.
    return "\n\n".join(pages)


def load_html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "template"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre"]):
        if el.find(["p", "li", "td", "h1", "h2", "h3", "h4", "h5", "h6"]):
            continue  # its inner blocks are visited on their own
        text = " ".join(el.get_text(" ", strip=True).split())
        if text:
            level = int(el.name[1]) if el.name[0] == "h" and el.name[1:].isdigit() else 0
            blocks.append(f"{'#' * level} {text}" if level else text)
    if not blocks:  # a page of bare text with no block tags
        blocks = [soup.get_text("\n", strip=True)]
    return "\n\n".join(blocks)


LOADERS: dict[str, Callable[[bytes], str]] = {
    ".txt": decode_text,
    ".md": decode_text,
    ".markdown": decode_text,
    ".docx": load_docx,
    ".pdf": load_pdf,
    ".html": load_html,
    ".htm": load_html,
}
