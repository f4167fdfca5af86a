"""What a question asks for: its answer type, its focus and its slot.

    "935线使用几辆巴士？"       -> type number, focus 935线, slot 使用 巴士
    "世宗大学后来更名成什么？"  -> type name,   focus 世宗大学, slot 更名

The type comes from the first rule of `TYPE_RULES` whose pattern matches (the
table, with an example per type, is in the README and tested); the focus is
the question's most specific noun phrase (quoted text, then a name one of the
documents' titles gives, then proper nouns and codes such as 935线, then the
rarest nouns); the slot is the content words next
to the question word: what the passage must say about the focus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from answer.spans import CLOSING_QUOTES, OPENING_QUOTES, Span, spans
from answer.tagger import question_tagger
from index.titles import names_in
from ingest.entities import NAME_DOTS, Entity

_TITLE = r"哪[一]?[部首张本篇]"
# Verbs that take 为 ("as"): 誉为, 聘为, 选为, 评为, 封为, 尊为, 奉为, 算为, 表现为 (not
# 发现: "发现为什么…" asks why), as lookbehinds for the 为什么 after one of them.
_VERBS_WITH_WEI = ("[誉聘选评封尊奉算]", "表现")
_AFTER_VERB_WITH_WEI = "|".join(f"(?<={v})" for v in _VERBS_WITH_WEI)
_NOT_AFTER_VERB_WITH_WEI = "".join(f"(?<!{v})" for v in _VERBS_WITH_WEI)
# A country asked for ("哪国的哲学家", "哪个国家"), which no district of it answers.
_COUNTRY = r"哪国|哪一?[个座]?国家"
# (type, pattern, example). Order matters: "哪一年" is a date before it is a
# "哪" list, and "是否" a yes/no before anything else.
TYPE_RULES: tuple[tuple[str, str, str], ...] = (
    ("yesno", r"是否|是不是|有没有|能否|可否|能不能|吗[？?]?$", "该站点是否收费？"),
    # "更名为什么？", "称之为什么？" ask for a name: 为 + 什么 closing the question after a
    # naming verb. "名称为什么又叫…" goes on after it, and asks why. After a verb that
    # only takes 为 ("被誉为", "被聘为", "算为", "表现为"), 为 is the verb's wherever 什么 stands.
    (
        "reason",
        rf"{_NOT_AFTER_VERB_WITH_WEI}(?:(?<![称之名叫作成译改变定列视])为什么|为什么(?![？?]?$))"
        r"|为何|什么原因|原因是|因为什么|何故",
        "尤金袋鼠为什么被认为是害虫？",
    ),
    (
        "date",
        r"哪一?年|何年|哪一?天|何时|什么时[候间]|几月|几号|哪个月|哪个时期|哪个年代|什么年代|年份|日期|多少年前",
        "尤金袋鼠最初是何时被发现的？",
    ),
    (
        "person",
        r"谁|哪[一几]?位|什么人|何人|哪些人|创始人是|作者是|导演是|主演是|名字叫",
        "这部电影的导演是谁？",
    ),
    (
        "organisation",
        r"哪[个家所]?(?:单位|部门|公司|机构|组织|企业|学校|大学|医院|银行|球队|俱乐部|政党)|哪家|"
        r"什么(?:单位|部门|公司|机构|组织|企业)|由谁",
        "游戏由哪家公司开发？",
    ),
    # "哪部电影", "哪首歌", "哪张专辑": a title, even after 在 ("收录在哪张专辑").
    ("name", _TITLE, "主题曲收录在哪张专辑？"),
    (
        "place",
        rf"哪里|哪儿|什么地方|何处|何地|在哪(?![些几])|{_COUNTRY}|哪一?[个座]?(?:城市|省|市|县|地区|岛|州)|通往",
        "东南C口通往什么地方？",
    ),
    # "哪五个", "哪几项": a list of things, before "几个" reads as a count.
    ("list", r"哪[几两二三四五六七八九十]+", "台州的五大技能提升行动是哪五个？"),
    (
        "number",
        r"多少|几[个位名家项次场件条种天人辆座所支届倍岁公米只户]?|数量|多大|多高|多长|多重|多远|多久|"
        r"多深|多宽|多厚|"
        r"比例|百分之|how many|how much",
        "935线使用几辆巴士？",
    ),
    (
        "name",
        r"叫什么|称为什么|称之为|名为|什么名字|名称是|更名|改名|简称|别称|别名|称号|被称为|称作|命名|誉为|"
        r"(?:[俗本原艺笔旧小乳]名|全称)(?:是|为|叫)",
        "世宗大学后来更名成什么？",
    ),
    (
        "method",
        r"如何|怎样|怎么|什么方式|哪些措施|什么措施|什么做法|哪些做法|什么办法",
        "如何调解劳动争议？",
    ),
    ("list", r"哪些|哪几|有哪|包括什么|包括哪|分别是|列举", "游戏的模式有哪些？"),
    (
        "definition",
        rf"是什么|什么是|指什么|是指|含义|意思|什么样|(?:{_AFTER_VERB_WITH_WEI})为什么",
        "AGG01是什么？",
    ),
)
_COMPILED = tuple((t, re.compile(p, re.I)) for t, p, _ in TYPE_RULES)
# Types whose answer is a short span that can be pulled out of a sentence.
SHORT_TYPES = frozenset({"number", "date", "person", "place", "organisation", "name"})

# The words that ask; they never appear in the passage that answers.
ASKING = re.compile(
    r"[哪几啥谁怎]|什么|多少|多[长大高远久重宽深厚]|如何|是否|为什么|为何|何时|何地|何处|何人|吗$|呢$"
)
# The whole asking phrase with its measure word ("哪位", "几辆", "什么地方"): the
# question's text either side of it is what the answering sentence tends to repeat
# around the answer ("交给了谁" -> "交给韩简子和原寿过").
_ASKING_PHRASE = re.compile(
    r"(?:[哪几][一几]?|多少)[个位名家项次场件条种天人辆座所支届倍岁股部张本首年月日里儿些]?"
    r"|多(?:长时间|[长大高远久重宽深厚])"
    r"|什么(?:地方|时候|人|样)?|怎么样?|怎样|如何|是否|为什么|为何|何(?:时|地|处|人)|[啥谁]"
)
# The kind of quantity a number question names without a unit. Order matters:
# "流失率有多高" is a rate before 多高 is a height, "多长时间" a time before a length.
_MEASURE_RULES = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("比例", r"率|比例|比重|占比|百分之"),
        ("人数", r"人数|人次"),
        ("年龄", r"几岁|多大年纪|年龄|岁数|时多大"),
        ("面积", r"面积|占地"),
        ("时长", r"多久|多长时间|有效期|期限|花期|历时|任期|寿命"),
        ("高度", r"多高|高度|身高|海拔"),
        ("深度", r"多深|深度"),
        ("宽度", r"多宽|宽度"),
        ("厚度", r"多厚|厚度"),
        ("长度", r"多长|长度|全长|体长|身长|多远|距离|射程"),
        ("重量", r"多重|重量|体重"),
        ("金额", r"多少钱|价格|售价|票价|费用|斥资|花费|造价|工资|收入|奖金"),
    )
)
# The last character of a noun naming people: 职工, 劳动者, 会员, 用户, 运动员.
_PEOPLE = tuple("人员者工师生民手士户客众友")
# People type quotes loosely ("“吾无汗马劳…。"这句话"): any closing mark closes.
_QUOTED = re.compile(f"[{OPENING_QUOTES}]([^{CLOSING_QUOTES}]{{1,30}})[{CLOSING_QUOTES}]")
# "哪几个园" asks which ones, not how many: the items are named, not counted.
_UNIT = re.compile(r"(?:多少|(?<!哪)几)([\u4e00-\u9fff%％]{1,4})")
_NOMINAL = ("n", "nr", "ns", "nt", "nz", "eng", "vn", "j", "l", "i")
_PROPER = ("nr", "ns", "nt", "nz", "eng", "j")
# Words that frame a question without saying what it is about.
_FRAME = frozenset(
    "请问 问题 一下 情况 方面 内容 主要 具体 分别 一共 总共 大约 大概 目前 现在 当时 后来 最后".split()
)


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    type: str  # one of TYPE_RULES' types, or "other"
    focus: tuple[str, ...]  # words naming what the question is about
    slot: tuple[str, ...]  # words next to the question word: what is asked of the focus
    unit: str = ""  # the measure word after 多少/几 ("几辆" -> 辆): the answer's unit
    # The question's text before and after its asking phrase:
    # "魏舒把筑修城墙的事交给了谁？" -> ("魏舒把筑修城墙的事交给了", "").
    before: str = ""
    after: str = ""
    # The kind of quantity asked for when no unit is written ("面积有多大" -> 面积):
    # a key of answer/spans.py MEASURES, whose units all fit.
    measure: str = ""
    # A name question asking for another name of what it is about ("又叫什么",
    # "简称是什么"), not for a title ("哪首歌"): a name after 又名/简称 is the answer.
    alias: bool = False

    @property
    def wants_span(self) -> bool:
        return self.type in SHORT_TYPES

    @property
    def asks_country(self) -> bool:
        """A place question asking which country ("哪国", "哪个国家"): the country
        answers, not a district of it."""
        return self.type == "place" and bool(re.search(_COUNTRY, self.text))

    @property
    def asked_unit(self) -> str:
        """The unit, else the kind of quantity: what a number answering must end in."""
        return self.unit or self.measure

    def spans_in(self, text: str, entities: tuple[Entity, ...] | None = None) -> list[Span]:
        """The spans of `text` of the type asked for, each with how well it fits
        the form asked (the unit, the kind of quantity, another name or a title)."""
        return spans(text, self.type, self.asked_unit, entities, self.alias)


def answer_type(question: str) -> str:
    for name, pattern in _COMPILED:
        if pattern.search(question):
            return name
    return "other"


# Bounded: a server sees endless new questions and passages.
_TAG_CACHE = 20_000


@lru_cache(maxsize=_TAG_CACHE)
def tagged(question: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, part-of-speech) pairs of a question, computed once, with
    the HMM that finds names its dictionary lacks (transliterations), its search
    in numpy (answer/tagger.py). Passages are tagged at ingest instead
    (ingest/entities.py)."""
    return tuple((w.word, w.flag) for w in question_tagger().lcut(question, HMM=True))


# Words jieba's dictionary tags wrong, with the tag they should have: 之家 ("home
# of": 职工之家, 会员之家) is a pronoun there, though it ends a name; 被誉为 a noun,
# which made it the focus of "黄山被誉为什么？".
_RETAGGED = {"之家": "n", "被誉为": "v"}
CJK_CHAR = re.compile(r"[\u3400-\u9fff]")  # a Chinese character


def analyse(question: str, names: frozenset[str] = frozenset()) -> QuestionAnalysis:
    """`names`: the names the index's titles give (index/titles.py)."""
    words = [(w, _RETAGGED.get(w, f)) for w, f in _merge_codes(tagged(question))]
    asking = [i for i, (w, _) in enumerate(words) if ASKING.search(w)]
    # An English question asked of Chinese passages: no word of it can be looked
    # for in them, so it names no focus to check ("How", "What" are not one).
    named = names_in(question, names)
    focus = _focus(question, words, set(asking), named) if CJK_CHAR.search(question) else ()
    unit = _unit(question)
    slot = _slot(words, asking, {*focus, *_name_parts(question, words, focus, named), unit})
    before, after = _around_asking(question)
    kind = answer_type(question)
    measure = _measure(question) if kind == "number" and not unit else ""
    alias = kind == "name" and not re.search(_TITLE, question)
    return QuestionAnalysis(question, kind, focus, slot, unit, before, after, measure, alias)


def _measure(question: str) -> str:
    found = next((name for name, rule in _MEASURE_RULES if rule.search(question)), "")
    return found or ("人数" if _counts_people(tagged(question)) else "")


def _counts_people(words: tuple[tuple[str, str], ...]) -> bool:
    """How many of some people: the first noun within three words after 多少/几
    names people by its last character ("多少职工", "多少注册用户", "几名运动员")."""
    for i, (word, _) in enumerate(words):
        if word in ("多少", "几"):
            noun = next((w for w, flag in words[i + 1 : i + 4] if flag == "n"), "")
            return noun.endswith(_PEOPLE)
    return False


def _around_asking(question: str) -> tuple[str, str]:
    text = question.strip().rstrip("？?。！! ")
    found = _ASKING_PHRASE.search(text)
    if not found:
        return text, ""
    return text[: found.start()].strip("，, "), text[found.end() :].rstrip("呢吗").strip("，, ")


def _unit(question: str) -> str:
    """The longest unit right after 多少/几: "多少亿元" -> 亿元, "几辆" -> 辆."""
    from answer.spans import UNITS

    found = _UNIT.search(question)
    if not found:
        return ""
    after = found.group(1)
    return max((u for u in UNITS if after.startswith(u)), key=len, default="")


def _merge_codes(words: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """'935' + '线' -> '935线', 'C' + '口' -> 'C口': a code with its measure word
    names one thing, and jieba cuts it in two."""
    merged: list[tuple[str, str]] = []
    for word, flag in words:
        code = merged and re.fullmatch(r"[A-Za-z0-9]+", merged[-1][0])
        if code and flag in ("n", "q", "ng") and len(word) == 1:
            merged[-1] = (merged[-1][0] + word, "nz")
            continue
        merged.append((word, flag))
    return merged


@cache
def function_words() -> frozenset[str]:
    """Chinese function words (stopwords-iso): never evidence, never a focus."""
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords("zh"))


def _content(word: str, flag: str) -> bool:
    """A word that can be looked for in a passage. jieba's tags are unreliable on
    short questions (通往 comes out as an adverb), so this goes by length and a
    stop-word list more than by tag; single characters say too little."""
    if ASKING.search(word) or word in _FRAME or word in function_words():
        return False
    if re.fullmatch(r"[A-Za-z0-9]+\w*", word):
        return True
    return len(word) >= 2 and flag not in ("x", "uj", "ul", "p", "c", "r", "y", "u", "q")


def _focus(
    question: str, words: list[tuple[str, str]], asking: set[int], named: list[str]
) -> tuple[str, ...]:
    """`named`: the names the documents' titles give that the question holds."""
    quoted = tuple(m.group(1) for m in _QUOTED.finditer(question))
    if quoted:
        return quoted
    # A name a document's title gives is the subject, whole: jieba cuts names its
    # dictionary lacks ("蓝线裸顶鲷" into 蓝线/裸顶鲷) and the rule below keeps a piece.
    if named:
        return (max(named, key=len),)
    # The first run of nominal words that holds a proper noun or a code, else the
    # first nominal run: questions name their subject before they ask.
    runs: list[list[str]] = []
    current: list[str] = []
    held: list[str] = []  # single characters waiting for the run's next word
    contentful, proper = False, False
    proper_runs: list[int] = []

    def close() -> None:
        nonlocal current, contentful, proper
        if current and contentful:
            if proper:
                proper_runs.append(len(runs))
            runs.append(current)
        current, contentful, proper = [], False, False

    for i, (word, flag) in enumerate(words):
        nominal = (
            i not in asking
            and word not in _FRAME
            and not _dates(words, i)
            and (flag.startswith(_NOMINAL) or re.fullmatch(r"[A-Za-z0-9]+\w*", word))
        )
        if nominal and _content(word, flag):
            current += [*held, word]
            held = []
            contentful = True
            proper = proper or flag.startswith(_PROPER) or bool(re.search(r"[A-Za-z0-9]", word))
        elif nominal and len(word) == 1 and word not in function_words():
            # jieba's HMM cuts a name it lacks into pieces, some of one character
            # (帕/特纳/赫/峡谷): they belong to the run that holds its other pieces.
            (current if current else held).append(word)
        else:
            close()
            held = []
    close()
    if not runs:
        return ()
    chosen = runs[proper_runs[0]] if proper_runs else runs[0]
    return ("".join(chosen),) if len(chosen) > 1 else tuple(chosen)


def _name_parts(
    question: str, words: list[tuple[str, str]], focus: tuple[str, ...], named: list[str]
) -> set[str]:
    """The other parts of a dotted name the focus is part of: a title gives 狄尔泰
    of 威廉·狄尔泰, and 威廉 names the focus too, not what is asked. A part is a
    word next to a dot, or a name a title gives next to one (jieba cuts 蒙泰罗 of
    蒂亚戈·蒙泰罗 into 蒙/泰罗)."""
    if not any(d in question for d in NAME_DOTS):
        return set()
    parts = {n for n in named if any(d + n in question or n + d in question for d in NAME_DOTS)}
    for i, (word, _) in enumerate(words):
        if word in NAME_DOTS:
            parts.update(w for w, _ in words[max(i - 1, 0) : i + 2] if w not in NAME_DOTS)
    named = any(p in f or f in p for p in parts for f in focus)
    return parts if named else set()


def _dates(words: list[tuple[str, str]], i: int) -> bool:
    """The number of a date ("2008" of 2008年): when the fact holds, not what the
    question is about ("2008年，吉斯伯恩大区的人口") nor what it asks for."""
    word = words[i][0]
    return word.isdigit() and i + 1 < len(words) and words[i + 1][0][:1] in "年月日"


def _slot(words: list[tuple[str, str]], asking: list[int], focus: set[str]) -> tuple[str, ...]:
    """Up to two content words on each side of the first question word, nearest
    first, that are not part of `focus` (the focus, the other parts of its
    dotted name and the unit) nor a date's number."""
    if not asking:
        return ()
    at = asking[0]
    picked: list[str] = []
    for side in (range(at - 1, -1, -1), range(at + 1, len(words))):
        taken = 0
        for i in side:
            word, flag = words[i]
            if word in "，。？！?,!；;":
                break
            if not _content(word, flag) or any(word in f for f in focus) or _dates(words, i):
                continue
            picked.append(word)
            taken += 1
            if taken == 2:
                break
    return tuple(dict.fromkeys(picked))
