"""Short answers: the spans of a sentence that have the type a question asks for.

`spans(text, "number", unit="辆")` (or a kind of quantity, unit="面积") finds "3辆", "12.5万元", "800余件", "70-80公里",
"3分33秒62"; dates ("1628年", "4月26日", "天正16年（1588年）", "二十世纪初期"), people,
places and organisations (tagged when the passage was made, ingest/entities.py), and
names (quoted text, the phrase after 更名为 / 称为 …, or the list after one: "又名不动佛、
无动佛"). Each span carries how well it fits: a number with the asked-for unit fits
better than a bare one. Which span is the answer is decided by the fitted span model
in `reader.py`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.entities import KINDS, Entity, tag_entities

_DIGITS = r"\d+(?:[.,]\d+)*"
# A range is one quantity: "70-80公里", "1至3月".
_DIGIT_RANGE = rf"{_DIGITS}(?:\s*[-~～—–至到]\s*{_DIGITS})?"
# 半 counts too: "每半年举行一次", "半个月".
_HANZI_NUM = r"[零〇一二两三四五六七八九十百千万亿半]+"
_MAGNITUDE = r"(?:余|多)?(?:十|百|千|万|亿|万亿)?(?:余|多)?"
UNITS = (
    "平方公里 平方千米 平方米 km² m² 公顷 公里 千米 km 厘米 毫米 米 公尺 公分 英里 英尺 英寸 哩 海里 "
    "公斤 千克 克 吨 磅 万元 亿元 美元 港元 日元 欧元 英镑 元 块 人次 小时 分钟 秒 "
    "世纪 年代 周年 个月 年 月 日 天 周 岁 倍 个 名 家 项 次 场 件 条 种 人 辆 座 所 支 届 户 只 头 部 本 首 "
    "集 层 位 批 期 组 台 架 艘 列 站 处 间 张 篇 份 册 季 度 分 亩 类 区 级 代 任 轮 局 款 章 号 "
    "%  ％ ‰ 起"
).split()
# After a number in words these make another word ("一起", together): units after digits only.
_DIGITS_ONLY = frozenset({"起"})
# The units of a kind of quantity, for a question that names the kind but no unit
# ("面积有多大", answer/question.py): any of them fits as well as an asked unit.
MEASURES = {
    "面积": ("平方公里", "平方千米", "平方米", "km²", "m²", "公顷", "亩"),
    "长度": (
        "公里",
        "千米",
        "km",
        "米",
        "厘米",
        "毫米",
        "公尺",
        "公分",
        "英里",
        "英尺",
        "英寸",
        "哩",
        "海里",
    ),
    "重量": ("公斤", "千克", "克", "吨", "磅"),
    "时长": ("世纪", "年", "个月", "月", "周", "天", "日", "小时", "分钟", "秒"),
    "金额": ("万元", "亿元", "美元", "港元", "日元", "欧元", "英镑", "元", "块"),
    "年龄": ("岁",),
    "比例": ("%", "％", "‰", "成"),
    "人数": ("人次", "人", "名", "位", "户"),
}
# Heights, depths and widths are lengths, each named by its own word before
# the number: "长702米，深80米".
_DIMENSION_WORDS = {"长度": "长", "高度": "高", "深度": "深", "宽度": "宽", "厚度": "厚"}
MEASURES |= {name: MEASURES["长度"] for name in _DIMENSION_WORDS}
_OTHER_DIMENSION = {
    measure: re.compile(
        rf"[{''.join(sorted(set(_DIMENSION_WORDS.values()) - {own}))}][约达为度有]?$"
    )
    for measure, own in _DIMENSION_WORDS.items()
}
_TIMES = (*MEASURES["时长"], "年代", "周年")
# A year of the calendar ("2018年") says when, not how long or how many.
_CALENDAR_YEAR = re.compile(r"(?:1\d|20)\d\d年")
_UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
_WORD_UNIT = "|".join(sorted(map(re.escape, set(UNITS) - _DIGITS_ONLY), key=len, reverse=True))
_HAS_UNIT = re.compile(_UNIT)
# A quantity in several units is one: "3分33秒62", "1小时20分钟".
_MORE_UNITS = rf"(?:\d+(?:{_UNIT}))*\d*"
NUMBER = re.compile(
    rf"第?(?:{_DIGIT_RANGE}{_MAGNITUDE}(?:(?:{_UNIT}){_MORE_UNITS})?|{_HANZI_NUM}{_MAGNITUDE}(?:{_WORD_UNIT}))"
)
_PART_OF_PERIOD = r"(?:初期|中期|末期|前期|后期|上半叶|下半叶|中叶|初|末)?"
# Decades before years: "1990年代" is not "1990年".
_ONE_DATE = (
    rf"(?:\d{{1,2}}|[一二三四五六七八九十]{{1,3}})世纪(?:\d0年代)?{_PART_OF_PERIOD}"
    rf"|\d{{2,4}}年代{_PART_OF_PERIOD}"
    r"|(?:公元前|公元)?\d{1,4}年(?:\d{1,2}月(?:\d{1,2}日)?)?"
    # in numerals throughout: "一九六一年九月十日"
    r"|[〇零一二三四五六七八九]{4}年(?:[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}日)?)?"
    r"|\d{1,2}月\d{1,2}日|\d{1,2}月(?:份)?"
)
# A year of an era with the common-era year after it: "天正16年（1588年）", "康熙十年（1671年）".
_ERA_DATE = (
    r"[\u4e00-\u9fff]{2}(?:\d{1,2}|[元一二三四五六七八九十]{1,3})年(?:\d{1,2}月(?:\d{1,2}日)?)?"
    r"\s*[（(](?:公元)?\d{3,4}年[）)]"
)
# A date or a range of dates ("2009年9月27日-10月9日", "1984年至1985年").
DATE = re.compile(rf"{_ERA_DATE}|(?:{_ONE_DATE})(?:\s*[-—–~～至到]\s*(?:{_ONE_DATE}))?")
# A festival as the time of year ("2020年“五一”前夕"); one that opens a compound
# is part of a name ("五一劳动奖章"), so a time word or a mark must follow it.
HOLIDAY = re.compile(
    r"[“「]?(?:元旦|春节|元宵|清明|五一|劳动节|端午|七夕|中秋|国庆|重阳|除夕|圣诞)节?[”」]?"
    r"(?=[前后期当假之，。、；：,.;:）)]|$)"
)
# The marks that quote a title or a name, opening and closing.
QUOTE_PAIRS = ("《》", "“”", "「」", "『』", '""')
OPENING_QUOTES = "".join(pair[0] for pair in QUOTE_PAIRS)
CLOSING_QUOTES = "".join(pair[1] for pair in QUOTE_PAIRS)
QUOTE_MARKS = "".join(QUOTE_PAIRS)
# A quoted name of up to 30 characters, opened and closed by marks of one pair.
QUOTED = re.compile(
    "|".join(rf"{re.escape(a)}([^{re.escape(b)}]{{1,30}}){re.escape(b)}" for a, b in QUOTE_PAIRS)
)


_NAMING_VERB = (
    r"(?:更名为|改名为|改称|更名|称为|名为|叫做|原名|本名|又名|或称|全称|简称|又称|别称|别名|昵称|"
    r"俗名|俗称|艺名|笔名|旧名|旧称|古称|小名|乳名|命名为|称作|号称|被誉为)"
)
# A name ends before a naming verb: "原名张三改名为李四" -> 张三 (and 李四 after 改名为).
_NAME_RUN = rf"(?:(?!{_NAMING_VERB})[^，。；、：,;:“”《》「」\"]){{1,20}}"
# A further listed name is not one that a naming verb follows: in "刘六本名刘宠、刘七
# 本名刘宸" 刘七 is not another name of 刘六. Atomic, so that it is not shortened
# until the next character is not a naming verb.
_LISTED_NAME = rf"、(?>{_NAME_RUN})(?!{_NAMING_VERB})"
_NAMED_AFTER = re.compile(
    rf"{_NAMING_VERB}为?"
    # Several names listed after one verb are all the answer ("又名不动佛、无动佛").
    rf"[“《「\"]?({_NAME_RUN}(?:{_LISTED_NAME}){{0,9}})"
)
_TAG_TYPES = frozenset({"person", "place", "organisation"})


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    fit: float  # 1.0: exactly the asked-for form; 0.5: the right kind, a looser form


def spans(
    text: str,
    kind: str,
    unit: str = "",
    entities: Sequence[Entity] | None = None,
    alias: bool = False,
) -> list[Span]:
    """`entities`: the text's people, places and organisations when known (read
    from the passage's chunk, ingest/entities.py); else they are tagged here.
    `alias`: the name asked for is another name of something ("又叫什么")."""
    if kind == "number":
        return _numbers(text, unit)
    if kind == "date":
        found = [Span(m.group(), m.start(), 1.0) for m in DATE.finditer(text)]
        return found + [Span(m.group(), m.start(), 0.7) for m in HOLIDAY.finditer(text)]
    if kind == "name":
        return _names(text, alias)
    if kind in _TAG_TYPES:
        found = tag_entities(text) if entities is None else entities
        return [Span(e.text, e.start, KINDS[e.kind][1]) for e in found if KINDS[e.kind][0] == kind]
    return []


def of_another_dimension(text: str, span: Span, measure: str) -> bool:
    """The passage names another dimension right before the number: "深80米"
    (or "深约80米") when the question asks how long."""
    other = _OTHER_DIMENSION.get(measure)
    return bool(other and other.search(text, 0, span.start))


def _numbers(text: str, unit: str) -> list[Span]:
    """`unit`: the asked unit ("辆") or kind of quantity (a key of MEASURES)."""
    wanted = MEASURES.get(unit, (unit,) if unit else ())
    found = []
    for m in NUMBER.finditer(text):
        value = m.group()
        if _CALENDAR_YEAR.fullmatch(value):
            fit = 0.5
        elif value.endswith(wanted):
            fit = 1.0
        elif value.endswith(_TIMES):
            # "连续3年开展": how long, not the count asked
            # for ("帮多少劳动者就业"); a question asking a time names it.
            fit = 0.5
        elif _HAS_UNIT.search(value):
            fit = 0.7
        else:
            fit = 0.4
        found.append(Span(value, m.start(), fit))
    return found


def _names(text: str, alias: bool) -> list[Span]:
    """Quoted names, and names after a naming verb (又名, 简称, 更名为). The asked-for
    form fits best: a title is quoted (《童话》), another name follows its verb
    ("或称内台航线", not the quoted 「自由航路」 further on)."""
    quoted, named = (0.8, 1.0) if alias else (1.0, 0.8)
    found = [Span(m.group(), m.start(), quoted) for m in QUOTED.finditer(text)]
    found += [Span(m.group(1), m.start(1), named) for m in _NAMED_AFTER.finditer(text)]
    return found
