"""The widget on an intranet page from another origin, in headless Chromium.

examples/intranet.html is served from one loopback port, the 问答 server from
another; a third port serves the same page from an origin the server does not
allow. The real default model answers.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_server
from index.build import update_index
from kb.library import Library
from kb.registry import Registry
from settings import PROJECT_ROOT
from tests.servers import LoopbackServer, corpus_with, free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

pytestmark = pytest.mark.slow

INJECTED = (
    "测试市总工会\n\n注入测试案例\n\n"
    '测试市的资料里有一张图片<img src=x onerror="window.__xss_img = 1">，'
    "测试市共建成注入驿站42家。\n"
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class PageServer:
    """A plain static web server for the example page, on its own port."""

    def __init__(self, directory) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, real_settings, real_embedder):
    root = tmp_path_factory.mktemp("widget")
    corpus = corpus_with(root, "injected.txt", INJECTED)
    pages = root / "pages"
    pages.mkdir()
    allowed_page, other_page = PageServer(pages), PageServer(pages)
    settings = real_settings.model_copy(
        update={
            "data_dir": root,
            "index_dir": root / "index",
            "allowed_origins": [allowed_page.origin],
        }
    )
    update_index(settings, [corpus], embedder=real_embedder, progress=False)
    library = Library(Registry(settings), embedder=real_embedder)
    with LoopbackServer(create_server(library)) as site:
        html = (PROJECT_ROOT / "examples" / "intranet.html").read_text(encoding="utf-8")
        (pages / "intranet.html").write_text(
            html.replace("http://127.0.0.1:7860/widget.js", f"{site.url}/widget.js"),
            encoding="utf-8",
        )
        yield allowed_page, other_page
    allowed_page.close()
    other_page.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, origin, viewport=(1280, 900)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(f"{origin}/intranet.html", wait_until="load")
    page.wait_for_selector(".launcher")  # Playwright's CSS selectors enter open shadow roots
    return page


def ask(page, question: str) -> None:
    before = page.locator(".msg.bot, .msg.error").count()
    page.fill("textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        """n => {
            const root = document.querySelector('[data-ghqa-widget]').shadowRoot;
            const msgs = root.querySelectorAll('.msg.bot, .msg.error');
            return msgs.length > n && !msgs[msgs.length - 1].textContent.includes('正在检索');
        }""",
        arg=before,
        timeout=90_000,
    )


def style(page, selector: str, prop: str) -> str:
    return page.evaluate(
        "([s, p]) => getComputedStyle(document.querySelector(s))[p]", [selector, prop]
    )


def test_widget_answers_with_citations_on_another_origin(setup, browser):
    allowed, _ = setup
    page = open_page(browser, allowed.origin)
    # The host page's own CSS is intact...
    assert style(page, "header", "backgroundColor") == "rgb(170, 0, 0)"
    assert style(page, "h2", "color") == "rgb(170, 0, 0)"
    assert "SimSun" in style(page, "body", "fontFamily")
    # ...and does not reach into the widget.
    launcher = page.locator(".launcher")
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(204, 0, 0)"
    assert launcher.evaluate("e => getComputedStyle(e).fontSize") == "16px"

    launcher.focus()
    page.keyboard.press("Enter")  # opens by keyboard; focus goes to the question box
    assert page.locator(".panel").is_visible()
    assert (
        page.evaluate(
            "document.querySelector('[data-ghqa-widget]').shadowRoot.activeElement.tagName"
        )
        == "TEXTAREA"
    )
    ask(page, "北京的双沟通一共开了多少场职工沟通会？")
    answer = page.locator(".msg.bot").last
    assert "37885" in answer.inner_text() and "[1]" in answer.inner_text()
    assert answer.locator(".short").inner_text() == "37885场"
    assert (
        "北京市总工会 · 深化“双沟通” 破解建会入会难题" in answer.locator(".cite").first.inner_text()
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget.png"))

    # A question that asks two things: each part under its own question.
    ask(page, "北京的职工沟通会和安徽的招聘会，各办了多少场？")
    answer = page.locator(".msg.bot").last
    assert answer.locator(".part").all_inner_texts() == [
        "问：北京的职工沟通会，办了多少场？",
        "问：安徽的招聘会，办了多少场？",
    ]
    assert answer.locator(".short").all_inner_texts() == ["37885场", "9311场"]
    assert "[2]" in answer.inner_text() and answer.locator(".cite").count() == 2
    answer.evaluate("e => e.scrollIntoView()")
    page.locator(".panel").screenshot(path=str(SCREENSHOTS / "widget-two-parts.png"))

    ask(page, "测试市共建成多少家注入驿站？")
    shown = page.locator(".msg.bot").last.inner_text()
    assert '<img src=x onerror="window.__xss_img = 1">' in shown
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss_img") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0

    page.keyboard.press("Escape")
    assert not page.locator(".panel").is_visible()
    assert all(u.startswith("http://127.0.0.1:") for u in page.requests), page.requests


def test_widget_fills_a_narrow_screen(setup, browser):
    allowed, _ = setup
    page = open_page(browser, allowed.origin, viewport=(375, 667))
    page.click(".launcher")
    box = page.locator(".panel").bounding_box()
    assert (box["width"], box["height"]) == (375, 667)


def test_disallowed_origin_gets_no_answer(setup, browser):
    _, other = setup
    page = open_page(browser, other.origin)
    page.click(".launcher")
    ask(page, "北京的双沟通一共开了多少场职工沟通会？")
    text = page.locator(".panel").inner_text()
    assert "本网站未被允许使用" in text and "37885" not in text
