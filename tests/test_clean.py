import pytest

from ingest.clean import ends_sentence, glue, join_broken, normalise, paragraphs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("4月26日,全国总工会", "4月26日，全国总工会"),
        ("区总;市总:好?是!", "区总；市总：好？是！"),
        ("工会(工匠学院)", "工会（工匠学院）"),
        ("共1,000人", "共1,000人"),  # a thousands separator is not Chinese punctuation
        ("Hello, world; a:b", "Hello, world; a:b"),
        ("ＡＢＣ１２３　全角", "ABC123 全角"),
        ("。，！？；：", "。，！？；："),
        ("a\u200bb\x07c", "abc"),
        ("  多   空格\t中间  ", "多 空格 中间"),
        ("破解建会人会难题", "破解建会人会难题"),  # misreadings belong to a corpus profile
        ("行一\r\n行二\r行三", "行一\n行二\n行三"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_normalise_applies_a_profiles_misreadings():
    assert normalise("破解建会人会难题", (("建会人会", "建会入会"),)) == "破解建会入会难题"


def test_normalise_long_text_keeps_every_line():
    text = "\n".join(f"第{i}段：内容，句子。" for i in range(5000))
    out = normalise(text)
    assert out.count("\n") == 4999
    assert out.endswith("第4999段：内容，句子。")


def test_paragraphs_drop_blank_lines():
    assert paragraphs("一\n\n\n二\n三\n") == ["一", "二", "三"]


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("句子。", True),
        ("问句？", True),
        ("引号。”", True),
        ("分号；", True),
        ("培养选树各", False),
        ("数字297", False),
        ("“不打烊”", False),
        ("", False),
    ],
)
def test_ends_sentence(text, ends):
    assert ends_sentence(text) is ends


def test_join_broken_joins_only_unfinished_sentences():
    paras = ["通过竞赛，培养选树各", "级优胜集体297个。", "第二段完整。", "第三段"]
    assert join_broken(paras) == ["通过竞赛，培养选树各级优胜集体297个。", "第二段完整。", "第三段"]


def test_glue_spaces_latin_but_not_chinese():
    assert glue("川工之家", "APP") == "川工之家APP"
    assert glue("the union", "app") == "the union app"
    assert glue("上线", "", "发布") == "上线发布"


@pytest.mark.parametrize(
    "phrase",
    [
        "培养选树各级优胜集体297个",
        "围绕国家重大战略和重庆发展重点产业",
        "各街道总工会、园区工会、商务楼宇工会每周开展一次职工沟通会",
        "印发《台州市职技融通改革实施方案》",
        "全景呈现广州主要行业薪酬福利真实情况",
        "全新打造“工会+法院+检察院+公安+司法+人社+N”协同联动工作模式",
        "汇聚妇幼、心理、法律等专家2500多名",
    ],
)
def test_corpus_page_breaks_are_repaired(corpus_sections, phrase):
    text = "\n".join(p for s in corpus_sections for p in s.paragraphs)
    assert phrase in text
