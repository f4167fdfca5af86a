// The admin page: plain DOM, no framework, nothing from outside the server.
// Every text from the server goes in with textContent, never as HTML: file
// names and feedback are written by other people.
"use strict";

const state = { csrf: "", kbs: [], current: null, polling: null };
const $ = (id) => document.getElementById(id);
const VISIBILITY = { public: "公开", users: "登录用户", token: "凭密钥" };

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((cell) => {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell ?? "";
    tr.appendChild(td);
  });
  return tr;
}

async function call(method, url, body, isForm) {
  const headers = { "X-CSRF-Token": state.csrf };
  if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
  });
  if (response.status === 401) { location.href = "/admin/login?next=/admin"; throw new Error("请先登录"); }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ? data.error.message : "请求失败（" + response.status + "）");
  return data;
}

async function loadKbs(select) {
  const data = await call("GET", "/admin/api/kbs");
  state.kbs = data.knowledge_bases;
  const list = $("kb-list");
  list.replaceChildren();
  state.kbs.forEach((kb) => {
    const li = el("li", kb.title, { "data-kb": kb.id });
    li.appendChild(el("span", `${kb.id} · ${VISIBILITY[kb.visibility]} · ${kb.files} 个文档`, { class: "sub" }));
    if (state.current && kb.id === state.current.id) li.classList.add("active");
    li.addEventListener("click", () => choose(kb.id));
    list.appendChild(li);
  });
  const feedbackKb = $("feedback-kb");
  feedbackKb.replaceChildren(el("option", "全部知识库", { value: "" }));
  state.kbs.forEach((kb) => feedbackKb.appendChild(el("option", kb.title, { value: kb.id })));
  if (select) choose(select);
  else if (!state.current && state.kbs.length) choose(state.kbs[0].id);
}

function choose(id) {
  state.current = state.kbs.find((kb) => kb.id === id) || null;
  document.querySelectorAll("#kb-list li").forEach((li) => li.classList.toggle("active", li.dataset.kb === id));
  if (!state.current) return;
  const kb = state.current;
  $("kb-title").textContent = kb.title;
  $("kb-meta").textContent = `标识 ${kb.id} · ${VISIBILITY[kb.visibility]} · ${kb.files} 个文档，${kb.cases} 个案例，${kb.chunks} 个段落` + (kb.built ? ` · 索引于 ${kb.built}` : "");
  $("set-title").value = kb.title;
  $("set-visibility").value = kb.visibility;
  $("set-readers").value = kb.readers.join(", ");
  $("upload-area").classList.toggle("hidden", !kb.managed);
  $("managed-note").classList.toggle("hidden", kb.managed);
  $("delete-kb").disabled = !kb.managed;
  $("rebuild").classList.toggle("hidden", !kb.managed);
  $("new-key").classList.add("hidden");
  loadDocuments();
  loadKeys();
}

async function loadDocuments() {
  const kb = state.current;
  const data = await call("GET", `/admin/api/kbs/${encodeURIComponent(kb.id)}/documents`);
  const body = $("docs").querySelector("tbody");
  body.replaceChildren();
  data.documents.forEach((doc) => {
    const actions = el("span");
    if (kb.managed) {
      const replace = el("input", null, { type: "file", accept: ".txt,.md,.docx,.pdf,.html,.htm", class: "hidden" });
      const replaceButton = el("button", "替换");
      replaceButton.addEventListener("click", () => replace.click());
      replace.addEventListener("change", () => replace.files.length && send("PUT", `/documents/${doc.id}`, [replace.files[0]]));
      const remove = el("button", "删除", { class: "danger" });
      remove.addEventListener("click", () => {
        if (confirm(`删除文档“${doc.name}”？它的段落会从索引中移除。`)) send("DELETE", `/documents/${doc.id}`);
      });
      actions.append(replaceButton, " ", remove, replace);
    }
    const indexed = doc.indexed ? null : " （未进入索引）";
    body.appendChild(row([doc.name + (indexed || ""), doc.kind, doc.cases ?? "—", doc.chunks ?? "—",
      [doc.added_by, (doc.added || "").slice(0, 16).replace("T", " ")].filter(Boolean).join(" "), actions]));
  });
  if (!data.documents.length) body.appendChild(row(["还没有文档。", "", "", "", "", ""]));
  showReport(data.report, data.documents);
}

function showReport(report, documents) {
  const box = $("report");
  box.replaceChildren();
  if (!report) { box.textContent = "还没有建过索引。"; return; }
  const nameOf = (source) => {
    const stem = source.split("/").pop().split(".")[0];
    const doc = documents.find((d) => d.id === stem);
    return doc ? doc.name : source.split("/").pop();
  };
  box.appendChild(el("div", `文档 ${report.files} 个，案例 ${report.cases} 个，段落 ${report.chunks} 个；新增 ${report.added.length}，更新 ${report.changed.length}，删除 ${report.removed.length}；新嵌入 ${report.embedded} 段，复用 ${report.reused} 段；用时 ${report.seconds} 秒。`));
  report.skipped.forEach((s) => box.appendChild(el("div", `跳过 ${nameOf(s.source)}：${s.reason}`, { class: "error" })));
  report.repairs.forEach((r) => box.appendChild(el("div", `修复 ${nameOf(r.source)}（${r.profile}）：${r.what}`)));
}

async function send(method, suffix, files) {
  const kb = state.current;
  $("docs-error").textContent = "";
  let form;
  if (files) {
    form = new FormData();
    Array.from(files).forEach((file) => form.append("files", file, file.name));
  }
  try {
    const job = await call(method, `/admin/api/kbs/${encodeURIComponent(kb.id)}${suffix}`, form, true);
    follow(job);
  } catch (e) {
    $("docs-error").textContent = e.message;
  }
}

function follow(job) {
  $("job").classList.remove("hidden");
  const show = (j) => {
    $("job-bar").style.width = Math.round(j.progress * 100) + "%";
    const status = { queued: "排队中", running: "正在建索引", done: "完成", failed: "失败" }[j.state];
    const counts = j.to_embed ? `，已嵌入 ${j.embedded}/${j.to_embed} 段` : "";
    $("job-status").textContent = `${j.action}：${status}（${Math.round(j.progress * 100)}%${counts}）` + (j.message ? " " + j.message : "");
    $("job-status").className = j.state === "failed" ? "error" : j.state === "done" ? "ok" : "muted";
  };
  show(job);
  clearInterval(state.polling);
  state.polling = setInterval(async () => {
    try {
      const j = await call("GET", `/admin/api/jobs/${job.id}`);
      show(j);
      if (j.state === "done" || j.state === "failed") {
        clearInterval(state.polling);
        await loadKbs(state.current.id);
      }
    } catch (e) {
      clearInterval(state.polling);
      $("job-status").textContent = e.message;
    }
  }, 700);
}

async function loadKeys() {
  const kb = state.current;
  const data = await call("GET", `/admin/api/kbs/${encodeURIComponent(kb.id)}/keys`);
  const body = $("keys").querySelector("tbody");
  body.replaceChildren();
  data.keys.forEach((key) => {
    const revoke = el("button", "吊销", { class: "danger" });
    revoke.disabled = !!key.revoked;
    revoke.addEventListener("click", async () => {
      if (!confirm(`吊销密钥 ${key.id}？使用它的网页将立即无法提问。`)) return;
      await call("DELETE", `/admin/api/kbs/${encodeURIComponent(kb.id)}/keys/${key.id}`);
      loadKeys();
    });
    body.appendChild(row([key.id, key.origins.join(", ") || "任意（仅限服务器调用）", key.label,
      key.created.slice(0, 16).replace("T", " "), key.revoked ? "已吊销" : "有效", revoke]));
  });
}

async function loadFeedback() {
  const kb = $("feedback-kb").value;
  const query = kb ? `?kb=${encodeURIComponent(kb)}` : "";
  $("feedback-csv").href = `/admin/api/feedback.csv${query}`;
  const data = await call("GET", `/admin/api/feedback${query}`);
  const body = $("feedback").querySelector("tbody");
  body.replaceChildren();
  data.feedback.forEach((f) => {
    const answer = f.answer || {};
    const sources = (answer.citations || []).map((c) => `[${c.n}] ${c.organisation || ""} ${c.title || ""}`).join("；");
    body.appendChild(row([(f.time || "").slice(0, 16).replace("T", " "), f.kb, f.liked ? "👍" : "👎",
      f.question, answer.answer, sources]));
  });
  if (!data.feedback.length) body.appendChild(row(["还没有反馈。", "", "", "", "", ""]));
}

async function loadAudit() {
  const data = await call("GET", "/admin/api/audit");
  const body = $("audit").querySelector("tbody");
  body.replaceChildren();
  data.audit.forEach((a) => body.appendChild(row([a.time.replace("T", " ").slice(0, 19), a.who, a.action, a.target,
    a.result + (a.message ? "：" + a.message : "")])));
}

function wire() {
  document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => {
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b === button));
    ["docs", "settings", "keys", "feedback", "audit"].forEach((t) => $("tab-" + t).classList.toggle("hidden", t !== button.dataset.tab));
    if (button.dataset.tab === "feedback") loadFeedback();
    if (button.dataset.tab === "audit") loadAudit();
  }));
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => e.dataTransfer.files.length && send("POST", "/documents", e.dataTransfer.files));
  $("file-input").addEventListener("change", (e) => {
    if (e.target.files.length) send("POST", "/documents", e.target.files);
    e.target.value = "";
  });
  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("create-error").textContent = "";
    try {
      const kb = await call("POST", "/admin/api/kbs", {
        id: $("new-id").value.trim(), title: $("new-title").value, visibility: $("new-visibility").value,
      });
      e.target.reset();
      await loadKbs(kb.id);
    } catch (err) { $("create-error").textContent = err.message; }
  });
  $("settings-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const kb = await call("PATCH", `/admin/api/kbs/${encodeURIComponent(state.current.id)}`, {
        title: $("set-title").value, visibility: $("set-visibility").value, readers: $("set-readers").value,
      });
      $("settings-status").className = "ok";
      $("settings-status").textContent = "已保存。";
      await loadKbs(kb.id);
    } catch (err) { $("settings-status").className = "error"; $("settings-status").textContent = err.message; }
  });
  $("delete-kb").addEventListener("click", async () => {
    const kb = state.current;
    if (!confirm(`删除知识库“${kb.title}”？它的文档、索引、反馈和密钥都会删除，无法恢复。`)) return;
    try {
      await call("DELETE", `/admin/api/kbs/${encodeURIComponent(kb.id)}`);
      state.current = null;
      await loadKbs();
    } catch (err) { $("settings-status").className = "error"; $("settings-status").textContent = err.message; }
  });
  $("key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("key-error").textContent = "";
    try {
      const key = await call("POST", `/admin/api/kbs/${encodeURIComponent(state.current.id)}/keys`, {
        origins: $("key-origins").value, label: $("key-label").value,
      });
      const box = $("new-key");
      box.textContent = `新密钥（只显示这一次，请立即复制）：${key.token}`;
      box.classList.remove("hidden");
      e.target.reset();
      loadKeys();
    } catch (err) { $("key-error").textContent = err.message; }
  });
  $("feedback-kb").addEventListener("change", loadFeedback);
  $("rebuild").addEventListener("click", () => send("POST", "/rebuild"));
  $("logout").addEventListener("click", async () => {
    await call("POST", "/admin/logout");
    location.href = "/admin/login";
  });
}

(async function start() {
  const me = await call("GET", "/admin/api/me");
  state.csrf = me.csrf;
  $("who").textContent = `已登录：${me.name}`;
  wire();
  await loadKbs();
})();
