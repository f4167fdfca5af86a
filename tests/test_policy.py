"""Access holds on every route: the route-walking security suite.

The site serves the shipped corpus as a staff-only knowledge base (readers:
@staff). Every route the app serves — found by walking its routers, so a route
added later is covered without anyone listing it — is requested without
credentials, with a wrong key, with a revoked key, from a foreign origin and
with an oversized body, and must give the documented status without a byte of
the staff documents.
"""

import json

import httpx
import pytest

from kb.registry import Registry
from tests.site import make_keys, routes, serve, signed_in, staff_site_settings
from web.policy import PAGE_BODY_BYTES, Policy

ALLOWED = "http://intranet.example:8080"
# Text that appears only in the staff documents (and so in answers from them).
SECRETS = ("37885", "北京市总工会", "双沟通")
WRONG_KEY = "ghqa_0123456789ab_" + "x" * 43


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    settings = staff_site_settings(
        tmp_path_factory.mktemp("policy") / "data", allowed_origins=[ALLOWED]
    )
    keys = make_keys(settings)
    with serve(settings) as server:
        server.keys = keys
        server.settings = settings
        yield server


def every_route(site):
    return routes(site._server.config.app.app)


def request(site, method, path, headers=None, body=b"{}"):
    content = body if method in ("POST", "PUT", "PATCH", "DELETE") else None
    return httpx.request(
        method,
        f"{site.url}{path}",
        headers={"Content-Type": "application/json", **(headers or {})},
        content=content,
        timeout=30,
    )


def assert_no_secret(response):
    for secret in SECRETS:
        assert secret not in response.text, (response.request.url, secret)


def expected_without_access(route_class: str) -> set[int]:
    if route_class == "public":
        # health (empty list), widget.js, login page; login POST 401; logout link 303;
        # unknown asset 404
        return {200, 303, 401, 404, 405}
    return {401}


def test_the_walk_covers_every_part_of_the_site(site):
    paths = {path for _, path, _ in every_route(site)}
    for expected in (
        "/api/ask",
        "/api/health",
        "/widget.js",
        "/admin",
        "/admin/api/kbs/{kb_id}/documents",
        "/gradio_api/queue/join",
        "/gradio_api/call/{api_name}",
        "/gradio_api/upload",
        "/config",
        "/",
    ):
        assert expected in paths
    assert len(paths) > 80


@pytest.mark.parametrize(
    ("who", "headers"),
    [
        ("nobody", {}),
        ("wrong key", {"Authorization": f"Bearer {WRONG_KEY}"}),
        ("revoked key", None),  # filled in from the fixture
    ],
)
def test_every_route_refuses_callers_without_access(site, who, headers):
    if headers is None:
        headers = {"Authorization": f"Bearer {site.keys.revoked}"}
    failures = []
    for method, path, concrete in every_route(site):
        response = request(site, method, concrete, headers)
        route_class = Policy.route_class(concrete)
        allowed = expected_without_access(route_class)
        if response.status_code not in allowed:
            failures.append(f"{method} {path}: {response.status_code}")
        assert_no_secret(response)
        if response.status_code >= 400 and method != "HEAD":
            assert "error" in response.json(), (method, path)
    assert not failures, f"{who}: " + "; ".join(failures)


def test_every_route_refuses_a_foreign_origin(site):
    for method, path, concrete in every_route(site):
        response = request(site, method, concrete, {"Origin": "http://evil.example"})
        assert response.status_code == 403, (method, path, response.status_code)
        if method != "HEAD":
            assert response.json()["error"]["type"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers


def test_every_route_refuses_an_oversized_body(site):
    admin = signed_in(site.url, "admin")
    for method, path, concrete in every_route(site):
        limit = {
            "/api/": site.settings.max_request_bytes,
            "/admin/api/kbs/default/documents": site.settings.max_upload_request_bytes,
        }
        size = next((v for k, v in limit.items() if concrete.startswith(k)), PAGE_BODY_BYTES)
        if concrete.startswith("/admin/api/kbs/default/documents"):
            size = site.settings.max_upload_request_bytes
        response = admin.request(method, concrete, content=b"x" * (size + 1))
        assert response.status_code == 413, (method, path, response.status_code)
        if method != "HEAD":
            assert response.json()["error"]["type"] == "too_large"


def test_a_chunked_oversized_body_is_refused_while_it_arrives(site):
    alice = signed_in(site.url, "alice")
    body = ('{"question": "' + "问" * 20000 + '"}').encode()
    response = alice.post("/api/ask", content=iter([body[:1000], body[1000:]]))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "too_large"


def test_the_staff_knowledge_base_opens_to_staff_and_its_key(site):
    question = {"question": "北京的双沟通一共开了多少场职工沟通会？"}
    alice = signed_in(site.url, "alice")
    assert "37885" in alice.post("/api/ask", json=question).json()["answer"]
    keyed = httpx.post(
        f"{site.url}/api/ask", json=question, headers={"Authorization": f"Bearer {site.keys.live}"}
    )
    assert keyed.status_code == 200 and "37885" in keyed.json()["answer"]
    # Signed in, but not staff: nothing readable, on the API and on the page's queue.
    bob = signed_in(site.url, "bob")
    refused = bob.post("/api/ask", json=question)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "forbidden"
    assert bob.post("/gradio_api/call/respond", json={"data": []}).status_code == 403
    health = bob.get("/api/health").json()
    assert health["knowledge_bases"] == []
    assert_no_secret(bob.get("/api/health"))


def test_the_chat_page_sends_anonymous_visitors_to_sign_in(site):
    page = httpx.get(f"{site.url}/", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=/"
    assert signed_in(site.url, "alice").get("/", headers={"Accept": "text/html"}).status_code == 200


def test_the_gradio_queue_answers_staff_only(site):
    """The chat page's own API: what the issue found open to curl."""
    question = "北京的双沟通一共开了多少场职工沟通会？"
    anonymous = httpx.post(
        f"{site.url}/gradio_api/call/respond", json={"data": [question, [], "default"]}
    )
    assert anonymous.status_code == 401
    alice = signed_in(site.url, "alice")
    event = alice.post("/gradio_api/call/respond", json={"data": [question, [], "default"]})
    assert event.status_code == 200
    stream = alice.get(f"/gradio_api/call/respond/{event.json()['event_id']}")
    assert "37885" in stream.text


def test_admin_routes_need_an_admin_and_the_csrf_token(site):
    alice = signed_in(site.url, "alice")
    assert alice.get("/admin/api/kbs").status_code == 403
    admin = signed_in(site.url, "admin")
    assert admin.get("/admin/api/kbs").status_code == 200
    no_csrf = admin.post(
        "/admin/api/kbs", json={"id": "x1", "title": "X"}, headers={"X-CSRF-Token": ""}
    )
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["type"] == "csrf"
    # Allowed for the widget, but never for the admin routes.
    cross = admin.get("/admin/api/kbs", headers={"Origin": ALLOWED})
    assert cross.status_code == 403


def test_uncaught_errors_are_json_without_a_traceback(site, monkeypatch):
    def broken(_kb):
        raise RuntimeError("secret internals /srv/path")

    monkeypatch.setattr(site.library, "service", broken)
    response = signed_in(site.url, "alice").post("/api/ask", json={"question": "问"})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal_error"
    assert "Traceback" not in response.text and "/srv/path" not in response.text


def test_the_proxy_user_header_is_trusted_only_from_configured_proxies(tmp_path):
    settings = staff_site_settings(
        tmp_path / "data", trusted_proxies=["10.0.0.0/30"], admin_groups=["it"]
    )
    policy = Policy(settings, Registry(settings))
    staff = {"x-remote-user": "carol", "x-remote-groups": "staff, finance"}
    from_proxy = policy.identify(staff, "10.0.0.2")
    assert from_proxy.kind == "user" and from_proxy.name == "carol" and not from_proxy.admin
    assert [kb.id for kb in policy.readable(from_proxy)] == ["default"]
    assert policy.identify(staff, "10.0.0.9").kind == "anonymous"  # anyone can send a header
    assert policy.identify(staff, "127.0.0.1").kind == "anonymous"
    admin = policy.identify({"x-remote-user": "dave", "x-remote-groups": "it"}, "10.0.0.1")
    assert admin.admin
    # A local account's own groups count too.
    assert policy.identify({"x-remote-user": "alice"}, "10.0.0.1").groups == ("staff",)


def test_people_behind_a_trusted_proxy_are_told_apart_by_x_forwarded_for(tmp_path):
    """Behind nginx every request comes from nginx: the rate limit and the audit
    log must see the forwarded address, and only when a trusted proxy says it."""
    settings = staff_site_settings(tmp_path / "data", trusted_proxies=["10.0.0.0/30"])
    policy = Policy(settings, Registry(settings))

    def caller(forwarded: str, peer: str):
        return policy.identify({"x-forwarded-for": forwarded}, peer)

    assert caller("192.168.1.7", "10.0.0.2").id == "ip:192.168.1.7"
    assert caller("192.168.1.8", "10.0.0.2").id == "ip:192.168.1.8"
    # A client's own X-Forwarded-For is kept by the proxy in front: the nearest
    # address that is not a proxy is the one the proxy saw.
    assert caller("6.6.6.6, 192.168.1.7, 10.0.0.1", "10.0.0.2").id == "ip:192.168.1.7"
    assert caller("6.6.6.6", "192.168.1.9").id == "ip:192.168.1.9"  # not from a proxy
    staff = {"x-remote-user": "carol", "x-forwarded-for": "192.168.1.7"}
    assert policy.identify(staff, "10.0.0.2").name == "carol"  # trust is the proxy's
    # The proxy ends HTTPS: the page's own https:// Origin is not another site's.
    https = {"x-forwarded-proto": "https"}
    assert policy.scheme(https, "10.0.0.2", "http") == "https"
    assert policy.scheme(https, "192.168.1.9", "http") == "http"


def test_sessions_are_signed_and_end_with_the_account(tmp_path):
    settings = staff_site_settings(tmp_path / "data")
    policy = Policy(settings, Registry(settings))
    alice = policy.accounts.get("alice")
    cookie = policy.session_cookie(alice)
    assert policy.identify({"cookie": f"ghqa_session={cookie}"}, "1.2.3.4").name == "alice"
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert policy.identify({"cookie": f"ghqa_session={forged}"}, "1.2.3.4").kind == "anonymous"
    other_server = Policy(settings.model_copy(update={"secret_key": "another"}), Registry(settings))
    assert (
        other_server.identify({"cookie": f"ghqa_session={cookie}"}, "1.2.3.4").kind == "anonymous"
    )
    policy.accounts.delete("alice")
    assert policy.identify({"cookie": f"ghqa_session={cookie}"}, "1.2.3.4").kind == "anonymous"


def test_the_page_cannot_be_pointed_at_a_knowledge_base_the_visitor_may_not_read(tmp_path):
    """Anonymous visitors may use the page for a public knowledge base; naming the
    staff one in the page's own API call gets a refusal, not its passages."""
    settings = staff_site_settings(tmp_path / "data")
    Registry(settings).create("open", "公开资料", "public")
    with serve(settings) as server:
        question = "北京一共开了多少场职工沟通会？"
        url = f"{server.url}/gradio_api/call/respond"
        event = httpx.post(url, json={"data": [question, [], "default"]})
        assert event.status_code == 200  # the page is open: a public knowledge base exists
        raw = httpx.get(f"{url}/{event.json()['event_id']}", timeout=60).text
        shown = json.dumps(
            [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")],
            ensure_ascii=False,
        )
        assert "没有知识库 default，或您无权访问它" in shown
        assert_no_secret(httpx.Response(200, text=shown))
        health = httpx.get(f"{server.url}/api/health").json()
        assert [kb["id"] for kb in health["knowledge_bases"]] == ["open"]
