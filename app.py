"""`python app.py`: the chat page (Gradio), in Chinese, and the whole site.

`create_app(library, policy)` builds the page around the Library (every
knowledge base's AnswerService, one shared model); `create_server` puts the
API, the admin page and the chat page behind the guard; `main()` launches it.
Every text from a user or a passage is escaped before it reaches the page, so
HTML in a question or in the corpus shows as text.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import click
import gradio as gr
from fastapi import Request
from fastapi.responses import JSONResponse

from answer.records import Answer
from answer.service import EMPTY_PROMPT, AnswerService
from errors import (
    BackendUnavailable,
    EmptyQuestion,
    GhqaError,
    IndexBusy,
    IndexNotFound,
    KbNotFound,
    ManifestMismatch,
    exit_on_error,
)
from ingest.profile import load_profiles
from kb.library import Library
from kb.logs import AuditLog, Feedback
from kb.registry import DEFAULT_KB
from settings import Settings, load_settings
from web.admin import create_admin
from web.api import create_api
from web.guard import Guard
from web.policy import Caller, Denied, Policy, error_json

TITLE = "工会案例问答"
SHOWN_QUESTION_CHARS = 300
CSS = """
footer { display: none !important; }
.sources mark { background: #fff1a8; padding: 0 1px; }
.source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
.source-head { font-weight: 600; margin-bottom: 4px; }
.source-doc { color: #6b7280; font-size: 0.85em; }
.source-text { white-space: pre-wrap; line-height: 1.6; }
"""


def example_questions(service: AnswerService, settings: Settings) -> list[str]:
    """Questions about cases that are in the index: those a corpus profile
    curates for its documents, else one per case title."""
    organisations = {
        c.organisation: c.title for c in service.searcher.collection.chunks() if c.organisation
    }
    curated = [
        q
        for profile in load_profiles(settings.profile_dir)
        for org, q in profile.examples
        if org in organisations
    ]
    generated = [f"{org}的“{title}”取得了哪些成效？" for org, title in organisations.items()]
    return (curated or generated)[:4]


def escape(text: str) -> str:
    """Show text literally in the Markdown chat: HTML and Markdown links inert."""
    return html.escape(text).replace("[", "&#91;").replace("]", "&#93;")


def shown_question(question: str) -> str:
    if len(question) <= SHOWN_QUESTION_CHARS:
        return escape(question)
    return escape(question[:SHOWN_QUESTION_CHARS]) + f"……（共 {len(question)} 字）"


def render_answer(answer: Answer) -> str:
    """The short answer in bold on its own line, then the supporting sentences;
    for a question that asks two things, that under each part's question."""
    if answer.parts:
        parts = ["\n\n".join(f"问：{escape(p.question)}\n\n{_body(p)}" for p in answer.parts)]
    else:
        parts = [_body(answer)]
    parts += [f"\n\n> {escape(note)}" for note in answer.notes]
    if answer.refused and answer.related:
        parts.append("\n\n右侧列出了最接近的段落，仅供参考。")
    return "".join(parts)


def _body(answer: Answer) -> str:
    short = f"**{escape(answer.short_answer)}**\n\n" if answer.short_answer else ""
    return short + escape(answer.text).replace("&#91;", "[").replace("&#93;", "]")


def render_sources(answer: Answer | None) -> str:
    if answer is None:
        return "<div class='sources'><p>提问后，这里显示回答所引用的原文段落。</p></div>"
    if answer.citations:
        cards = [_card(f"[{c.n}]", c.hit, c.quotes) for c in answer.citations]
        heading = "引用来源"
    else:
        cards = [_card("·", hit, ()) for hit in answer.related]
        heading = "最接近的段落（资料中没有找到答案）" if answer.refused else "相关段落"
    return f"<div class='sources'><h3>{heading}</h3>{''.join(cards)}</div>"


def _card(label: str, hit, quotes: tuple[str, ...]) -> str:
    chunk = hit.chunk
    text = html.escape(chunk.text)
    for quote in quotes:
        text = text.replace(html.escape(quote), f"<mark>{html.escape(quote)}</mark>")
    head = html.escape(" · ".join(p for p in (chunk.organisation, chunk.title) if p))
    return (
        f"<div class='source'><div class='source-head'>{label} {head}</div>"
        f"<div class='source-doc'>《{html.escape(chunk.document)}》</div>"
        f"<div class='source-text'>{text}</div></div>"
    )


def caller_in(request: gr.Request, policy: Policy) -> Caller:
    """Who sent a page event: the same decision the guard made for the request."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    return policy.identify(headers, request.client.host if request.client else "unknown")


# Why a knowledge base cannot answer now: said to the user, never a traceback.
UNAVAILABLE = (IndexNotFound, ManifestMismatch, BackendUnavailable)


def create_app(library: Library, policy: Policy) -> gr.Blocks:
    feedback = Feedback(library.settings)

    def respond(message: str, history: list, turns: list, kb_id: str, request: gr.Request):
        history = list(history or [])
        if not (message or "").strip():
            history.append({"role": "assistant", "content": EMPTY_PROMPT})
            yield history, render_sources(None), "", turns
            return
        history.append({"role": "user", "content": shown_question(message)})
        history.append({"role": "assistant", "content": "正在检索资料……"})
        yield history, render_sources(None), "", turns
        try:
            kb = policy.knowledge_base(caller_in(request, policy), kb_id or None)
            service = library.service(kb.id)
        except (Denied, *UNAVAILABLE) as exc:
            text = exc.message if isinstance(exc, Denied) else str(exc)
            history[-1] = {"role": "assistant", "content": escape(text)}
            yield history, render_sources(None), "", turns
            return
        previous = [t["searched"] for t in turns if t.get("kb") == kb.id]
        try:
            for event in service.stream(message, previous):
                if isinstance(event, str):
                    history[-1] = {"role": "assistant", "content": escape(event)}
                    yield history, render_sources(None), "", turns
                    continue
                history[-1] = {"role": "assistant", "content": render_answer(event)}
                turns = [
                    *turns,
                    {
                        "message": len(history) - 1,  # which chat message 👍/👎 refers to
                        "kb": kb.id,
                        "question": message,
                        "searched": event.question,
                        "answer": event.to_json(),
                    },
                ]
                yield history, render_sources(event), "", turns
        except EmptyQuestion:
            history[-1] = {"role": "assistant", "content": EMPTY_PROMPT}
            yield history, render_sources(None), "", turns

    def on_like(data: gr.LikeData, turns: list):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = next((t for t in turns if t["message"] == index), None)
        if turn is None:
            return
        liked = data.liked if isinstance(data.liked, bool) else data.liked == "Like"
        feedback.add(turn["kb"], liked, turn["question"], turn["searched"], turn["answer"])
        gr.Info("感谢反馈！")

    def visitor(request: gr.Request):
        """Who is signed in (or a link to sign in), and the knowledge bases this
        visitor may read: the selector is hidden when that is one."""
        caller = caller_in(request, policy)
        choices = [(kb.title, kb.id) for kb in policy.readable(caller)]
        selector = gr.update(
            choices=choices, value=choices[0][1] if choices else None, visible=len(choices) > 1
        )
        if caller.kind == "user":
            admin = " · [管理后台](/admin)" if caller.admin else ""
            who = f"已登录：{escape(caller.name)}{admin} · [退出登录](/admin/logout)"
        else:
            who = "[登录](/admin/login?next=/)后可查看内部知识库。"
        # Said on every page load, so a backend that comes back clears it.
        problem = library.problem(choices[0][1]) if choices else ""
        status = f"⚠️ 暂时无法回答：{escape(problem)}" if problem else ""
        return selector, who, gr.update(value=status, visible=bool(problem))

    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_height=True) as demo:
        turns = gr.State([])
        gr.Markdown(
            f"# {TITLE}\n根据工会创新案例资料回答问题，并给出原文出处。资料中没有的内容会如实说明。"
        )
        who = gr.Markdown("", elem_id="who")
        status = gr.Markdown("", elem_id="status", visible=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                kb_choice = gr.Dropdown(
                    choices=[],
                    label="知识库",
                    elem_id="kb",
                    visible=False,
                    allow_custom_value=True,  # the policy, not the page, decides what is valid
                    interactive=True,
                )
                chatbot = gr.Chatbot(
                    label="对话",
                    height=520,
                    elem_id="chat",
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy", "copy_all"],
                    allow_tags=False,
                    placeholder="您好！请输入关于工会创新案例的问题，回答会注明出处。",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="请输入问题，按回车发送",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                        max_length=20000,
                        lines=1,
                    )
                    send = gr.Button("发送", variant="primary", scale=1, elem_id="send")
                clear = gr.Button("清空对话", elem_id="clear")
                title, examples = public_examples(library)
                if examples:
                    gr.Examples(examples, inputs=box, label=f"示例问题（{title}）")
            with gr.Column(scale=2):
                sources = gr.HTML(render_sources(None), elem_id="sources")
        outputs = [chatbot, sources, box, turns]
        box.submit(respond, [box, chatbot, turns, kb_choice], outputs)
        send.click(respond, [box, chatbot, turns, kb_choice], outputs)
        clear.click(lambda: ([], render_sources(None), "", []), None, outputs, queue=False)
        chatbot.like(on_like, [turns], None)
        chatbot.clear(lambda: (render_sources(None), []), None, [sources, turns])
        kb_choice.change(lambda: ([], render_sources(None), []), None, [chatbot, sources, turns])
        demo.load(visitor, None, [kb_choice, who, status])
    demo.queue(default_concurrency_limit=library.settings.concurrency)
    return demo


def public_examples(library: Library) -> tuple[str, list[str]]:
    """Example questions from the first public knowledge base that answers:
    the page's configuration is the same for every visitor, so it must not
    show anything from a restricted one."""
    for kb in library.registry.all():
        if kb.visibility != "public" or library.settings.api_token:
            continue
        try:
            return kb.title, example_questions(library.service(kb.id), library.settings)
        except UNAVAILABLE:
            continue
    return "", []


ERRORS = {
    KbNotFound: (404, "kb_not_found"),
    IndexBusy: (409, "busy"),
    BackendUnavailable: (503, "backend_unavailable"),
}


def create_server(library: Library, policy: Policy | None = None):
    """The whole site: API, widget and admin page, the chat page mounted at /,
    the guard in front. Fonts are the system's (Gradio's default theme would
    load web fonts), so the page needs nothing from outside the intranet."""
    policy = policy or Policy(library.settings, library.registry)
    theme = gr.themes.Soft(
        font=["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
    api = create_api(library, policy)
    audit = AuditLog(library.settings)
    admin = create_admin(library, policy, audit)
    api.include_router(admin)

    @api.exception_handler(GhqaError)
    async def domain_error(_request: Request, exc: GhqaError) -> JSONResponse:
        status, kind = next(
            (v for t, v in ERRORS.items() if isinstance(exc, t)), (400, "bad_request")
        )
        return JSONResponse(error_json(kind, str(exc)), status_code=status)

    @api.exception_handler(Denied)
    async def denied(_request: Request, exc: Denied) -> JSONResponse:
        return JSONResponse(error_json(exc.kind, exc.message), status_code=exc.status)

    page = create_app(library, policy)
    site = gr.mount_gradio_app(
        api, page, path="/", ssr_mode=False, show_error=False, theme=theme, css=CSS, footer_links=[]
    )
    return Guard(site, policy)


@click.command(help="启动工会案例问答网页、管理后台、HTTP API 和嵌入式小部件。")
@click.option("--host", help="监听地址（默认 127.0.0.1）")
@click.option("--port", type=int, help="端口（默认 7860）")
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="默认知识库的索引目录（默认 data/index）"
)
@exit_on_error
def main(host: str | None, port: int | None, index_dir: Path | None) -> None:
    import uvicorn

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(host=host, port=port, index_dir=index_dir)
    library = Library.open(settings)
    moved = Feedback(settings).import_jsonl(settings.legacy_feedback_path(), DEFAULT_KB)
    if moved:
        click.echo(
            f"已把 {moved} 条反馈从 {settings.legacy_feedback_path()} 移入数据库。", err=True
        )
    # Load the default knowledge base (and the model) now, not on the first question;
    # without an index the server still starts and the page says what to run.
    problem = library.problem(DEFAULT_KB)
    if problem:
        click.echo(f"警告：{problem}", err=True)
    click.echo(f"工会案例问答已启动：http://{settings.host}:{settings.port}", err=True)
    uvicorn.run(
        create_server(library),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # The policy reads X-Forwarded-For itself, from trusted proxies only.
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
