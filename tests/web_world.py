"""The analyst world (tests/analyst_world.py) plus what the dashboard reads beyond it.

The real linking stage writes ``link_incidence`` over the world's store, and a dashboard client that
logs in the way a browser does (fetch the form, post it with its CSRF token) is provided.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
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


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]  # fmt: skip


@contextlib.contextmanager
def serving(store: Path, results: Path | None = None) -> Iterator[str]:
    """The dashboard over real HTTP on a free local port, in a thread; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings(store, results)), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
