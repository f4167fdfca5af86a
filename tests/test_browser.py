"""The chat page in a real browser (Debian's Chromium, driven by Playwright),
served by `python app.py` on loopback, over the shipped corpus plus a passage
that carries HTML which must never run."""

from __future__ import annotations

import time

import pytest

from index.build import update_index
from kb.logs import Feedback
from settings import PROJECT_ROOT, Settings
from tests.servers import app_process, corpus_with

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = PROJECT_ROOT / "data" / "screenshots"
INJECTED = (
    "测试市总工会\n\n注入测试案例\n\n"
    "测试市的这段资料含有脚本<script>window.__xss_script = 1</script>和图片"
    '<img src=x onerror="window.__xss_img = 1">，测试市共建成注入驿站42家。\n'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_settings, real_embedder):
    root = tmp_path_factory.mktemp("browser")
    corpus = corpus_with(root, "injected.txt", INJECTED)
    settings = real_settings.model_copy(update={"data_dir": root, "index_dir": root / "index"})
    update_index(settings, [corpus], embedder=real_embedder, progress=False)
    with app_process(root, real_settings.resolved_model_cache_dir()) as url:
        yield f"{url}/", root


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(url, wait_until="load")
        page.wait_for_selector("#question textarea", timeout=60_000)
        # The page's load event has run (it says who is signed in): Gradio has
        # wired the textbox, so an Enter pressed now is not lost.
        page.wait_for_function(
            "document.querySelector('#who').innerText.includes('登录')", timeout=60_000
        )
        yield page
        browser.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat .message").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .message').length >= n + 2"
        " && !document.querySelector('#chat').innerText.includes('正在检索资料')",
        arg=before,
        timeout=90_000,
    )


def test_ask_see_answer_and_cited_source(page, server):
    url, root = server
    ask(page, "北京的双沟通一共开了多少场职工沟通会？")
    page.wait_for_selector("#sources .source", timeout=30_000)
    chat = page.inner_text("#chat")
    assert "37885" in chat and "[1]" in chat
    # The asked-for fact in bold, above the sentence that supports it.
    assert page.locator("#chat strong").last.inner_text() == "37885场"
    sources = page.inner_text("#sources")
    assert "引用来源" in sources and "[1] 北京市总工会 · 深化“双沟通” 破解建会入会难题" in sources
    assert page.locator("#sources mark").count() >= 1  # the quoted sentence is highlighted
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat.png"), full_page=True)

    page.get_by_label("Like").last.click()
    feedback = Feedback(Settings(data_dir=root))  # the database the server writes to
    deadline = time.time() + 10
    while not feedback.read() and time.time() < deadline:
        time.sleep(0.2)
    record = feedback.read()[0]
    assert record["kb"] == "default" and record["liked"] is True
    assert record["question"].startswith("北京的双沟通")
    assert "37885" in record["answer"]["answer"] and record["answer"]["citations"]
    page.get_by_label("Dislike").last.click()
    deadline = time.time() + 10
    while len(feedback.read()) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert sorted(r["liked"] for r in feedback.read()) == [False, True]

    external = [u for u in page.requests if not u.startswith((url, "data:", "blob:"))]
    assert external == [], external


def test_refusal_followup_and_clear(page):
    ask(page, "上海市总工会的疗休养政策是什么？")
    assert "资料中没有找到相关内容" in page.inner_text("#chat")
    assert "最接近的段落" in page.inner_text("#sources")
    ask(page, "北京的双沟通一共开了多少场职工沟通会？")
    ask(page, "那江苏呢？")
    assert "江苏省总工会" in page.inner_text("#sources")
    page.click("#clear")
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('那江苏呢')")
    assert "提问后，这里显示回答所引用的原文段落" in page.inner_text("#sources")


def test_html_in_passages_and_questions_is_shown_not_run(page):
    ask(page, "测试市共建成多少家注入驿站？<script>window.__xss_question = 1</script>")
    page.wait_for_selector("#sources .source", timeout=30_000)
    assert "<script>window.__xss_script = 1</script>" in page.inner_text("#sources")
    assert "<script>window.__xss_question = 1</script>" in page.inner_text("#chat")
    page.wait_for_timeout(500)
    ran = page.evaluate("[window.__xss_script, window.__xss_img, window.__xss_question]")
    assert ran == [None, None, None]
    page.screenshot(path=str(SCREENSHOTS / "injection.png"), full_page=True)


def test_empty_question_gets_a_prompt_without_searching(page):
    page.fill("#question textarea", "   ")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('请输入您的问题')")
    assert page.locator("#sources .source").count() == 0
