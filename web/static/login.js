// Sign in, then go where the visitor was headed (a path on this site only).
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const next = new URLSearchParams(location.search).get("next") || "";
  try {
    const response = await fetch("/admin/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        name: document.getElementById("name").value,
        password: document.getElementById("password").value,
        next: next,
      }),
    });
    const body = await response.json();
    if (!response.ok) {
      error.textContent = body.error ? body.error.message : "登录失败。";
      return;
    }
    location.href = body.next;
  } catch (e) {
    error.textContent = "无法连接服务器，请稍后再试。";
  }
});
