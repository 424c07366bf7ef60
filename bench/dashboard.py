"""Dashboard page latency over an analysed store (in-process ASGI client, best of 3 per page).

distillguard simulate --scenario reported-2026 --out /tmp/d/sim --seed 1
distillguard analyze /tmp/d/sim/log --out /tmp/d/res --store /tmp/d/store.duckdb
.venv/bin/python bench/dashboard.py /tmp/d/store.duckdb /tmp/d/res
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import duckdb
from starlette.testclient import TestClient

from distillguard.web import create_app
from distillguard.web.config import WebSettings
from distillguard.web.taxii import COLLECTION_ID

TOKEN = "bench-token-0123456789abcdef"


def main() -> None:
    store, results = Path(sys.argv[1]), Path(sys.argv[2])
    con = duckdb.connect(str(store), read_only=True)
    n_x, n_a, n_c = con.execute(
        "SELECT (SELECT count(*) FROM exchanges), (SELECT count(*) FROM accounts), (SELECT count(*) FROM campaigns)"
    ).fetchall()[0]
    cid, size = con.execute("SELECT campaign_id, accounts FROM campaigns ORDER BY accounts DESC LIMIT 1").fetchall()[0]
    acct = con.execute("SELECT account_id FROM accounts WHERE campaign_id = ? LIMIT 1", [cid]).fetchall()[0][0]
    con.close()
    print(f"store: {n_x:,} exchanges, {n_a:,} accounts, {n_c} campaigns; largest {cid} ({size} accounts)")
    app = create_app(WebSettings(store=store, token=TOKEN, results=results, salt=b"bench-salt-0123456789abcdef"))
    client = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf
    client.post("/login", data={"csrf": csrf.group(1), "analyst": "bench", "token": TOKEN})
    for url in ("/", "/?sort=exchanges&q=reasoning", f"/campaigns/{cid}", f"/accounts/{acct}", "/decisions"):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t)
        print(f"{url:40s} {r.status_code}  {1000 * min(times):6.0f} ms  {len(r.content) // 1024:5d} KiB")
    h = {"Authorization": f"Bearer {TOKEN}"}
    for label in ("first (computes)", "again (cached)"):
        t = time.perf_counter()
        r = client.get(f"/taxii2/api1/collections/{COLLECTION_ID}/objects/", headers=h)
        print(
            f"TAXII objects, {label:17s} {r.status_code}  {1000 * (time.perf_counter() - t):6.0f} ms  {len(r.json()['objects'])} objects"
        )


if __name__ == "__main__":
    main()
