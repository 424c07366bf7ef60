"""End to end in a real headless Chromium (Playwright): log in, open a campaign, suspend it, see the audit entry.

Uses the system Chromium (``/usr/bin/chromium``, Debian package ``chromium``; ``.ci/run`` installs it);
Playwright's own browser download is never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.policy import Action, Status
from distillguard.policy import decisions as dec
from distillguard.store import Store
from web_world import CHROMIUM, CHROMIUM_ARGS, TOKEN, build_world, serving

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} absent (apt-get install chromium)")


def test_login_open_campaign_suspend_and_see_audit(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    results, store = build_world(tmp_path)
    problems: list[str] = []
    with serving(store, results) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(base + "/campaigns/C001")
        assert page.url.startswith(base + "/login")  # not logged in: sent to the form
        page.fill("#analyst", "dana")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/campaigns/C001")  # back where the analyst wanted to go
        page.wait_for_selector("#graph .main-svg")  # plotly drew the link graph (local plotly.js, CSP kept)
        page.locator("#campaign-actions input[name=note]").first.fill("hydra confirmed in review")
        page.click("button[data-op=suspend]")
        page.wait_for_load_state("load")
        audit = page.locator("table.audit").inner_text()
        assert "created" in audit and "suspend" in audit and "dana" in audit and "hydra confirmed in review" in audit
        assert "active" in page.locator("table", has_text="decision").first.inner_text()
        page.goto(base + "/accounts/acct_hydra_00")  # prompts with script-injection payloads
        assert "<script>alert('pwned')</script>" in page.locator("#exchanges").inner_text()  # shown as text
        browser.close()
    assert problems == []
    with Store.open(store, read_only=True) as st:
        live = dec.current_decisions(st)
    assert [(d.subject_id, d.action, d.status, d.actor) for d in live] == [
        ("C001", Action.suspend, Status.active, "dana")
    ]
