import pytest

from ingest.records import Document
from ingest.structure import is_case_start, split_sections

EXPECTED_CASES = [
    ("云南省总工会", "创新开展劳动和技能竞赛 助推滇中引水工程高质量建设"),
    ("重庆市总工会", "推动劳模参政议政纳入制度化安排"),
    ("北京市总工会", "深化“双沟通” 破解建会入会难题"),
    ("新疆维吾尔自治区总工会", "聚焦“进得来、留得住、干得好” 大力推进社会化工会工作者队伍建设"),
    ("湖北省总工会", "构建“检察+工会”劳动者合法权益保障协作机制"),
    ("宁夏回族自治区总工会", "创新建设“一地六园N点”新时代产业工人思想政治教育实践地"),
    ("浙江台州市总工会", "“以技提薪”助力“共富先行”"),
    ("广东广州市总工会", "强化数据支撑聚焦三大重点 高质量编制集体协商参考信息"),
    ("山东济宁市总工会", "海能电商园劳动关系公共服务站点“九号议事”打通劳动关系治理“微循环”"),
    ("福建龙岩市总工会", "坚持和发展新时代“枫桥经验” 全面推行“驿站枫桥”维权服务机制"),
    ("江苏省总工会", "实施康乃馨服务计划 聚力解决女职工“急难愁盼”"),
    ("河北省总工会", "请“工匠”走进省政府新闻发布厅“讲故事”"),
    ("陕西省总工会", "打造科技节创新平台 激发职工创新创造活力"),
    ("安徽省总工会", "创新开展“工会送岗位 乐业在江淮” 就业援助行动 促进劳动者在家门口就业"),
    ("四川省总工会", "坚持“三性”带“三力” 以数字化助推工会工作高质量发展"),
]


def _section(sections, organisation):
    return next(s for s in sections if s.organisation == organisation)


def test_all_fifteen_cases_with_organisation_and_title(corpus_sections):
    cases = [(s.organisation, s.title) for s in corpus_sections if s.organisation]
    assert cases == EXPECTED_CASES


def test_preamble_is_labelled_with_the_document_title(corpus_sections):
    first = corpus_sections[0]
    assert (first.position, first.organisation, first.title) == (
        0,
        "",
        "全国工会重点工作创新案例选登",
    )
    assert first.paragraphs[0].startswith("4月26日，全国总工会召开会议")


def test_column_printed_inside_the_next_case_is_moved_back(corpus_sections):
    xinjiang = "\n".join(_section(corpus_sections, "新疆维吾尔自治区总工会").paragraphs)
    hubei = "\n".join(_section(corpus_sections, "湖北省总工会").paragraphs)
    for phrase in (
        "社工年流失率低于1%",
        "三、改善薪资待遇",
        "全区社工月实发工资不低于3100元",
        "四、促进职业发展",
    ):
        assert phrase in xinjiang
        assert phrase not in hubei
    assert "工会组织和检察机关强化工作统筹" in hubei
    # The opening paragraph of every case stays where it was printed.
    assert hubei.startswith("湖北省总工会联合省检察院印发")


def test_no_other_case_loses_or_gains_paragraphs(corpus_sections):
    # Paragraph counts after repair, read off the printed article by hand.
    counts = [len(s.paragraphs) for s in corpus_sections if s.organisation]
    assert counts == [2, 3, 2, 6, 2, 2, 4, 4, 2, 2, 3, 3, 4, 2, 2]


def test_case_start_needs_an_organisation_line_then_a_title():
    assert is_case_start("北京市总工会", "深化“双沟通” 破解建会入会难题")
    assert not is_case_start("北京市总工会", "北京市总工会贯彻落实中国工会十八大精神，进一步深化。")
    assert not is_case_start("培养选树各", "级优胜集体297个")
    assert not is_case_start("北京市总工会", "上海市总工会")


def test_markdown_headings_split_sections():
    text = "# 案例汇编\n\n导语。\n\n## 北京市总工会\n\n### 深化双沟通\n\n正文一，\n接着写完。\n\n## 第二部分\n\n正文二。"
    sections = split_sections(Document("/x/a.md", "a.md", text, ""))
    assert [(s.organisation, s.title, s.paragraphs) for s in sections] == [
        ("", "案例汇编", ("导语。",)),
        ("北京市总工会", "深化双沟通", ("正文一，接着写完。",)),
        ("", "第二部分", ("正文二。",)),
    ]


def test_plain_text_without_cases_is_one_section_named_after_the_file():
    sections = split_sections(
        Document("/x/notes.txt", "notes.txt", "第一句。\n第二句，\n没写完", "")
    )
    assert len(sections) == 1
    assert (sections[0].organisation, sections[0].title) == ("", "notes")
    assert sections[0].paragraphs == ("第一句。", "第二句，没写完")


def test_paragraphs_never_join_across_a_case_boundary():
    text = (
        "甲市总工会\n\n甲的案例标题\n\n甲的正文没有写完\n\n乙省总工会\n\n乙的案例标题\n\n乙的正文。"
    )
    sections = split_sections(Document("/x/c.txt", "c.txt", text, ""))
    assert [s.paragraphs for s in sections] == [("甲的正文没有写完",), ("乙的正文。",)]


# --- corpus profiles: repairs measured on the shipped article apply to it alone ---


def test_the_shipped_article_gets_its_profile_and_others_do_not(tmp_path):
    from ingest.loaders import load_document
    from ingest.pipeline import ingest_file
    from ingest.profile import profile_for
    from tests.conftest import CORPUS_FILE

    shipped = ingest_file(CORPUS_FILE, 300, 60)
    assert shipped.profile == "acftu2024"
    assert len(shipped.repairs) == 1
    assert (
        "从「湖北省总工会" in shipped.repairs[0]
        and "移回「新疆维吾尔自治区总工会" in shipped.repairs[0]
    )
    # The same text with one character changed is someone else's document: no
    # misreading table, no column moves.
    other = tmp_path / "copy.txt"
    other.write_text(CORPUS_FILE.read_text(encoding="utf-8") + "。", encoding="utf-8")
    plain = ingest_file(other, 300, 60)
    assert (plain.profile, plain.repairs) == ("none", ())
    assert any("建会人会" in c.text for c in plain.chunks)
    assert not any("建会人会" in c.text for c in shipped.chunks)
    # Forcing the profile by name applies it to any document.
    assert ingest_file(other, 300, 60, profile="acftu2024").repairs == shipped.repairs
    assert profile_for(load_document(other).sha256).name == "none"


def test_an_unknown_profile_name_says_what_exists():
    from ingest.profile import ProfileInvalid, profile_for

    with pytest.raises(ProfileInvalid, match="没有名为 nosuch 的语料配置：可用的有 acftu2024"):
        profile_for("0" * 64, "nosuch")
