"""Knowledge bases managed over the admin API, against a real server: uploads
(real .docx and .pdf, and hostile files), incremental changes, keys, feedback,
the audit log."""

import json
import time
from pathlib import Path

import httpx
import pytest

from index import store
from kb.documents import Documents, StoredDocument, Upload
from kb.logs import AuditLog, Feedback
from tests.documents import (
    SANMING,
    docx_bomb,
    docx_bytes,
    docx_external_template,
    docx_with_doctype,
    pdf_bytes,
)
from tests.site import serve, signed_in, staff_site_settings

SANMING_Q = "三明的暖心驿站建了多少个？"
XIAMEN_Q = "厦门的职工书屋藏书多少册？"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("admin")
    settings = staff_site_settings(root / "data")
    with serve(settings) as server:
        server.settings = settings
        server.root = root
        server.admin = signed_in(server.url, "admin")
        yield server


def wait(client: httpx.Client, job: dict) -> dict:
    deadline = time.time() + 120
    while job["state"] not in ("done", "failed"):
        assert time.time() < deadline, job
        time.sleep(0.2)
        job = client.get(f"/admin/api/jobs/{job['id']}").json()
    return job


def upload(client, kb, files, method="POST", suffix=""):
    response = client.request(
        method,
        f"/admin/api/kbs/{kb}/documents{suffix}",
        files=[("files", (name, data)) for name, data in files],
    )
    return response


def documents(client, kb) -> dict:
    return client.get(f"/admin/api/kbs/{kb}/documents").json()


def ask(site, kb, question, client=None):
    client = client or site.admin
    return client.post("/api/ask", json={"question": question, "kb": kb})


@pytest.fixture(scope="module")
def cases_kb(site):
    """A public knowledge base with a .docx and a .pdf uploaded together."""
    admin = site.admin
    created = admin.post(
        "/admin/api/kbs", json={"id": "cases-2025", "title": "2025 案例", "visibility": "public"}
    )
    assert created.status_code == 201, created.text
    started = upload(
        admin, "cases-2025", [("暖心驿站.docx", docx_bytes()), ("职工书屋.pdf", pdf_bytes())]
    )
    assert started.status_code == 202, started.text
    job = wait(admin, started.json())
    assert job["state"] == "done" and job["progress"] == 1.0, job
    return "cases-2025"


def test_uploaded_documents_are_listed_and_answered(site, cases_kb):
    listed = documents(site.admin, cases_kb)
    names = {d["name"]: d for d in listed["documents"]}
    assert set(names) == {"暖心驿站.docx", "职工书屋.pdf"}
    assert names["暖心驿站.docx"]["kind"] == "docx" and names["职工书屋.pdf"]["kind"] == "pdf"
    assert all(d["indexed"] and d["chunks"] >= 1 for d in names.values())
    assert listed["report"]["files"] == 2 and listed["report"]["skipped"] == []
    body = ask(site, cases_kb, SANMING_Q).json()
    assert "126" in body["answer"]
    assert body["citations"][0]["document"] == "暖心驿站.docx"
    # Stored under their hashes: the names users gave are never paths.
    stored = sorted(p.name for p in (site.settings.kb_root() / cases_kb / "files").iterdir())
    assert stored == sorted(f"{d['id']}.{d['kind']}" for d in listed["documents"])
    # One model instance serves every knowledge base.
    library = site.library
    assert (
        library.service(cases_kb).searcher.embedder is library.service("default").searcher.embedder
    )
    # Anyone may read a public knowledge base, without signing in.
    anonymous = httpx.post(f"{site.url}/api/ask", json={"question": XIAMEN_Q, "kb": cases_kb})
    assert anonymous.status_code == 200 and "9.6万" in anonymous.json()["answer"]


def test_delete_and_replace_change_only_that_document(site, cases_kb):
    admin = site.admin
    before = documents(admin, cases_kb)["documents"]
    pdf = next(d for d in before if d["kind"] == "pdf")
    job = wait(admin, admin.delete(f"/admin/api/kbs/{cases_kb}/documents/{pdf['id']}").json())
    assert job["state"] == "done"
    assert job["report"]["removed"] and job["report"]["embedded"] == 0  # nothing re-embedded
    after = documents(admin, cases_kb)["documents"]
    assert [d["name"] for d in after] == ["暖心驿站.docx"]
    assert "9.6万" not in ask(site, cases_kb, XIAMEN_Q).json()["answer"]
    changed = [*SANMING[:2], "三明市总工会在全市建成暖心驿站300个。"]
    docx = next(d for d in after if d["kind"] == "docx")
    started = upload(
        admin, cases_kb, [("暖心驿站.docx", docx_bytes(changed))], "PUT", f"/{docx['id']}"
    )
    assert wait(admin, started.json())["state"] == "done"
    replaced = documents(admin, cases_kb)["documents"]
    assert [d["name"] for d in replaced] == ["暖心驿站.docx"] and replaced[0]["id"] != docx["id"]
    assert "300" in ask(site, cases_kb, SANMING_Q).json()["answer"]
    # Put the PDF back for the tests that follow.
    assert (
        wait(admin, upload(admin, cases_kb, [("职工书屋.pdf", pdf_bytes())]).json())["state"]
        == "done"
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("病毒.pdf", b"\x7fELF\x02\x01\x01" + b"\0" * 200, "可执行程序"),
        ("setup.pdf", b"MZ\x90\x00" + b"\0" * 200, "可执行程序"),
        ("空.txt", b"", "0 字节"),
        ("炸弹.docx", None, "压缩炸弹"),
        ("模板.docx", None, "外部资源"),
        ("实体.docx", None, "DTD"),
        ("伪装.docx", "这其实是一段文字".encode(), "不是 DOCX"),
        ("程序.exe", b"hello", "不支持的文件类型"),
    ],
)
def test_hostile_uploads_are_refused_and_change_nothing(site, cases_kb, name, data, message):
    data = (
        data
        if data is not None
        else {
            "炸弹.docx": docx_bomb,
            "模板.docx": docx_external_template,
            "实体.docx": docx_with_doctype,
        }[name]()
    )
    before = documents(site.admin, cases_kb)
    build = store.current_build(site.settings.kb_root() / cases_kb / "index")
    # With a good file in the same request: all or nothing.
    response = upload(
        site.admin, cases_kb, [("好文件.txt", "三明市总工会的新闻稿。".encode()), (name, data)]
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert documents(site.admin, cases_kb)["documents"] == before["documents"]
    assert store.current_build(site.settings.kb_root() / cases_kb / "index") == build


@pytest.mark.parametrize(
    "raw_name", ["../../evil-upload.txt", "/tmp/evil-upload.txt", "..\\..\\evil-upload.txt"]
)
def test_file_names_are_labels_never_paths(site, cases_kb, raw_name):
    response = upload(site.admin, cases_kb, [(raw_name, "工会驿站服务手册。".encode())])
    assert response.status_code == 202, response.text
    assert wait(site.admin, response.json())["state"] == "done"
    assert not Path("/tmp/evil-upload.txt").exists()
    assert not list(site.root.rglob("evil-upload.txt"))
    assert not (site.settings.kb_root() / "evil-upload.txt").exists()
    names = [d["name"] for d in documents(site.admin, cases_kb)["documents"]]
    assert names.count("evil-upload.txt") == 1  # the same label again replaces it


def test_a_pdf_that_takes_too_long_is_refused(site, cases_kb, monkeypatch):
    policy = site._server.config.app.policy
    monkeypatch.setattr(policy.settings, "parse_timeout", 0.001)
    before = documents(site.admin, cases_kb)["documents"]
    response = upload(site.admin, cases_kb, [("慢.pdf", pdf_bytes())])
    assert response.status_code == 400 and "解析超时" in response.json()["error"]["message"]
    assert documents(site.admin, cases_kb)["documents"] == before


def test_an_oversized_file_is_refused(site, cases_kb, monkeypatch):
    policy = site._server.config.app.policy
    monkeypatch.setattr(policy.settings, "max_upload_bytes", 2048)
    response = upload(site.admin, cases_kb, [("大.txt", "工会".encode() * 2000)])
    assert response.status_code == 400 and "文件过大" in response.json()["error"]["message"]


def test_widget_keys_are_per_knowledge_base_revocable_and_stored_hashed(site):
    admin = site.admin
    admin.post("/admin/api/kbs", json={"id": "widget-kb", "title": "小部件", "visibility": "token"})
    wait(admin, upload(admin, "widget-kb", [("暖心驿站.docx", docx_bytes())]).json())
    origin = "http://oa.example.gov.cn"
    key = admin.post(
        "/admin/api/kbs/widget-kb/keys", json={"origins": origin, "label": "OA"}
    ).json()
    token = key["token"]
    bearer = {"Authorization": f"Bearer {token}", "Origin": origin}
    question = {"question": SANMING_Q, "kb": "widget-kb"}
    # Not public: 401 when nothing is readable without a key, 404 when a public one is.
    anonymous = httpx.post(f"{site.url}/api/ask", json=question)
    assert anonymous.status_code in (401, 404) and "126" not in anonymous.text
    ok = httpx.post(f"{site.url}/api/ask", json=question, headers=bearer)
    assert ok.status_code == 200 and "126" in ok.json()["answer"]
    assert ok.headers["access-control-allow-origin"] == origin
    other_page = {**bearer, "Origin": "http://elsewhere.example"}
    assert httpx.post(f"{site.url}/api/ask", json=question, headers=other_page).status_code == 403
    other_kb = httpx.post(
        f"{site.url}/api/ask", json={"question": SANMING_Q, "kb": "default"}, headers=bearer
    )
    assert other_kb.status_code == 404 and "37885" not in other_kb.text
    database = b"".join(p.read_bytes() for p in site.settings.state_dir().glob("state.db*"))
    assert token.encode() not in database and token.split("_", 2)[2].encode() not in database
    assert admin.delete(f"/admin/api/kbs/widget-kb/keys/{key['id']}").json()["revoked"]
    # Revoked: refused from its page (no live key lists it any more) and from anywhere else.
    assert httpx.post(f"{site.url}/api/ask", json=question, headers=bearer).status_code == 403
    server_side = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{site.url}/api/ask", json=question, headers=server_side).status_code == 401


def test_feedback_review_and_csv_export(site, cases_kb):
    record = {
        "time": "2026-11-26T08:00:00+00:00",
        "liked": False,
        "kb": cases_kb,
        "question": "三明的驿站有多少个？",
        "answer": {
            "answer": "126个[1]",
            "citations": [{"n": 1, "title": "暖心驿站", "document": "暖心驿站.docx"}],
        },
    }
    feedback = Feedback(site.settings)
    feedback.add(
        cases_kb, False, record["question"], record["question"], record["answer"], record["time"]
    )
    listed = site.admin.get(f"/admin/api/feedback?kb={cases_kb}").json()["feedback"]
    assert listed[0]["question"] == "三明的驿站有多少个？"
    csv = site.admin.get(f"/admin/api/feedback.csv?kb={cases_kb}")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "三明的驿站有多少个？" in csv.text and "暖心驿站.docx" in csv.text and "👎" in csv.text
    assert site.admin.get("/admin/api/feedback?kb=default").json()["feedback"] == []
    # A question typed like a spreadsheet formula stays text when the CSV is opened.
    formula = '=HYPERLINK("http://x","y")'
    feedback.add(cases_kb, True, formula, formula, record["answer"], "2026-11-26T09:00:00+00:00")
    exported = site.admin.get(f"/admin/api/feedback.csv?kb={cases_kb}").text
    assert "'=HYPERLINK" in exported and ',"=HYPERLINK' not in exported


def test_rename_delete_and_the_audit_log(site):
    admin = site.admin
    admin.post("/admin/api/kbs", json={"id": "temp", "title": "临时"})
    assert (
        admin.patch("/admin/api/kbs/temp", json={"title": "临时资料"}).json()["title"] == "临时资料"
    )
    bad = admin.post("/admin/api/kbs", json={"id": "../etc", "title": "x"})
    assert bad.status_code == 400 and "标识" in bad.json()["error"]["message"]
    assert admin.delete("/admin/api/kbs/default").status_code == 400
    assert admin.delete("/admin/api/kbs/temp").status_code == 200
    assert admin.get("/admin/api/kbs/temp/documents").status_code == 404
    audit = AuditLog(site.settings).read(last=1000)
    actions = {(a["who"], a["action"], a["target"], a["result"]) for a in audit}
    assert ("admin", "新建知识库", "temp", "ok") in actions
    assert ("admin", "删除知识库", "temp", "ok") in actions
    assert any(a["action"] == "上传文档" and a["result"] == "rejected" for a in audit)
    assert any(
        a["action"].startswith("上传文档 暖心驿站.docx") and a["result"] == "done" for a in audit
    )
    assert all({"time", "who", "action", "target", "result"} <= set(a) for a in audit)


def test_rebuild_indexes_documents_a_stopped_server_left_out(site, cases_kb):
    registry = site.library.registry
    documents_ = Documents(registry)
    upload = Upload(
        "新闻稿.txt", "txt", "宁德市总工会开展职工技能大赛，参赛职工达到1500人。".encode()
    )
    # As if the server stopped after recording an upload, before its index was written.
    documents_._write(registry.files_dir(cases_kb), upload)
    stored = StoredDocument(upload.sha256, upload.name, "txt", len(upload.data), "admin", "now")
    documents_._record(cases_kb, [*documents_.list(cases_kb), stored])
    listed = {d["name"]: d for d in documents(site.admin, cases_kb)["documents"]}
    assert listed["新闻稿.txt"]["indexed"] is False
    job = wait(site.admin, site.admin.post(f"/admin/api/kbs/{cases_kb}/rebuild").json())
    assert job["state"] == "done" and job["report"]["embedded"] >= 1
    assert documents(site.admin, cases_kb)["report"]["added"]
    assert "1500" in ask(site, cases_kb, "宁德的技能大赛有多少职工参赛？").json()["answer"]


def test_an_index_from_before_the_sentence_splitter_changed_is_rebuilt_from_the_page(site):
    """After an upgrade that splits sentences otherwise, a knowledge base's index
    is refused with what to do, and the page's rebuild embeds it again."""
    admin = site.admin
    assert admin.post("/admin/api/kbs", json={"id": "old", "title": "旧索引"}).status_code == 201
    job = wait(admin, upload(admin, "old", [("暖心驿站.docx", docx_bytes())]).json())
    assert job["state"] == "done", job
    index_dir = site.library.registry.index_dir("old")
    path = store.current_build(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["sentences"]  # as an index built before the splitter was recorded
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    site.library._open.pop("old", None)  # as after a restart
    refused = ask(site, "old", SANMING_Q)
    assert refused.status_code == 503
    # Named by its title, rebuilt on the page: no server path, no command.
    assert refused.json()["error"]["message"] == (
        "知识库“旧索引” 的句子向量是按旧的分句规则建的，程序已更新分句规则。"
        "请重新建索引：管理员可在管理页 /admin 中选中它，点“更新索引”"
    )
    job = wait(admin, admin.post("/admin/api/kbs/old/rebuild").json())
    assert job["state"] == "done", job
    assert job["report"]["embedded"] == job["report"]["chunks"] > 0
    assert "126" in ask(site, "old", SANMING_Q).json()["answer"]


@pytest.mark.slow
def test_the_admin_page_manages_a_knowledge_base_on_milvus(tmp_path):
    """The same admin routes with GHQA_BACKEND=milvus (Milvus Lite): upload,
    answer, replace, remove the last document; nothing in the index directory."""
    settings = staff_site_settings(tmp_path / "data", backend="milvus")
    with serve(settings) as server:
        admin = signed_in(server.url, "admin")
        created = admin.post(
            "/admin/api/kbs", json={"id": "m", "title": "M", "visibility": "public"}
        )
        assert created.status_code == 201, created.text
        job = wait(admin, upload(admin, "m", [("暖心驿站.docx", docx_bytes())]).json())
        assert job["state"] == "done", job
        assert "126" in ask(server, "m", SANMING_Q, admin).json()["answer"]
        (doc,) = documents(admin, "m")["documents"]
        assert doc["indexed"] and documents(admin, "m")["report"]["files"] == 1
        changed = [*SANMING[:2], "三明市总工会在全市建成暖心驿站300个。"]
        job = wait(
            admin,
            upload(
                admin, "m", [("暖心驿站.docx", docx_bytes(changed))], "PUT", f"/{doc['id']}"
            ).json(),
        )
        assert (
            job["state"] == "done" and "300" in ask(server, "m", SANMING_Q, admin).json()["answer"]
        )
        (doc,) = documents(admin, "m")["documents"]
        job = wait(admin, admin.delete(f"/admin/api/kbs/m/documents/{doc['id']}").json())
        assert job["state"] == "done"
        gone = ask(server, "m", SANMING_Q, admin)
        assert gone.status_code == 503 and "还没有文档" in gone.json()["error"]["message"]
        health = httpx.get(f"{server.url}/api/health").json()
        assert health["backend"] == {"kind": "milvus", "reachable": True}
    assert not store.current_build(settings.kb_root() / "m" / "index")
    assert (settings.data_dir / "milvus.db").is_dir()
