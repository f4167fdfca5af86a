"""Question analysis, typed spans, the reader's candidates and the fitted models."""

import json
import random
from dataclasses import replace

import jieba.posseg
import numpy as np
import pytest

from answer.align import _gap, align
from answer.fitted import (
    FittedModelInvalid,
    LogisticModel,
    RankingModel,
    _digest,
    load_model,
    load_ranker,
)
from answer.question import TYPE_RULES, analyse, answer_type
from answer.quoting import QUOTE_FEATURES
from answer.reader import (
    CLAUSES_READ,
    READER_FEATURES,
    SENTENCES_READ,
    SPAN_FEATURES,
    Reader,
    _next_to_question,
    candidates_of,
    not_a_name,
)
from answer.spans import spans
from answer.tagger import question_tagger
from eval.metrics import short_answer_matches
from eval.scale import questions
from index.searcher import Hit
from index.titles import title_names
from ingest.pipeline import ingest_file
from ingest.records import Chunk
from settings import SHIPPED_CORPUS


def _hit(text, cid="c"):
    return Hit(Chunk(cid, text, "a.txt", "/a.txt", "北京市总工会", "深化双沟通", 1, 0), 0.5)


@pytest.mark.parametrize(("kind", "example"), [(t, e) for t, _, e in TYPE_RULES])
def test_every_documented_example_gets_its_type(kind, example):
    assert answer_type(example) == kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("龙岩的驿站枫桥调解成功了多少件劳动争议？", "number"),
        ("滇中引水工程是哪一年开工的？", "date"),
        ("川工之家APP是哪家公司开发的？", "organisation"),
        ("陕西第八届职工科技节在哪里举办？", "place"),
        ("江苏为女职工建的服务站叫什么？", "name"),
        ("台州的五大技能提升行动是哪五个？", "list"),
        ("工会怎样帮助新就业形态劳动者入会？", "method"),
        ("How many meetings were held in Beijing?", "number"),
        ("工会的作用", "other"),
        # 为什么 closing the question after a naming verb asks for a name, not a reason.
        ("这座医院后来改名为什么？", "name"),
        ("这种草药又称之为什么？", "name"),
        # another name asked for by its kind: 艺名, 俗名, 原名 … (not 学名的…)
        ("林郁智的艺名是什么？", "name"),
        ("这种鱼的俗名是什么？", "name"),
        ("学名的前半部是什么？", "definition"),
        ("这条路的名称为什么又改了？", "reason"),
        # 为 belongs to a verb that takes it (誉为, 聘为, 算为, 表现为): "as what", not "why"
        ("黄山被誉为什么？", "name"),
        ("他被聘为什么职务？", "definition"),
        ("生命数耗完即算为什么？", "definition"),
        ("过敏反应表现为什么？", "definition"),
        ("他为什么被选为主席？", "reason"),
        ("研究人员发现为什么这种鸟会迁徙？", "reason"),  # 发现 takes no 为
        ("这首歌收录在哪张专辑？", "name"),
        ("这首歌是在哪里录制的？", "place"),
        # "在哪些" asks for several places or ways: a list, not one place in bold.
        ("此鱼分布在哪些地区？", "list"),
        ("其重要性体现在哪些方面？", "list"),
        ("会议在哪举行？", "place"),
        # a country asked for in one character, or with 一个
        ("威廉·狄尔泰是哪国的哲学家？", "place"),
        ("他来自哪一个国家？", "place"),
    ],
)
def test_answer_types(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "focus", "slot", "unit"),
    [
        ("935线使用几辆巴士？", ("935线",), ("使用", "巴士"), "辆"),
        ("世宗大学的学费是多少万元？", ("世宗大学",), ("学费",), "万元"),
        ("世宗大学后来更名成什么？", ("世宗大学",), ("更名",), ""),
        ("东南C口通往什么地方？", ("东南C口",), ("通往", "地方"), ""),
        ("北京的市级职工沟通会多久开一次？", ("北京",), ("沟通", "职工", "一次"), ""),
        ("《泡泡战士》由哪家公司开发？", ("泡泡战士",), ("公司", "开发"), ""),
        # quotes typed loosely: a closing mark of another pair still closes
        ('“泡泡战士"由哪家公司开发？', ("泡泡战士",), ("公司", "开发"), ""),
        # an English question names nothing Chinese passages could hold: no focus, not "How"
        ("How many stations has Jiangsu built?", (), (), ""),
        # jieba cuts names it lacks into pieces, some of one character: the name stays whole
        ("林永康有几个孩子？", ("林永康",), ("孩子",), "个"),
        ("帕特纳赫峡谷有多长？", ("帕特纳赫峡谷",), (), ""),
        # the year of a date is when the fact holds: neither the focus nor the slot
        ("2008年，吉斯伯恩大区的人口数是多少？", ("吉斯伯恩大区",), ("人口数",), ""),
        ("台州2023年新增了多少技能人才？", ("台州",), ("新增", "技能", "人才"), ""),
        # jieba tags 之家 as a pronoun; it ends the name
        ("川工之家APP有多少注册用户？", ("川工之家APP",), ("注册", "用户"), ""),
        # jieba tags 被誉为 as a noun; it is the slot, not the focus
        ("黄山被誉为什么？", ("黄山",), ("被誉为",), ""),
    ],
)
def test_focus_slot_and_unit(question, focus, slot, unit):
    q = analyse(question)
    assert (q.focus, q.slot, q.unit) == (focus, slot, unit)


def test_the_names_the_documents_titles_give():
    titles = [
        "蓝线裸顶鲷",
        "瓦士本市 （威斯康辛州）",
        "蒂亚戈·蒙泰罗",
        "坚持“三性”带“三力” 以数字化助推工会工作高质量发展",
    ]
    assert title_names(titles) == {"蓝线裸顶鲷", "瓦士本市", "威斯康辛州", "蒂亚戈", "蒙泰罗"}


@pytest.mark.parametrize(
    ("question", "without", "focus", "slot"),
    [
        # jieba cuts a name its dictionary lacks; the title gives it whole
        ("蒙泰罗在2005年美国大奖赛上获得第几名？", ("泰罗",), ("蒙泰罗",), ("获得", "大奖赛")),
        ("蓝线裸顶鲷的体长约是多少公分？", ("蓝线",), ("蓝线裸顶鲷",), ("体长",)),
        # the longest title named wins, and its pieces are not slot words
        ("最早研究计算神经科学的科学家有哪些？", ("研究",), ("计算神经科学",), ("科学家", "研究")),
        # quoted text still comes first
        ("《计算神经科学导论》由谁编写？", ("计算神经科学导论",), ("计算神经科学导论",), ("编写",)),
        # the other parts of a dotted name name the focus too: not slot words
        ("蒂亚戈·蒙泰罗是哪个国家的赛车手？", ("蒂亚戈",), ("蒂亚戈",), ("国家", "赛车手")),
        ("威廉·狄尔泰是哪国的哲学家？", ("威廉",), ("狄尔泰",), ("哲学家",)),
    ],
)
def test_a_name_a_documents_title_gives_is_the_focus(question, without, focus, slot):
    names = title_names(["蒂亚戈·蒙泰罗", "蓝线裸顶鲷", "计算神经科学", "神经科学", "威廉·狄尔泰"])
    assert analyse(question).focus == without
    q = analyse(question, names)
    assert (q.focus, q.slot) == (focus, slot)


def test_the_unit_a_count_asks_for():
    """ "多少起" counts cases in 起; "哪几个园" is answered by naming the gardens:
    no unit a number must end in."""
    assert analyse("一共办理了多少起欠薪案件？").unit == "起"
    assert (analyse("还有哪几个园在建设中？").unit, analyse("建了几个园？").unit) == ("", "个")


@pytest.mark.parametrize(
    ("question", "measure"),
    [
        ("这座公园的面积有多大？", "面积"),
        ("这条街有多长？", "长度"),
        ("这座塔有多高？", "高度"),  # a length, named by its own word
        ("这口井有多深？", "深度"),
        ("冰层有多厚？", "厚度"),
        ("职工流失率有多高？", "比例"),  # a rate before a height
        ("条约的有效期是多长时间？", "时长"),  # a time before a length
        ("他当选时多大？", "年龄"),
        ("公司斥资多少钱收购了这个品牌？", "金额"),
        # a count of people: written, or a noun naming people after 多少
        ("见面会在线观看人数有多少？", "人数"),
        ("北京有多少职工在沟通会现场申请入会？", "人数"),
        ("平台有多少注册用户？", "人数"),
        ("集体协议覆盖了多少企业？", ""),
        ("这座公园有多少亩？", ""),  # a unit is written: the unit decides
        ("这座公园在哪里？", ""),  # not a number question
    ],
)
def test_the_kind_of_quantity_a_question_names_without_a_unit(question, measure):
    q = analyse(question)
    assert q.measure == measure
    assert q.asked_unit == (q.unit or measure)


def test_a_number_in_a_unit_of_the_asked_kind_fits_best():
    found = {s.text: s.fit for s in spans("湖占去一个，面积约为0.304平方公里", "number", "面积")}
    assert found == {"一个": 0.7, "0.304平方公里": 1.0}
    assert {s.text: s.fit for s in spans("全长1122米", "number", "长度")} == {"1122米": 1.0}


@pytest.mark.parametrize(
    ("question", "before", "after"),
    [
        ("魏舒把筑修城墙的事交给了谁？", "魏舒把筑修城墙的事交给了", ""),
        ("长谷川町子从师于哪位漫画家？", "长谷川町子从师于", "漫画家"),
        ("935线使用几辆巴士？", "935线使用", "巴士"),
        ("什么是放线菌酮？", "", "是放线菌酮"),
        # 多久, 多高 ask as 多少 does
        ("北京的市级职工沟通会多久开一次？", "北京的市级职工沟通会", "开一次"),
        ("这座塔有多高？", "这座塔有", ""),
        ("请介绍一下这个项目", "请介绍一下这个项目", ""),  # no asking phrase
    ],
)
def test_the_text_around_the_asking_phrase(question, before, after):
    q = analyse(question)
    assert (q.before, q.after) == (before, after)


@pytest.mark.parametrize(
    ("question", "sentence", "gap"),
    [
        # before-context found: the answer runs to the end of its clause
        (
            "魏舒把筑修城墙的事交给了谁？",
            "他把筑修城墙的事交给韩简子和原寿过，自己去打猎。",
            "韩简子和原寿过",
        ),
        # the asked-for kind right after the before-context: the answer follows it
        ("长谷川町子从师于哪位漫画家？", "就读山脇高女后从师于漫画家田河水泡。", "田河水泡"),
        # a quoted title right after the before-context is the answer, though
        # its opening mark would end a clause
        (
            "比赛的男子组指定演唱的是哪首歌？",
            "男子组指定演唱《童话》（原唱者：光良），女子组指定演唱《遗失的美好》",
            "《童话》",
        ),
        # both sides found: the answer is between them
        ("怡良最初在哪里任职？", "怡良最初在刑部任笔帖式，后升为员外郎。", "刑部"),
        ("935线使用几辆巴士？", "该线路使用3辆巴士行走。", "3辆"),
        # nothing of the question in the sentence
        ("怡良最初在哪里任职？", "天气晴朗。", None),
        # a whole clause is not an answer
        ("他后来做了什么？", "他后来在全国各地奔走呼号宣传新的教育理念和办学方法并编写教材", None),
        # the preposition before the agent is not part of it
        ("硝酰氟首先被谁制成？", "硝酰氟首先由莫瓦桑制成。", "莫瓦桑"),
        # nor the words that open its clause: a conjunction, "只有", "源自"
        ("谁拥有选举权？", "委员会由九人组成，但只有世袭统治者拥有选举权。", "世袭统治者"),
        ("这个词源于哪里？", "这个词源自法语，后来传入英语。", "法语"),
        # the two sides in different clauses: what lies between is not an answer
        ("成公英是谁的将领？", "成公英，表字不详，金城人，东汉末群雄韩遂的将领。", None),
    ],
)
def test_the_gap_the_question_leaves_in_a_sentence(question, sentence, gap):
    q = analyse(question)
    found = align(sentence, q.before, q.after)
    assert (found.gap.text if found.gap else None) == gap
    if found.gap:
        assert sentence[found.gap.start :].startswith(found.gap.text)
        assert found.left > 0 or found.right > 0


@pytest.mark.parametrize(
    ("text", "kind", "unit", "expected"),
    [
        ("共召开37885场职工沟通会，职工咨询84.43万人", "number", "场", ["37885场", "84.43万人"]),
        ("调解成功800余件，涉及金额", "number", "件", ["800余件"]),
        ("她是第二位皇后", "number", "位", ["第二位"]),
        (
            "于1628年被发现，2009年9月27日-10月9日举行",
            "date",
            "",
            ["1628年", "2009年9月27日-10月9日"],
        ),
        ("保罗·皮尔斯获得最有价值球员奖", "person", "", ["保罗·皮尔斯"]),
        # quantities in a range or in several units are one
        ("最高时速可达70-80公里，花期1-3月", "number", "公里", ["70-80公里", "1-3月"]),
        ("以3分33秒62刷新世界纪录", "number", "", ["3分33秒62"]),
        # the question's measure word is a unit ("分为几类")
        ("主要分为两类，属于第三区", "number", "类", ["两类", "第三区"]),
        # an era's year with the common-era year after it; centuries and decades in words
        ("近清于天正16年（1588年）去世", "date", "", ["天正16年（1588年）"]),
        ("写成于二十世纪初期，改建于1990年代以后", "date", "", ["二十世纪初期", "1990年代"]),
        ("于一九六一年九月十日出生", "date", "", ["一九六一年九月十日"]),
        # 半 counts: "每半年", "半个月"
        ("每半年举行一次，半个月后", "number", "", ["半年", "一次", "半个月"]),
        # a festival as the time of year, but not one opening a name
        ("每年“五一”前夕举办，国庆节期间开放", "date", "", ["“五一”", "国庆节"]),
        ("荣获全国五一劳动奖章", "date", "", []),
        ("出版了第一部诗集《人象石柱》", "name", "", ["《人象石柱》"]),
        ("主题曲『铃儿响叮当』由他演唱", "name", "", ["『铃儿响叮当』"]),
        ("牛佬，原名文启明，香港漫画家", "name", "", ["文启明"]),
        ("林郁智，艺名纳豆，台湾艺人", "name", "", ["纳豆"]),
        # several names after one verb are one answer; 为 after the verb is not a name's
        ("阿閦佛，又名不动佛、无动佛，是东方的佛", "name", "", ["不动佛、无动佛"]),
        ("黄蝉别称为硬枝黄蝉、小花黄蝉。", "name", "", ["硬枝黄蝉、小花黄蝉"]),
        # the list ends where an item names something else
        ("刘六本名刘宠、刘七本名刘宸，兄弟二人", "name", "", ["刘宠", "刘宸"]),
        ("他原名张三改名为李四", "name", "", ["张三", "李四"]),
        ("2011年，首钢集团收购了股权", "organisation", "", ["首钢集团"]),
        ("没有数字的句子", "number", "", []),
        # cases are counted in 起, but "一起" is "together": 起 only after digits
        ("我们一起办理了12起欠薪案件", "number", "起", ["12起"]),
    ],
)
def test_typed_spans(text, kind, unit, expected):
    assert [s.text for s in spans(text, kind, unit)] == expected


def test_a_number_with_the_asked_unit_fits_best():
    fits = {s.text: s.fit for s in spans("共有3辆巴士，全程12公里，编号935", "number", "辆")}
    assert fits["3辆"] > fits["12公里"] > fits["935"]


@pytest.mark.parametrize(
    ("question", "best", "other"),
    [
        # asked for another name: the one after its naming verb
        ("内台航路也叫什么？", "内台航线", "「自由航路」"),
        # asked for a title: the quoted one
        ("指定演唱的是哪首歌？", "「自由航路」", "内台航线"),
    ],
)
def test_a_name_in_the_asked_for_form_fits_best(question, best, other):
    q = analyse(question)
    text = "内台航路，或称内台航线，分为「命令航路」和「自由航路」两种。"
    fits = {s.text: s.fit for s in spans(text, q.type, q.asked_unit, alias=q.alias)}
    assert q.type == "name" and fits[best] == 1.0 > fits[other]


def test_a_time_fits_a_count_question_less_than_another_quantity():
    """ "帮多少劳动者就业" names no unit: "22万余人" may be its answer, "连续3年"
    and "2023年" say when and how long. A question asking a time names it."""
    text = "连续3年开展行动，2023年促进就业22万余人"
    fits = {s.text: s.fit for s in spans(text, "number", "")}
    assert fits["22万余人"] > fits["3年"] == fits["2023年"]
    fits = {s.text: s.fit for s in spans(text, "number", "时长")}
    assert fits["3年"] > fits["22万余人"]
    # A year of the calendar says when, not how long ("多久开一次").
    fits = {s.text: s.fit for s in spans("自2018年开展以来，每半年举行一次", "number", "时长")}
    assert fits["半年"] > fits["2018年"]


@pytest.mark.parametrize(
    ("question", "sentence", "next_to"),
    [
        # the number right before the words after the asking phrase
        ("陕西培育了多少名工匠？", "先后培育7名大师、140名工匠、40名能手", {"140名"}),
        # the year right after the words before it
        ("大桥于哪一年建成？", "大桥于1988年建成，1990年通车", {"1988年"}),
        # neither side of the question next to any span
        ("学校有多少名学生？", "全校共有3000名在校生和200名教师", set()),
    ],
)
def test_a_span_where_the_asking_phrase_sits(question, sentence, next_to):
    q = analyse(question)
    found = spans(sentence, q.type, q.asked_unit)
    assert {s.text for s in found if _next_to_question(sentence, s, q)} == next_to


def _span_options(question: str, passage: str):
    """The short-answer options (and their feature rows) a reader with neutral
    models finds for `question` in a one-passage hit."""
    reader = Reader(lambda hit: np.zeros((1, 2)), lambda q: {}, RankingModel(("x",), ()))
    found = candidates_of([_hit(passage)], with_entities=True)
    return reader.span_features(analyse(question), tuple(found), tuple(1.0 for _ in found))


def test_the_name_a_question_asks_about_is_not_its_answer():
    """Asked "牛佬原名叫什么", the passage's quoted 「牛佬」 is the question's own
    subject: the options are the other names."""
    options, _ = _span_options("牛佬原名叫什么？", "于是得「牛佬」称号，原名文启明，另著《金刚》。")
    names = {span.text for span, _ in options}
    assert "文启明" in names and "《金刚》" in names
    assert not any("牛佬" in name for name in names)


@pytest.mark.parametrize(
    ("span", "misnamed"),
    [
        # the gap "川工之家APP是谁开发的？" leaves: a time word before a verb
        ("先后打造地方特色频道", True),
        ("目前共有", True),
        # an adverb, a conjunction, a pronoun
        ("曾经担任", True),
        ("同时开展", True),
        ("他们的老师", True),
        # names, among them ones a verb or a time word opens, one whose first
        # character alone the dictionary tags as an adverb (莫)
        ("就业援助服务站", False),
        ("现代汽车公司", False),
        ("明治神宫", False),
        ("快递行业工会联合会", False),
        ("莫瓦桑", False),
        ("保罗·塞里诺", False),
        ("江苏省扬州市广陵区", False),
        ("世袭统治者", False),
    ],
)
def test_what_is_not_the_name_of_a_person_place_or_organisation(span, misnamed):
    assert not_a_name(span) == misnamed


@pytest.mark.parametrize(
    ("question", "passage", "kept", "dropped"),
    [
        # the words after the asking phrase end the tagged place
        ("导弹系统部署在哪个区域附近？", "系统部署在莫斯科附近区域。", "莫斯科", "莫斯科附近"),
        # and the date
        ("她于哪一年的2月14日发行专辑？", "她于2006年2月14日发行专辑。", "2006年", "2006年2月14日"),
        # the words before it stay: an answer may share them with its subject
        ("凉茶舖又叫什么？", "凉茶舖，又名凉茶店，是售卖凉茶的商店。", "凉茶店", "店"),
        # the kind asked for, right after the asking phrase, stays
        ("他毕业于哪所大学？", "他曾在耶鲁大学读书。", "耶鲁大学", "耶鲁"),
        # a number keeps its unit even when the question names it
        ("服务了多少人次？", "共服务130多万人次。", "130多万人次", "130多万"),
        # a country asked for is the country, not the district after it
        ("牛车水位于哪个国家？", "牛车水是新加坡欧南区的一个街区。", "新加坡", "新加坡欧南区"),
        ("他是哪国人？", "他生于美国加利福尼亚州。", "美国", "美国加利福尼亚州"),
        # one dictionary word stays whole
        ("他是哪国人？", "他是马达加斯加共和国政治人物。", "马达加斯加共和国", "马达加斯加"),
        # a place asked for at no level stays whole
        ("牛车水在哪里？", "牛车水是新加坡欧南区的一个街区。", "新加坡欧南区", "新加坡"),
    ],
)
def test_a_short_answer_is_only_what_was_asked(question, passage, kept, dropped):
    """Not the question's own words after its asking phrase, nor a district
    when a country is asked for."""
    options, _ = _span_options(question, passage)
    texts = {span.text for span, _ in options}
    assert kept in texts and dropped not in texts


@pytest.mark.parametrize(
    ("question", "passage", "kept", "dropped"),
    [
        # the question's subject opens the name asked for
        (
            "首钢是什么的简称？",
            "首钢集团有限公司，简称首钢，是北京市市属国有独资公司。",
            "首钢集团有限公司",
            "集团有限公司",
        ),
        # not the subject: the gap stays where the question's words end
        (
            "蒋家旻中学就读于哪里？",
            "蒋家旻中学就读于仁济医院林百欣中学，2007年毕业。",
            "仁济医院林百欣中学",
            "中学就读于仁济医院林百欣中学",
        ),
    ],
)
def test_a_gap_opens_at_the_start_of_the_name_the_question_names(question, passage, kept, dropped):
    options, _ = _span_options(question, passage)
    texts = {span.text for span, _ in options}
    assert kept in texts and dropped not in texts


@pytest.mark.parametrize(
    ("question", "passage", "fits"),
    [
        ("峡谷有多长？", "峡谷是一座长702米，深80米的峡谷。", {"702米": 1.0, "80米": 0.5}),
        ("这座塔有多高？", "塔高30米，底宽约10米。", {"30米": 1.0, "10米": 0.5}),
        # no dimension word before it: a length fits as asked
        ("东关街有多长？", "东关街全长1122米，有百余年历史。", {"1122米": 1.0}),
    ],
)
def test_a_length_the_passage_gives_as_another_dimension_fits_less(question, passage, fits):
    options, _ = _span_options(question, passage)
    assert {span.text: span.fit for span, _ in options if span.text in fits} == fits


@pytest.mark.parametrize(
    ("question", "passage", "phrase", "is_place"),
    [
        # a place and the nouns after it name a place within it
        (
            "名车博览馆位于什么地方？",
            "名车博览馆位于碧海蓝天基座三层商场，占地30万平方呎。",
            "碧海蓝天基座三层商场",
            True,
        ),
        (
            "兆康苑总站位于哪里？",
            "兆康苑总站位于香港屯门兆康路兆康苑内。",
            "香港屯门兆康路兆康苑内",
            True,
        ),
        # a verb after the place: the rest of the clause is not part of it
        ("会议在哪里举行？", "会议在北京召开并通过决议。", "北京召开并通过决议", False),
    ],
)
def test_a_place_with_the_nouns_after_it_is_a_place(question, passage, phrase, is_place):
    """The question's gap, when it opens with a tagged place and goes on in
    nouns only, is an option that fits as that place does (not the looser gap)."""
    options, x = _span_options(question, passage)
    fit, gap = SPAN_FEATURES.index("fit"), SPAN_FEATURES.index("gap")
    rows = [row for (span, _), row in zip(options, x, strict=True) if span.text == phrase]
    assert rows, "the gap is an option either way"
    assert all((row[fit] == 1.0 and row[gap] == 0.0) == is_place for row in rows)


def test_candidates_are_sentences_and_their_clauses():
    found = candidates_of([_hit("第一句，有两个分句。第二句。")])
    assert [(c.text, c.clause) for c in found] == [
        ("第一句，有两个分句。", False),
        ("第一句，", True),
        ("有两个分句。", True),
        ("第二句。", False),
    ]
    assert {c.sentence for c in found if c.clause} == {"第一句，有两个分句。"}


def test_clauses_do_not_split_numbers():
    found = candidates_of([_hit("主看台有2,173个坐席，上午11:00开放，全天开放。")])
    assert [c.text for c in found if c.clause] == [
        "主看台有2,173个坐席，",
        "上午11:00开放，",
        "全天开放。",
    ]


def test_entities_stored_with_the_chunk_give_each_sentence_and_clause_its_own_spans():
    """Tagging a whole passage once at ingest gives every sentence and clause
    the spans tagging it alone gives (and a chunk stored without entities is
    tagged when read): checked on every passage of the shipped article."""
    ingested = ingest_file(SHIPPED_CORPUS / "acftu_innovation_cases_2024.txt", 300, 60)
    checked = 0
    for chunk in ingested.chunks:
        stored = candidates_of([Hit(chunk, 0.5)], with_entities=True)
        unstored = candidates_of([Hit(replace(chunk, entities=None), 0.5)], with_entities=True)
        assert stored == unstored
        for c in stored:
            for kind in ("person", "place", "organisation"):
                assert spans(c.text, kind, "", list(c.entities)) == spans(c.text, kind)
                checked += bool(spans(c.text, kind))
    assert checked > 50


def _linear_align(text, before, after):
    """The character-by-character search align() replaced by binary search."""
    left = None
    for drop in range(3):
        end = len(before) - drop
        found = [
            (text.find(before[start:end]), end - start)
            for start in range(end - 1)
            if before[start:end] in text
        ]
        if end >= 2 and found:
            left = found[0]
            break
    start = left[0] + left[1] if left else 0
    right = next(
        (
            (text.find(after[:n], start), n)
            for n in range(len(after), (1 if left else 2) - 1, -1)
            if text.find(after[:n], start) >= 0
        ),
        None,
    )
    return left, right


def test_alignment_finds_what_a_character_by_character_search_finds():
    rng = random.Random(1)
    alphabet = "甲乙丙丁戊己庚辛"  # few characters: many partial matches
    for _ in range(3000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
        before = "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        after = "".join(rng.choices(alphabet, k=rng.randint(0, 8)))
        left, right = _linear_align(text, before, after)
        aligned = align(text, before, after)
        assert aligned.left == (left[1] / len(before) if left else 0.0)
        assert aligned.right == (right[1] / len(after) if right else 0.0)
        assert aligned.gap == _gap(text, left, right)


def test_the_question_tagger_tags_as_jieba_does():
    """The numpy Viterbi search (answer/tagger.py) finds jieba's own path on
    every question of both eval sets and on random runs of passage characters,
    where most words are unknown and the HMM decides everything."""
    text = (SHIPPED_CORPUS / "acftu_innovation_cases_2024.txt").read_text(encoding="utf-8")
    rng = random.Random(0)
    chars = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    runs = ["".join(rng.choices(chars, k=rng.randint(2, 12))) for _ in range(500)]
    asked = questions()
    assert len(asked) > 1000
    for sentence in asked + runs:
        expected = [(w.word, w.flag) for w in jieba.posseg.lcut(sentence, HMM=True)]
        assert [(w.word, w.flag) for w in question_tagger().lcut(sentence)] == expected, sentence


def test_the_reader_reads_only_the_sentences_nearest_the_question():
    """The nearest SENTENCES_READ sentences are candidates, and the clauses of
    the nearest CLAUSES_READ of them."""
    text = "".join(f"第{i}句话，在这里。" for i in range(40))
    rng = np.random.default_rng(0)
    cosines = rng.permutation(40) / 40.0
    vectors = np.stack([cosines, np.sqrt(1 - cosines**2)], axis=1)
    reader = Reader(lambda hit: vectors, lambda q: {})
    found, x = reader.features(analyse("第几句话在这里？"), [_hit(text)], np.array([1.0, 0.0]))
    by_cosine = np.argsort(-cosines)
    assert {c.position for c in found} == set(by_cosine[:SENTENCES_READ])
    assert {c.position for c in found if c.clause} == set(by_cosine[:CLAUSES_READ])
    assert len(x) == len(found)


def test_a_candidate_knows_how_much_of_the_question_its_passage_heading_names():
    """Two passages say the same; the one whose title names what the question is
    about ("金帐汗国") is told apart by its heading, weighted like the question's words."""
    text = "他在1242年建立了这个国家。"
    titled = Hit(Chunk("t", text, "a.txt", "/a.txt", "", "金帐汗国", 1, 0), 0.5)
    other = Hit(Chunk("o", text, "b.txt", "/b.txt", "", "蓝帐汗国", 1, 0), 0.5)
    weights = {"金帐汗国": 3.0, "建立": 1.0}
    reader = Reader(lambda hit: np.array([[1.0, 0.0]]), lambda q: weights)
    found, x = reader.features(
        analyse("金帐汗国是谁建立的？"), [titled, other], np.array([1.0, 0.0])
    )
    title = x[:, READER_FEATURES.index("title")]
    assert {c.hit_index: t for c, t in zip(found, title, strict=True)} == {0: 0.75, 1: 0.0}


@pytest.mark.parametrize(
    ("short", "keywords", "ok"),
    [
        ("37885场", ["37885"], True),
        ("“3辆”", ["3辆"], True),
        ("800余件", ["800"], True),
        ("2.59万家", ["2.59万"], True),
        ("84.43万人", ["84.43万"], True),
        ("3年", ["3"], True),
        ("31年", ["3"], False),
        ("2.59万家企业", ["2.59万"], False),
        ("8公斤", ["约只有8公斤重"], False),
        ("2016年", ["6"], False),
        ("", ["6"], False),
        ("ＡＧＧ01", ["agg01"], True),
        ("37885场；9311场", ["37885", "9311"], True),
        ("37885场；21700场", ["37885", "9311"], False),
    ],
)
def test_short_answer_match_is_exact_after_normalisation(short, keywords, ok):
    assert short_answer_matches(short, keywords) is ok


@pytest.mark.parametrize(
    ("short", "keywords", "kind", "ok"),
    [
        ("8公斤", ["约只有8公斤重"], "number", True),
        ("0.304平方公里", ["约为0.304平方公里。"], "number", True),
        ("1988年", ["建于1988年"], "date", True),
        ("1988", ["建于1988年"], "date", False),  # the core is the whole date
        ("1975年", ["1970年取得学士学位，1975年取得硕士学位"], "date", False),  # two dates
        ("3辆", ["3辆巴士和2辆电车"], "number", False),  # two numbers: exact form only
        ("袁丽", ["袁丽嫦"], "person", False),  # names only match whole
        ("建于", ["建于1988年"], "date", False),
        ("《童话》", ["男子组指定演唱《童话》"], "name", True),  # the one quoted title
        ("指定演唱", ["男子组指定演唱《童话》"], "name", False),
        ("《童话》", ["《童话》与《遗失的美好》"], "name", False),  # two titles
        ("不动佛", ["又名不动佛、无动佛"], "name", False),  # unquoted: exact form only
    ],
)
def test_a_number_or_date_answer_matches_the_one_it_holds(short, keywords, kind, ok):
    """Single-reference sets write answers with their framing words ("建于1988年");
    for numbers and dates the one span inside is the short answer too, and for
    names the one quoted title."""
    assert short_answer_matches(short, keywords, kind) is ok


def test_shipped_models_match_the_code():
    ranker = load_ranker("reader", READER_FEATURES)
    spans_model = load_model("spans", SPAN_FEATURES)
    for model in (ranker, spans_model):
        assert (
            model.fitted_on["questions"]["cmrc"] > 0 and model.fitted_on["questions"]["union"] > 0
        )
    judge = load_model("answerability", __import__("answer.answerability").answerability.FEATURES)
    assert 0 < judge.thresholds["llm"] <= judge.thresholds["answer"] < 1
    quotes = load_model("quotes", QUOTE_FEATURES)
    assert 0 < quotes.thresholds["quote"] < 1


def test_a_model_for_other_features_is_refused_with_what_to_run(tmp_path):
    model = LogisticModel(("a", "b"), (1.0, -1.0), 0.5)
    (tmp_path / "reader.json").write_text(json.dumps(model.to_json()), encoding="utf-8")
    with pytest.raises(FittedModelInvalid, match=r"请运行 python -m eval\.fit"):
        load_model("reader", READER_FEATURES, tmp_path)
    with pytest.raises(FittedModelInvalid, match="无法读取"):
        load_model("missing", READER_FEATURES, tmp_path)
    loaded = load_model("reader", ("a", "b"), tmp_path)
    assert np.allclose(loaded.probability([[1.0, 0.0]]), 1 / (1 + np.exp(-1.5)))


def test_a_ranking_model_round_trips_and_damage_is_refused(tmp_path):
    """The reader's ranker is LightGBM's own text inside the JSON file, one per
    seed: loaded back it scores as fitted (the boosters' mean); cut short or of
    another kind, it is refused with the command that rebuilds it. A file of
    one booster, as written before seeds were averaged, still loads."""
    import lightgbm

    rng = np.random.default_rng(0)
    x = rng.random((200, 2))
    y = (x[:, 0] > 0.7).astype(int)
    params = {"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 5, "num_threads": 1}
    params |= {"feature_fraction": 0.5}
    boosters = [
        lightgbm.train(params | {"seed": seed}, lightgbm.Dataset(x, y, group=[20] * 10), 20)
        for seed in (0, 1)
    ]
    model = RankingModel(("a", "b"), tuple(b.model_to_string() for b in boosters), {"rows": 200})
    (tmp_path / "reader.json").write_text(json.dumps(model.to_json()), encoding="utf-8")
    loaded = load_ranker("reader", ("a", "b"), tmp_path)
    one, other = (b.predict(x[:5]) for b in boosters)
    assert not np.allclose(one, other)
    assert np.allclose(loaded.score(x[:5]), (one + other) / 2)
    assert loaded.score(x).argmax() in np.flatnonzero(y)  # it learned something
    assert RankingModel(("a", "b"), ()).score(x[:3]).tolist() == [0.0, 0.0, 0.0]

    single = model.to_json() | {"trees": model.trees[0], "sha256": _digest(model.trees[0])}
    (tmp_path / "reader.json").write_text(json.dumps(single), encoding="utf-8")
    assert np.allclose(load_ranker("reader", ("a", "b"), tmp_path).score(x[:5]), one)

    text = model.trees[1]
    damaged = model.to_json() | {"trees": [model.trees[0], text[: len(text) // 2]]}
    (tmp_path / "reader.json").write_text(json.dumps(damaged), encoding="utf-8")
    with pytest.raises(FittedModelInvalid, match=r"请运行 python -m eval\.fit") as caught:
        load_ranker("reader", ("a", "b"), tmp_path)
    assert "\n" not in str(caught.value)
    logistic = LogisticModel(("a", "b"), (1.0, -1.0), 0.5)
    (tmp_path / "reader.json").write_text(json.dumps(logistic.to_json()), encoding="utf-8")
    with pytest.raises(FittedModelInvalid, match="无法读取"):
        load_ranker("reader", ("a", "b"), tmp_path)
