"""Dashboard authentication: every route but the login form refuses strangers; forms need the CSRF token."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from distillguard.errors import ConfigError
from distillguard.web import create_app, load_settings
from distillguard.web.taxii import COLLECTION_ID
from web_world import TOKEN, build_world, csrf_of, logged_in, settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_world(tmp_path_factory.mktemp("web_auth"))


def _concrete(path: str) -> str:
    return (
        path.replace("{cid}", COLLECTION_ID if "taxii" in path else "C001")
        .replace("{aid}", "acct_hydra_00")
        .replace("{oid}", "campaign--00000000-0000-4000-8000-000000000000")
    )


def test_every_route_refuses_without_authentication(world: tuple[Path, Path]) -> None:
    results, store = world
    app = create_app(settings(store, results))
    client = TestClient(app, follow_redirects=False)
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) >= 18
    checked = 0
    for route in routes:
        if route.path == "/login":
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            r = client.request(method, _concrete(route.path), headers={"Authorization": "Bearer wrong-token-value-xx"})
            page = method == "GET" and not route.path.startswith(("/api", "/static", "/taxii2"))
            if page:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), route.path
            else:
                assert r.status_code == 401, (method, route.path, r.status_code)
            assert "acct_hydra" not in r.text and "C001" not in r.text
            checked += 1
    assert checked >= 17


def test_login_needs_the_token_and_its_form(world: tuple[Path, Path]) -> None:
    _, store = world
    client = TestClient(create_app(settings(store)), follow_redirects=False)
    form = client.get("/login")
    assert form.status_code == 200 and "Content-Security-Policy" in form.headers
    token = csrf_of(form.text)
    wrong = client.post("/login", data={"csrf": token, "analyst": "alice", "token": "not-the-token-at-all"})
    assert wrong.status_code == 401 and "dg_session" not in wrong.cookies
    forged = TestClient(create_app(settings(store)), follow_redirects=False)
    r = forged.post("/login", data={"csrf": "made-up", "analyst": "alice", "token": TOKEN})
    assert r.status_code == 403
    bad_name = client.post("/login", data={"csrf": token, "analyst": "<b>x</b>", "token": TOKEN})
    assert bad_name.status_code == 400
    ok = client.post("/login", data={"csrf": token, "analyst": "alice", "token": TOKEN, "next": "//evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/").status_code == 200


def test_forms_need_the_csrf_token_and_same_origin(world: tuple[Path, Path]) -> None:
    _, store = world
    client = logged_in(store)
    page = client.get("/campaigns/C001")
    csrf = csrf_of(page.text)
    form = {"op": "suspend", "kind": "campaign", "subject": "C001", "back": "/"}
    assert client.post("/decide", data=form).status_code == 403
    tampered = ("y" if csrf[0] == "x" else "x") + csrf[1:]  # always differs from the real token
    assert tampered != csrf
    assert client.post("/decide", data={**form, "csrf": tampered}).status_code == 403
    r = client.post("/decide", data={**form, "csrf": csrf}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert (
        client.post(
            "/labels", data={"kind": "account", "subject": "acct_hydra_00", "label": "false_positive"}
        ).status_code
        == 403
    )
    # Nothing reached the audit trail.
    assert client.get("/api/decisions").json() == []
    other = logged_in(store, analyst="bob")
    assert other.post("/decide", data={**form, "csrf": csrf}).status_code == 403  # another session's token


def test_logout_revokes_the_session(world: tuple[Path, Path]) -> None:
    _, store = world
    client = logged_in(store)
    stolen = client.cookies.get("dg_session")
    assert client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}).status_code == 303
    again = TestClient(client.app, follow_redirects=False, cookies={"dg_session": stolen or ""})
    assert again.get("/").status_code == 303


def test_bearer_token_opens_api_and_taxii_but_not_pages(world: tuple[Path, Path]) -> None:
    results, store = world
    client = TestClient(create_app(settings(store, results)), follow_redirects=False)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/campaigns", headers=bearer).status_code == 200
    basic = {"Authorization": "Basic " + base64.b64encode(f"partner:{TOKEN}".encode()).decode()}
    assert client.get("/taxii2/", headers=basic).status_code == 200
    assert client.get("/", headers=bearer).status_code == 303


def test_settings_token_from_env_or_config(tmp_path: Path, world: tuple[Path, Path]) -> None:
    _, store = world
    cfg = tmp_path / "dash.toml"
    cfg.write_text('[dashboard]\ntoken_file = "tok"\n', encoding="utf-8")
    (tmp_path / "tok").write_text("file-token-0123456789\n", encoding="utf-8")
    assert load_settings(store, cfg, env={}).token == "file-token-0123456789"
    assert load_settings(store, cfg, env={"DISTILLGUARD_TOKEN": "env-token-0123456789"}).token == "env-token-0123456789"
    with pytest.raises(ConfigError, match="no dashboard token"):
        load_settings(store, None, env={})
    with pytest.raises(ConfigError, match="fewer than"):
        load_settings(store, None, env={"DISTILLGUARD_TOKEN": "short"})
    cfg.write_text('[dashboard]\ntokn = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown"):
        load_settings(store, cfg, env={"DISTILLGUARD_TOKEN": "env-token-0123456789"})
