"""Questions that ask two things: split into parts, each answered under its own question."""

import json

import pytest

from answer.compound import split_question
from answer.records import Answer
from answer.service import REFUSAL, AnswerService


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        # Questions in a row, each naming its own subject.
        (
            "江苏建了多少家康乃馨服务站？龙岩调解成功了多少件劳动争议？",
            ["江苏建了多少家康乃馨服务站？", "龙岩调解成功了多少件劳动争议？"],
        ),
        # A distributive word after a coordination asks the rest once per conjunct.
        ("他的父亲和母亲各是谁？", ["他的父亲是谁？", "他的母亲是谁？"]),
        ("苹果和香蕉各自多少钱？", ["苹果多少钱？", "香蕉多少钱？"]),
        (
            "江苏、浙江和安徽分别有多少家服务站？",
            ["江苏有多少家服务站？", "浙江有多少家服务站？", "安徽有多少家服务站？"],
        ),
        # Each conjunct with its own 的-phrase...
        (
            "江苏的服务站和北京的沟通会，各有多少？",
            ["江苏的服务站，有多少？", "北京的沟通会，有多少？"],
        ),
        # ...or the 的-phrase shared by both.
        ("男子和女子的平均收入分别是多少？", ["男子的平均收入是多少？", "女子的平均收入是多少？"]),
        (
            "摄影开始和结束的时间分别是什么时候？",
            ["摄影开始的时间是什么时候？", "摄影结束的时间是什么时候？"],
        ),
    ],
)
def test_questions_that_ask_two_things_are_split(question, parts):
    assert split_question(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "龙岩的驿站枫桥调解成功了多少件劳动争议？",
        # The second question leans on the first: no subject of its own.
        "工会联合会下面有几个分会？分别在哪些地方？",
        "江苏为女职工建的服务站叫什么？建了多少个？",
        "你好？龙岩调解成功了多少件劳动争议？",  # a greeting is not a part
        # 分别 as a noun ("the difference"), 各 as a determiner, no coordination.
        "印度野驴与非洲野驴的分别是什么？",
        "各级工会有哪些做法？",
        "三兄弟在专辑中各自的主唱歌曲是什么？",
        # More parts than MAX_PARTS (4): a list, answered as one question.
        "江苏、浙江、安徽、江西和福建分别有多少家服务站？",
        "",
    ],
)
def test_questions_that_ask_one_thing_stay_whole(question):
    assert split_question(question) == [question]


@pytest.fixture(scope="module")
def service(real_searcher, real_settings):
    return AnswerService(real_searcher, real_settings)


@pytest.mark.slow
def test_each_part_is_answered_from_its_own_case(service):
    answer = service.answer("江苏的康乃馨服务站和北京的职工沟通会，各有多少？")
    assert not answer.refused
    assert [p.question for p in answer.parts] == [
        "江苏的康乃馨服务站，有多少？",
        "北京的职工沟通会，有多少？",
    ]
    assert "2940家" in answer.parts[0].text and "37885场" in answer.parts[1].text
    # The whole's short answer joins the parts' when each has one.
    shorts = [p.short_answer for p in answer.parts]
    assert answer.short_answer == ("；".join(shorts) if all(shorts) else "")
    # Passages are numbered across the parts, each part citing its own case.
    assert [(c.n, c.hit.chunk.organisation) for c in answer.citations] == [
        (1, "江苏省总工会"),
        (2, "北京市总工会"),
    ]
    assert answer.parts[0].text.endswith("[1]") and answer.parts[1].text.endswith("[2]")
    assert answer.text == "\n\n".join(f"{p.question}\n{p.text}" for p in answer.parts)
    assert answer.to_json()["parts"][1] == {
        "question": "北京的职工沟通会，有多少？",
        "answer": answer.parts[1].text,
        "short_answer": shorts[1],
        "refused": False,
    }


@pytest.mark.slow
def test_a_part_the_documents_do_not_answer_is_refused_alone(service):
    answer = service.answer("北京共召开多少场职工沟通会？上海的疗休养政策是什么？")
    assert not answer.refused
    assert [p.refused for p in answer.parts] == [False, True]
    assert answer.parts[1].text == REFUSAL
    assert "37885" in answer.parts[0].text
    # No short answer for the whole when a part has none.
    assert answer.short_answer == ""
    assert [c.hit.chunk.organisation for c in answer.citations] == ["北京市总工会"]

    nothing = service.answer("上海的疗休养政策是什么？杭州的职工书屋有多少家？")
    assert nothing.refused and nothing.text == REFUSAL and nothing.parts == ()


@pytest.mark.slow
def test_a_sentence_two_parts_share_is_quoted_once(service):
    answer = service.answer("北京的职工沟通会和企业沟通会，各召开了多少场？")
    assert [p.question for p in answer.parts] == [
        "北京的职工沟通会，召开了多少场？",
        "北京的企业沟通会，召开了多少场？",
    ]
    assert "37885场职工沟通会" in answer.parts[0].text
    assert answer.parts[1].text == "出处同上。[1]"
    assert len(answer.citations) == 1


@pytest.mark.slow
def test_an_llm_reads_the_whole_question_over_every_parts_passages(service):
    """With a model (a loopback stand-in for a paid service), the question goes
    whole, and the passages given are those of both parts, so it can answer both."""
    from tests.llm_server import FakeChatService, answering_through

    with FakeChatService() as server:
        server.pieces = ["江苏2940家[1]，北京37885场[2]。"]
        with answering_through(service, server.url):
            answer = service.answer("江苏的康乃馨服务站和北京的职工沟通会，各有多少？")
    prompt = json.dumps(server.requests[0]["body"]["messages"], ensure_ascii=False)
    assert "江苏的康乃馨服务站和北京的职工沟通会，各有多少？" in prompt
    assert "康乃馨服务站2940家" in prompt and "37885场职工沟通会" in prompt
    assert [c.hit.chunk.organisation for c in answer.citations] == ["江苏省总工会", "北京市总工会"]


def test_chat_shows_each_part_under_its_question():
    from app import render_answer

    parts = (
        Answer("召开2940场。[1]", (), False, question="甲有多少？", short_answer="2940场"),
        Answer(REFUSAL, (), True, question="乙<b>有多少？"),
    )
    answer = Answer("…", (), False, question="甲和乙<b>各有多少？", parts=parts)
    assert render_answer(answer) == (
        f"问：甲有多少？\n\n**2940场**\n\n召开2940场。[1]\n\n问：乙&lt;b&gt;有多少？\n\n{REFUSAL}"
    )
