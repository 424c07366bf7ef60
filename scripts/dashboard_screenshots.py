"""Screenshots of the dashboard for docs/dashboard.md, taken in headless Chromium over the test world.

Run: .venv/bin/python scripts/dashboard_screenshots.py [OUT_DIR]   (default docs/img; needs /usr/bin/chromium)
Not part of CI: it rewrites the committed PNGs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from web_world import CHROMIUM, CHROMIUM_ARGS, TOKEN, build_world, serving  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        results, store = build_world(Path(tmp))
        with serving(store, results) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1180, "height": 900})
            page.goto(base + "/login")
            page.screenshot(path=str(out / "dashboard-login.png"))
            page.fill("#analyst", "dana")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.screenshot(path=str(out / "dashboard-campaigns.png"), full_page=True)
            page.goto(base + "/campaigns/C001")
            page.wait_for_selector("#graph .main-svg")
            page.locator("#campaign-actions input[name=note]").first.fill("hydra confirmed in review")
            page.click("button[data-op=suspend]")
            page.wait_for_selector("#graph .main-svg")
            page.set_viewport_size({"width": 1180, "height": 1400})
            page.screenshot(path=str(out / "dashboard-campaign.png"))
            page.goto(base + "/accounts/acct_hydra_00")
            page.wait_for_selector("#timeline .main-svg")
            page.screenshot(path=str(out / "dashboard-account.png"))
            page.goto(base + "/decisions")
            page.set_viewport_size({"width": 1180, "height": 600})
            page.screenshot(path=str(out / "dashboard-decisions.png"))
            browser.close()
    for p in sorted(out.glob("dashboard-*.png")):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)


if __name__ == "__main__":
    main()
