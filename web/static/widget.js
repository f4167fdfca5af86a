/* 工会案例问答 widget. Embed with one line:
 *   <script src="http://HOST:PORT/widget.js" data-title="工会问答" data-position="right"
 *           data-color="#c00" defer></script>
 * Optional: data-kb="..." the knowledge base to answer from (default: the first the
 * caller may read); data-token="..." a widget key for it (made on the admin page).
 * Everything lives in a Shadow DOM, so the host page's CSS cannot reach it and
 * its CSS cannot reach the page. Answers and passages are inserted as text,
 * never as HTML. Nothing is loaded from anywhere but the server named in src.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ghqaWidgetLoaded) return;
  window.__ghqaWidgetLoaded = true;

  var base = new URL(script.src, document.baseURI).origin;
  var title = script.getAttribute("data-title") || "工会问答";
  var position = script.getAttribute("data-position") === "left" ? "left" : "right";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(script.getAttribute("data-color") || "")
    ? script.getAttribute("data-color") : "#c00";
  var token = script.getAttribute("data-token");
  var kb = script.getAttribute("data-kb");
  var history = [];

  // A custom element, not a <div>: the host page's "div { ... }" rules cannot touch it.
  var host = document.createElement("ghqa-widget");
  host.setAttribute("data-ghqa-widget", "");
  var root = host.attachShadow({ mode: "open" });

  var style = document.createElement("style");
  style.textContent = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif; }",
    ".launcher { position: fixed; bottom: 20px; " + position + ": 20px; z-index: 2147483646;",
    "  background: var(--c); color: #fff; border: none; border-radius: 24px; padding: 12px 18px;",
    "  font-size: 16px; cursor: pointer; box-shadow: 0 2px 10px rgba(0,0,0,.25); }",
    ".launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #222; outline-offset: 2px; }",
    ".panel { position: fixed; bottom: 80px; " + position + ": 20px; z-index: 2147483647; width: 380px;",
    "  max-width: calc(100vw - 24px); height: 520px; max-height: calc(100vh - 100px); background: #fff;",
    "  color: #1f2937; border-radius: 12px; box-shadow: 0 6px 30px rgba(0,0,0,.3); display: flex;",
    "  flex-direction: column; overflow: hidden; font-size: 14px; line-height: 1.6; }",
    ".panel[hidden] { display: none; }",
    ".head { background: var(--c); color: #fff; padding: 10px 14px; display: flex; align-items: center; justify-content: space-between; }",
    ".head h2 { font-size: 16px; margin: 0; font-weight: 600; }",
    ".close { background: transparent; color: #fff; border: none; font-size: 20px; cursor: pointer; line-height: 1; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; background: #f9fafb; }",
    ".msg { margin: 0 0 10px; padding: 8px 10px; border-radius: 8px; white-space: pre-wrap; word-break: break-word; }",
    ".user { background: #e0e7ff; margin-left: 40px; }",
    ".bot { background: #fff; border: 1px solid #e5e7eb; margin-right: 20px; }",
    ".note { color: #6b7280; font-size: 12px; margin-top: 4px; }",
    ".short { display: block; font-size: 16px; color: #111; margin-bottom: 4px; }",
    ".part { margin: 8px 0 2px; color: #555; font-size: 13px; }",
    ".error { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; }",
    ".cites { margin-top: 6px; padding-left: 0; list-style: none; }",
    ".cite { font-size: 12px; color: #374151; border-top: 1px dashed #e5e7eb; padding-top: 4px; margin-top: 4px; }",
    ".cite b { color: var(--c); }",
    ".form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e5e7eb; background: #fff; }",
    "textarea { flex: 1; resize: none; height: 44px; padding: 8px; border: 1px solid #d1d5db; border-radius: 8px; font-size: 14px; color: #111; background: #fff; }",
    ".send { background: var(--c); color: #fff; border: none; border-radius: 8px; padding: 0 14px; font-size: 14px; cursor: pointer; }",
    ".send[disabled] { opacity: .6; cursor: wait; }",
    "@media (max-width: 480px) { .panel { " + position + ": 0; bottom: 0; width: 100vw; max-width: 100vw;",
    "  height: 100vh; max-height: 100vh; border-radius: 0; } }",
  ].join("\n");
  root.appendChild(style);
  host.style.setProperty("--c", color);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var launcher = el("button", "launcher", "问答");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  var panel = el("div", "panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = el("div", "head");
  head.appendChild(el("h2", "", title));
  var close = el("button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "关闭");
  head.appendChild(close);
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  log.appendChild(el("div", "msg bot", "您好！请输入关于工会创新案例的问题，回答会注明出处。"));
  var form = el("form", "form");
  var input = el("textarea");
  input.setAttribute("aria-label", "问题");
  input.placeholder = "请输入问题，回车发送";
  input.maxLength = 2000;
  var send = el("button", "send", "发送");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(panel);

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) input.focus(); else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  var MESSAGES = {
    400: "问题有误，请换一种问法。", 401: "未授权：访问密钥缺失、错误或已吊销，请联系管理员。",
    403: "本网站未被允许使用问答服务，请联系管理员。", 413: "问题太长，请精简后再问。",
    404: "没有找到这个知识库，或本网站无权访问它。",
    429: "提问太频繁，请稍后再试。", 503: "问答服务暂不可用，请稍后再试。"
  };

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function showAnswer(data) {
    var box = el("div", "msg bot");
    // A question that asks two things comes back in parts, each under its own question.
    var parts = data.parts && data.parts.length ? data.parts : [data];
    parts.forEach(function (part) {
      if (part !== data) box.appendChild(el("div", "part", "问：" + part.question));
      if (part.short_answer) box.appendChild(el("strong", "short", part.short_answer));
      box.appendChild(document.createTextNode(part.answer));
    });
    (data.notes || []).forEach(function (note) { box.appendChild(el("div", "note", note)); });
    if (data.citations && data.citations.length) {
      var list = el("ul", "cites");
      data.citations.forEach(function (c) {
        var item = el("li", "cite");
        item.appendChild(el("b", "", "[" + c.n + "] "));
        item.appendChild(document.createTextNode(
          [c.organisation, c.title].filter(Boolean).join(" · ") + "《" + c.document + "》"));
        item.appendChild(el("div", "", c.text.length > 160 ? c.text.slice(0, 160) + "……" : c.text));
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    log.appendChild(box);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var question = input.value.trim();
    if (!question) { input.focus(); return; }
    log.appendChild(el("div", "msg user", question));
    var waiting = el("div", "msg bot", "正在检索资料……");
    log.appendChild(waiting);
    scrollDown();
    input.value = "";
    send.disabled = true;
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    fetch(base + "/api/ask", {
      method: "POST", headers: headers, credentials: "omit",
      body: JSON.stringify(kb ? { question: question, kb: kb, history: history.slice(-4) }
                              : { question: question, history: history.slice(-4) })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        log.removeChild(waiting);
        if (!response.ok) {
          var message = MESSAGES[response.status] || "出错了，请稍后再试。";
          var wait = response.headers.get("Retry-After");
          if (response.status === 429 && wait) message = "提问太频繁，请 " + wait + " 秒后再试。";
          log.appendChild(el("div", "msg error", message));
          return;
        }
        history.push(data.question || question);
        showAnswer(data);
      });
    }).catch(function () {
      if (waiting.parentNode) log.removeChild(waiting);
      log.appendChild(el("div", "msg error", "无法使用问答服务：网络不通，或本网站未被允许使用（请联系管理员）。"));
    }).finally(function () {
      send.disabled = false;
      scrollDown();
      input.focus();
    });
  });

  document.body.appendChild(host);
})();
