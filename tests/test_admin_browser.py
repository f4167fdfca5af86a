"""The admin page in a real browser: sign in, create a knowledge base, upload a
.docx and a .pdf by the file picker, watch the progress bar finish, then ask in
the chat page and get an answer that cites the new document. Served by
`python app.py` on loopback with the real model; screenshots in
data/screenshots/ (admin-login.png, admin.png, chat-kb.png)."""

from __future__ import annotations

import pytest

from index.build import update_index
from kb.accounts import Accounts
from kb.logs import AuditLog
from settings import SHIPPED_CORPUS
from tests.documents import docx_bytes, pdf_bytes
from tests.servers import app_process
from tests.site import PASSWORD
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, ask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_settings, real_embedder):
    root = tmp_path_factory.mktemp("admin-browser")
    settings = real_settings.model_copy(update={"data_dir": root, "index_dir": root / "index"})
    update_index(settings, [SHIPPED_CORPUS], embedder=real_embedder, progress=False)
    Accounts(settings).add("admin", PASSWORD, admin=True)
    with app_process(root, real_settings.resolved_model_cache_dir()) as url:
        yield url, settings


def test_admin_uploads_and_the_chat_answers_from_the_new_document(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, settings = server
    docx = tmp_path / "暖心驿站.docx"
    docx.write_bytes(docx_bytes())
    pdf = tmp_path / "职工书屋.pdf"
    pdf.write_bytes(pdf_bytes())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(f"{url}/admin")
        assert "/admin/login?next=/admin" in page.url  # not signed in: sent to sign in
        page.fill("#name", "admin")
        page.fill("#password", "wrong password")
        page.click("#login")
        page.wait_for_function("document.querySelector('#login-error').innerText.length > 0")
        assert page.inner_text("#login-error") == "用户名或密码错误。"
        page.screenshot(path=str(SCREENSHOTS / "admin-login.png"))
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_url(f"{url}/admin")
        page.wait_for_selector("#kb-list li")

        page.fill("#new-id", "cases-2025")
        page.fill("#new-title", "2025 案例")
        page.click("#create")
        page.wait_for_function("document.querySelector('#kb-title').innerText === '2025 案例'")
        page.set_input_files("#file-input", [str(docx), str(pdf)])
        page.wait_for_selector("#job:not(.hidden)")
        page.wait_for_function(
            "document.querySelector('#job-status').innerText.includes('完成')", timeout=120_000
        )
        assert page.evaluate("document.querySelector('#job-bar').style.width") == "100%"
        page.wait_for_function(
            "document.querySelector('#docs tbody').innerText.includes('职工书屋.pdf')"
        )
        table = page.inner_text("#docs tbody")
        assert "暖心驿站.docx" in table and "docx" in table and "pdf" in table
        assert "文档 2 个" in page.inner_text("#report")
        page.screenshot(path=str(SCREENSHOTS / "admin.png"), full_page=True)

        page.goto(f"{url}/")
        page.wait_for_selector("#kb input", timeout=60_000)
        page.wait_for_function("document.querySelector('#who').innerText.includes('已登录')")
        assert "已登录：admin · 管理后台 · 退出登录" in page.inner_text("#who")
        page.locator("#kb input").click()
        page.get_by_role("option", name="2025 案例").click()
        page.wait_for_timeout(300)
        ask(page, "三明的暖心驿站建了多少个？")
        page.wait_for_selector("#sources .source", timeout=30_000)
        assert "126" in page.inner_text("#chat")
        assert "《暖心驿站.docx》" in page.inner_text("#sources")
        page.screenshot(path=str(SCREENSHOTS / "chat-kb.png"), full_page=True)
        browser.close()

    external = [u for u in requests if not u.startswith((url, "data:", "blob:"))]
    assert external == [], external
    actions = [a["action"] for a in AuditLog(settings).read()]
    assert "新建知识库" in actions and "上传文档 暖心驿站.docx、职工书屋.pdf" in actions
