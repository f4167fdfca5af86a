"""The admin page and its JSON API, under /admin (admins only, same origin,
CSRF token on every change: all enforced by the guard before these run).

    GET  /admin                           the page (web/static/admin.html)
    GET  /admin/login  POST /admin/login  sign in (any account; admins get /admin)
    POST|GET /admin/logout                sign out (public: it only clears the cookie)
    GET  /admin/api/me                    who is signed in, and the CSRF token
    GET|POST /admin/api/kbs               knowledge bases; PATCH|DELETE /admin/api/kbs/{kb}
    GET|POST /admin/api/kbs/{kb}/documents            list; upload (multipart, several)
    PUT|DELETE /admin/api/kbs/{kb}/documents/{doc}    replace; delete
    POST /admin/api/kbs/{kb}/rebuild      bring the index in line with the documents
    GET  /admin/api/jobs/{job}            progress of an index update
    GET|POST /admin/api/kbs/{kb}/keys     widget keys; DELETE …/keys/{key} revokes
    GET  /admin/api/feedback[.csv]?kb=    👍/👎 with question, answer, sources (newest first)
    GET  /admin/api/audit                 the latest admin actions

Every change is appended to the audit log with who did it and how it ended.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from errors import GhqaError, InvalidInput
from index.collection import IndexedFile
from kb.documents import Documents, Upload, accept
from kb.library import Library
from kb.logs import AuditLog, Feedback
from web.jobs import Jobs
from web.policy import LOGIN_PATH, LOGOUT_PATH, SESSION_COOKIE, Caller, Policy

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "admin.js": "application/javascript",
    "admin.css": "text/css",
    "login.js": "application/javascript",
}
MAX_FILES = 20


def caller_of(request: Request) -> Caller:
    return request.state.caller


async def json_body(request: Request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        raise InvalidInput("请求体必须是 JSON 对象。") from None
    if not isinstance(data, dict):
        raise InvalidInput("请求体必须是 JSON 对象。")
    return data


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target:
        return ""
    return target


def create_admin(library: Library, policy: Policy, audit: AuditLog) -> APIRouter:
    router = APIRouter()
    registry = library.registry
    documents = Documents(registry)
    jobs = Jobs(audit)

    def logged(request: Request, action: str, target: str, result: str = "ok", **details) -> None:
        audit.add(caller_of(request).label, action, target, result, **details)

    @router.get("/admin")
    async def admin_page() -> Response:
        return FileResponse(STATIC / "admin.html", headers={"Cache-Control": "no-store"})

    @router.get("/admin/static/{name}")
    async def admin_asset(name: str) -> Response:
        if name not in ASSETS:  # a fixed list: the name never reaches the file system
            return JSONResponse({"error": {"type": "not_found", "message": "没有这个文件。"}}, 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    @router.get(LOGIN_PATH)
    async def login_page() -> Response:
        return FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})

    @router.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        data = await json_body(request)
        name, password = str(data.get("name", "")), str(data.get("password", ""))
        account = await run_in_threadpool(policy.accounts.verify, name, password)
        audit.add(
            name or "?", "登录", "", "ok" if account else "failed", client=caller_of(request).client
        )
        if account is None:
            return JSONResponse(
                {"error": {"type": "bad_credentials", "message": "用户名或密码错误。"}}, 401
            )
        target = safe_next(data.get("next")) or ("/admin" if account.admin else "/")
        response = JSONResponse({"next": target, "admin": account.admin})
        response.set_cookie(
            SESSION_COOKIE,
            policy.session_cookie(account),
            max_age=int(policy.settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post(LOGOUT_PATH)
    async def logout(request: Request) -> Response:
        response = JSONResponse({"next": LOGIN_PATH})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get(LOGOUT_PATH)
    async def logout_link(request: Request) -> Response:
        """The chat page's link (a page cannot POST from Markdown); signing out is
        harmless, so a link from elsewhere can do no more than that."""
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/admin/api/me")
    async def me(request: Request) -> Response:
        caller = caller_of(request)
        return JSONResponse(
            {"name": caller.label, "admin": caller.admin, "csrf": policy.csrf_token(caller)}
        )

    @router.get("/admin/api/kbs")
    async def list_kbs() -> Response:
        listed = []
        for kb in registry.all():
            try:
                built = library.manifest(kb.id).to_json()
            except GhqaError:
                built = {"files": 0, "cases": 0, "chunks": 0, "built": ""}
            listed.append({**kb.to_json(), **built})
        return JSONResponse({"knowledge_bases": listed})

    @router.post("/admin/api/kbs")
    async def create_kb(request: Request) -> Response:
        data = await json_body(request)
        kb = registry.create(
            str(data.get("id", "")),
            str(data.get("title", "")),
            str(data.get("visibility", "public")),
            _strings(data.get("readers", [])),
        )
        logged(request, "新建知识库", kb.id, title=kb.title, visibility=kb.visibility)
        return JSONResponse(kb.to_json(), status_code=201)

    @router.patch("/admin/api/kbs/{kb_id}")
    async def update_kb(kb_id: str, request: Request) -> Response:
        data = await json_body(request)
        readers = data.get("readers")
        kb = registry.update(
            kb_id,
            title=data.get("title"),
            visibility=data.get("visibility"),
            readers=_strings(readers) if readers is not None else None,
        )
        logged(
            request,
            "修改知识库",
            kb.id,
            title=kb.title,
            visibility=kb.visibility,
            readers=list(kb.readers),
        )
        return JSONResponse(kb.to_json())

    @router.delete("/admin/api/kbs/{kb_id}")
    async def delete_kb(kb_id: str, request: Request) -> Response:
        await run_in_threadpool(registry.delete, kb_id)
        library.forget(kb_id)
        logged(request, "删除知识库", kb_id)
        return JSONResponse({"deleted": kb_id})

    @router.get("/admin/api/kbs/{kb_id}/documents")
    async def list_documents(kb_id: str) -> Response:
        kb = registry.get(kb_id)
        try:
            built = library.manifest(kb_id).files
        except GhqaError:
            built = ()
        indexed = {Path(f.source).name.split(".")[0]: f for f in built}
        if kb.managed:
            listed = [
                {**d.to_json(), **_counts(indexed.get(d.sha256))} for d in documents.list(kb_id)
            ]
        else:  # the default knowledge base: what `python -m ingest` mirrored
            listed = [
                {
                    "id": "",
                    "name": f.name,
                    "kind": Path(f.source).suffix.lstrip("."),
                    "size": None,
                    "added_by": "python -m ingest",
                    "added": "",
                    **_counts(f),
                }
                for f in built
            ]
        report = library.storage(kb_id).read_report()
        return JSONResponse({"kb": kb.to_json(), "documents": listed, "report": report})

    async def read_uploads(request: Request) -> list[Upload]:
        settings = policy.settings
        form = await request.form(max_files=MAX_FILES, max_fields=10)
        files = [v for v in form.getlist("files") if isinstance(v, UploadFile)]
        if not files:
            raise InvalidInput("没有收到文件：请选择或拖入 .txt/.md/.docx/.pdf/.html 文件。")
        received = [
            (item.filename or "", await item.read(settings.max_upload_bytes + 1)) for item in files
        ]
        uploads, problems = await run_in_threadpool(
            accept, received, settings.max_upload_bytes, settings.parse_timeout
        )
        if problems:  # all or nothing: one bad file and the knowledge base stays as it was
            raise InvalidInput("；".join(problems))
        names = [u.name for u in uploads]
        if len(set(names)) != len(names):
            raise InvalidInput("同一次上传中有重名文件，请改名后再传。")
        return uploads

    def start(request: Request, kb_id: str, action: str, add=(), remove=()) -> Response:
        who = caller_of(request).label
        names = [u.name for u in add]

        def work(report):
            return documents.change(
                kb_id,
                add=list(add),
                remove=list(remove),
                by=who,
                embedder=library.embedder(),
                report=report,
            )

        job = jobs.submit(kb_id, f"{action} {'、'.join(names or remove)}".strip(), who, work)
        return JSONResponse(job.to_json(), status_code=202)

    @router.post("/admin/api/kbs/{kb_id}/documents")
    async def upload(kb_id: str, request: Request) -> Response:
        _managed(registry, kb_id)
        try:
            uploads = await read_uploads(request)
        except InvalidInput as exc:
            logged(request, "上传文档", kb_id, "rejected", message=str(exc))
            raise
        return start(request, kb_id, "上传文档", add=uploads)

    @router.put("/admin/api/kbs/{kb_id}/documents/{doc_id}")
    async def replace(kb_id: str, doc_id: str, request: Request) -> Response:
        _managed(registry, kb_id)
        uploads = await read_uploads(request)
        if len(uploads) != 1:
            raise InvalidInput("替换时请只上传一个文件。")
        return start(request, kb_id, "替换文档", add=uploads, remove=[doc_id])

    @router.delete("/admin/api/kbs/{kb_id}/documents/{doc_id}")
    async def remove(kb_id: str, doc_id: str, request: Request) -> Response:
        _managed(registry, kb_id)
        return start(request, kb_id, "删除文档", remove=[doc_id])

    @router.post("/admin/api/kbs/{kb_id}/rebuild")
    async def rebuild(kb_id: str, request: Request) -> Response:
        _managed(registry, kb_id)

        def work(report):
            return documents.rebuild(kb_id, library.embedder(), report)

        job = jobs.submit(kb_id, "更新索引", caller_of(request).label, work)
        return JSONResponse(job.to_json(), status_code=202)

    @router.get("/admin/api/jobs/{job_id}")
    async def job_status(job_id: str) -> Response:
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse({"error": {"type": "not_found", "message": "没有这个任务。"}}, 404)
        return JSONResponse(job.to_json())

    @router.get("/admin/api/kbs/{kb_id}/keys")
    async def list_keys(kb_id: str) -> Response:
        registry.get(kb_id)
        return JSONResponse({"keys": [k.to_json() for k in policy.keys.for_kb(kb_id)]})

    @router.post("/admin/api/kbs/{kb_id}/keys")
    async def create_key(kb_id: str, request: Request) -> Response:
        registry.get(kb_id)
        data = await json_body(request)
        key, token = policy.keys.create(
            kb_id, _strings(data.get("origins", [])), str(data.get("label", ""))
        )
        logged(request, "新建密钥", kb_id, key=key.id, origins=list(key.origins))
        return JSONResponse({**key.to_json(), "token": token}, status_code=201)

    @router.delete("/admin/api/kbs/{kb_id}/keys/{key_id}")
    async def revoke_key(kb_id: str, key_id: str, request: Request) -> Response:
        if all(k.id != key_id for k in policy.keys.for_kb(kb_id)):
            raise InvalidInput(f"知识库 {kb_id} 没有编号为 {key_id} 的密钥。")
        key = policy.keys.revoke(key_id)
        logged(request, "吊销密钥", kb_id, key=key.id)
        return JSONResponse(key.to_json())

    feedback_store = Feedback(library.settings)

    def feedback(kb_filter: str | None) -> list[dict]:
        if kb_filter:
            registry.get(kb_filter)  # an unknown knowledge base is a 404, not an empty list
        return feedback_store.read(kb_filter)

    @router.get("/admin/api/feedback")
    async def list_feedback(kb: str | None = None) -> Response:
        return JSONResponse({"feedback": feedback(kb)})

    @router.get("/admin/api/feedback.csv")
    async def export_feedback(kb: str | None = None) -> Response:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["时间", "知识库", "评价", "问题", "回答", "出处"])
        for r in feedback(kb):
            answer = r.get("answer") or {}
            sources = "；".join(
                f"[{c.get('n')}] {c.get('organisation', '')} {c.get('title', '')}《{c.get('document', '')}》"
                for c in answer.get("citations", [])
            )
            writer.writerow(
                cell_text(v)
                for v in [
                    r.get("time", ""),
                    r["kb"],
                    "👍" if r.get("liked") else "👎",
                    r.get("question", ""),
                    answer.get("answer", ""),
                    sources,
                ]
            )
        name = f"feedback-{kb or 'all'}.csv"
        return Response(
            "\ufeff" + out.getvalue(),  # the BOM makes Excel read UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/admin/api/audit")
    async def audit_log() -> Response:
        return JSONResponse({"audit": audit.read(last=100)})

    return router


def _managed(registry, kb_id: str) -> None:
    if not registry.get(kb_id).managed:
        raise InvalidInput("默认知识库由服务器上的 python -m ingest 维护；请新建知识库后上传文档。")


def _counts(indexed: IndexedFile | None) -> dict:
    if indexed is None:
        return {"cases": None, "chunks": None, "indexed": False}
    return {"cases": indexed.cases, "chunks": indexed.chunks, "indexed": True}


def cell_text(value: object) -> str:
    """A CSV cell Excel will not run: text that starts like a formula (=, +, -, @)
    is prefixed with an apostrophe (questions are typed by anyone)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("列表字段必须是字符串数组，或用逗号分隔的文字。")
    return value
