"""Checks for files that arrive from outside (the admin page, `ingest --kb`).

An uploaded file is hostile until proven otherwise: its name is only a label,
its type is what its bytes say (not its extension), a .docx is a zip that may
be a decompression bomb or point at external resources, and a PDF may take
forever to parse. `check_upload` returns the file's kind or raises
InvalidInput with a one-line reason; `unreadable` reads files in a separate
process that is killed when one runs over time.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

from errors import InvalidInput, UnsupportedDocument
from ingest.loaders import LOADERS, decode_text

# Extension families: the bytes must match what the name claims.
KIND_OF_EXTENSION = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
}
ACCEPTED = "、".join(sorted(set(KIND_OF_EXTENSION)))
MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED_BYTES = 200 * 2**20
MAX_ZIP_RATIO = 100  # uncompressed / compressed, per entry; office XML stays well under
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")
_EXTERNAL = re.compile(rb"<Relationship\b[^>]*TargetMode=\"External\"[^>]*>")
_HYPERLINK = re.compile(rb"Type=\"[^\"]*/hyperlink\"")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def display_name(raw: str) -> str:
    """The file's base name as a label: directories, drive letters and control
    characters dropped. It is shown to users and never used as a path."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable())
    name = name.strip().lstrip(".")
    if not name:
        raise InvalidInput("文件名为空或无效，请给文件起一个名字（例如 案例.docx）。")
    return name[:200]


def check_upload(name: str, data: bytes, max_bytes: int) -> str:
    """The kind of file these bytes are (txt, md, html, docx, pdf)."""
    suffix = PurePosixPath(name).suffix.lower()
    claimed = KIND_OF_EXTENSION.get(suffix)
    if claimed is None:
        raise InvalidInput(f"{name}：不支持的文件类型，只接受 {ACCEPTED}。")
    if not data:
        raise InvalidInput(f"{name}：文件是空的（0 字节）。")
    if len(data) > max_bytes:
        raise InvalidInput(f"{name}：文件过大（{len(data)} 字节），单个文件最多 {max_bytes} 字节。")
    if data.startswith(_EXECUTABLE_MAGIC):
        raise InvalidInput(f"{name}：内容是可执行程序，不是文档，已拒绝。")
    actual = _sniff(data)
    if actual == "text" and claimed in ("txt", "md", "html"):
        return claimed
    if actual != claimed:
        raise InvalidInput(
            f"{name}：扩展名是 {suffix}，内容却不是 {claimed.upper()} 文件，已拒绝。"
        )
    if actual == "docx":
        check_docx(name, data)
    return actual


def _sniff(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx"
    try:
        decode_text(data)
    except UnsupportedDocument:
        return "binary"
    return "text"


def check_docx(name: str, data: bytes) -> None:
    """A Word file whose zip is sane and refers to nothing outside itself."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidInput(f"{name}：不是有效的 .docx（压缩包损坏：{exc}）。") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise InvalidInput(f"{name}：压缩包内文件过多（{len(entries)} 个），已拒绝。")
    if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
        raise InvalidInput(f"{name}：解压后过大（疑似压缩炸弹），已拒绝。")
    for entry in entries:
        if entry.file_size > 2**20 and entry.file_size > MAX_ZIP_RATIO * max(
            entry.compress_size, 1
        ):
            raise InvalidInput(f"{name}：压缩比异常（疑似压缩炸弹），已拒绝。")
        if entry.filename.startswith(("/", "\\")) or ".." in PurePosixPath(entry.filename).parts:
            raise InvalidInput(f"{name}：压缩包内含有越界路径，已拒绝。")
    names = {e.filename for e in entries}
    if "word/document.xml" not in names:
        raise InvalidInput(f"{name}：不是 Word 文档（缺少 word/document.xml）。")
    for entry in entries:
        if not entry.filename.endswith((".xml", ".rels")):
            continue
        part = archive.read(entry)
        if _DTD.search(part[:4096]):
            raise InvalidInput(f"{name}：文档含有 DTD 声明（可能引用外部实体），已拒绝。")
        if entry.filename.endswith(".rels"):
            for rel in _EXTERNAL.findall(part):
                if not _HYPERLINK.search(rel):
                    raise InvalidInput(
                        f"{name}：文档引用了外部资源（链接的模板、图片或对象），已拒绝。"
                        "请在 Word 中取消链接后另存再上传。"
                    )


def unreadable(files: list[tuple[str, bytes]], timeout: float) -> list[str]:
    """For each (kind, data): why its text cannot be read, or "" when it can.
    Read in a child process, killed when a file takes over `timeout` seconds
    (a crafted PDF can keep a parser busy for hours); one child serves all
    files until one of them has to be killed."""
    context = multiprocessing.get_context("spawn")
    problems = []
    pool = None
    try:
        for kind, data in files:
            pool = pool or context.Pool(1)
            pending = pool.apply_async(_extract, (kind, data))
            try:
                problems.append(pending.get(timeout))
            except multiprocessing.TimeoutError:
                pool.terminate()
                pool = None
                problems.append(f"解析超时（超过 {timeout:g} 秒），文件可能已损坏，已拒绝。")
    finally:
        if pool:
            pool.terminate()
    return problems


def _extract(kind: str, data: bytes) -> str:
    """Why the text cannot be read, or "": runs in the child process."""
    try:
        text = LOADERS["." + kind](data)
    except UnsupportedDocument as exc:
        return str(exc)
    if not text.strip():
        return "文件中没有可提取的文字（扫描件请先做文字识别）。"
    return ""
