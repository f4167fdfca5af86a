from pathlib import Path

import pytest

from errors import UnsupportedDocument
from ingest.loaders import load_document
from ingest.pipeline import ingest_file
from ingest.structure import split_sections

CASE_LINES = [
    "北京市总工会",
    "深化双沟通 破解建会入会难题",
    "全市共召开37885场职工沟通会，",
    "职工咨询人数84.43万人。",
]


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("案例汇编", level=1)
    document.add_heading(CASE_LINES[0], level=2)
    document.add_heading(CASE_LINES[1], level=3)
    document.add_paragraph(CASE_LINES[2])
    document.add_paragraph(CASE_LINES[3])
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "沟通会"
    table.rows[0].cells[1].text = "37885场"
    document.save(str(path))
    return path


def make_pdf(path: Path) -> Path:
    """Two pages; the sentence runs across the page break, as in print."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    pdf.setFont("STSong-Light", 12)
    for y, line in zip((800, 780, 760), CASE_LINES[:3], strict=True):
        pdf.drawString(50, y, line)
    pdf.showPage()
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(50, 800, CASE_LINES[3])
    pdf.save()
    return path


def make_html(path: Path) -> Path:
    path.write_text(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<nav>首页 | 关于</nav><h2>北京市总工会</h2><h3>深化双沟通 破解建会入会难题</h3>"
        "<p>全市共召开37885场职工沟通会，</p><p>职工咨询人数84.43万人。</p></body></html>",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("make", [make_docx, make_pdf, make_html])
def test_loaders_find_the_case_and_join_its_sentence(tmp_path, make):
    suffix = {"make_docx": ".docx", "make_pdf": ".pdf", "make_html": ".html"}[make.__name__]
    doc = load_document(make(tmp_path / f"case{suffix}"))
    case = next(s for s in split_sections(doc) if s.organisation)
    assert (case.organisation, case.title) == (CASE_LINES[0], CASE_LINES[1])
    assert case.paragraphs[0] == "全市共召开37885场职工沟通会，职工咨询人数84.43万人。"
    assert "alert" not in doc.text and "首页" not in doc.text


def test_docx_tables_are_kept(tmp_path):
    doc = load_document(make_docx(tmp_path / "t.docx"))
    assert "沟通会 | 37885场" in doc.text


def test_gb18030_text_is_decoded(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("江苏省总工会康乃馨服务站。".encode("gb18030"))
    assert load_document(path).text == "江苏省总工会康乃馨服务站。"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.xlsx", b"PK\x03\x04", "不支持的文件类型 .xlsx"),
        ("noext", b"text", "不支持的文件类型 (无扩展名)"),
        ("bin.txt", b"\x00\x01\x02binary", "看起来是二进制文件，不是文本"),
        ("empty.txt", b"   \n", "文件中没有可提取的文字"),
        ("bad.docx", b"not a zip", "不是有效的 .docx 文件"),
        ("bad.pdf", b"%PDF-1.4 garbage", "PDF"),
        ("latin.txt", bytes([0xFF, 0xFE, 0xFD, 0x81, 0x30]) * 3, "无法识别文字编码"),
    ],
)
def test_unreadable_files_raise_a_clear_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedDocument) as err:
        load_document(path)
    assert message in str(err.value)


def test_ingest_file_gives_content_hash_ids(tmp_path):
    path = make_html(tmp_path / "a.html")
    first = ingest_file(path, chunk_size=300, chunk_overlap=60)
    again = ingest_file(path, chunk_size=300, chunk_overlap=60)
    assert [c.id for c in first.chunks] == [c.id for c in again.chunks]
    assert first.cases == 1
    assert first.chunks[0].index_text.startswith("北京市总工会 · 深化双沟通 破解建会入会难题\n")
