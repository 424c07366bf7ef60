"""The analyst world (tests/analyst_world.py) plus what the dashboard reads beyond it.

The real linking stage writes ``link_incidence`` over the world's store, and a dashboard client that
logs in the way a browser does (fetch the form, post it with its CSRF token) is provided.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from analyst_world import build_results
from distillguard.linking import LinkConfig, link_accounts
from distillguard.store import Store
from distillguard.web import create_app
from distillguard.web.config import WebSettings

TOKEN = "test-token-0123456789abcdef"
SALT = b"sharing-group-salt-for-tests-0001"


def build_world(root: Path) -> tuple[Path, Path]:
    results, store_path = build_results(root)
    with Store.open(store_path) as store:
        ids = store.connection.sql("SELECT DISTINCT account_id FROM exchanges ORDER BY 1").to_arrow_table()
        link = link_accounts(store.connection, ids["account_id"], LinkConfig())
        store.write_table("link_incidence", link.incidence)
    return results, store_path


def settings(store: Path, results: Path | None = None, **kw: object) -> WebSettings:
    return WebSettings(store=store, token=TOKEN, results=results, salt=SALT, **kw)  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def logged_in(store: Path, results: Path | None = None, analyst: str = "alice") -> TestClient:
    client = TestClient(create_app(settings(store, results)), follow_redirects=False)
    form = client.get("/login")
    r = client.post("/login", data={"csrf": csrf_of(form.text), "analyst": analyst, "token": TOKEN, "next": "/"})
    assert r.status_code == 303, r.text
    return client
