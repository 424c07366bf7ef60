"""Dashboard pages, decisions, labels and TAXII over a real store (the analyst world plus real linking)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from analyst_world import HYDRA, LEGIT, PROMPT_WORD, XSS, XSS_MODEL
from distillguard.cli import app as cli_app
from distillguard.policy import Action, Proposal, Scope, Status, decision_id, read_snapshot
from distillguard.policy import decisions as dec
from distillguard.store import Store
from distillguard.web import current_labels, write_label_folder
from distillguard.web.taxii import COLLECTION_ID, MEDIA
from web_world import SALT, TOKEN, build_world, csrf_of, logged_in


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_world(tmp_path_factory.mktemp("web_pages"))


@pytest.fixture()
def store(world: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the world's store for tests that write decisions or labels."""
    copy = tmp_path / "store.duckdb"
    shutil.copy(world[1], copy)
    return copy


def _ids(html: str) -> list[str]:
    return re.findall(r'<a href="/campaigns/([^"]+)">', html)


def test_campaign_list_sorts_and_filters(world: tuple[Path, Path]) -> None:
    client = logged_in(world[1])
    page = client.get("/")
    assert _ids(page.text) == ["C001"] and "reasoning" in page.text
    assert _ids(client.get("/?q=reasoning").text) == ["C001"]
    assert _ids(client.get("/?q=no-such-thing").text) == []
    assert _ids(client.get("/?min_risk=0.95").text) == []
    assert client.get("/?sort=exchanges&dir=asc").status_code == 200
    assert client.get("/?sort=drop table&min_risk=abc").status_code == 200  # unknown values fall back


def test_campaign_detail_has_charts_and_link_graph(world: tuple[Path, Path]) -> None:
    client = logged_in(world[1])
    page = client.get("/campaigns/C001").text
    for div in ("graph", "capabilities", "timeline"):
        assert f'id="{div}"' in page
    edges = re.findall(r"<tr><td>(acct_[^<]+)</td><td>(acct_[^<]+)</td><td>([^<]+)</td></tr>", page)
    assert edges and all(a in HYDRA and b in HYDRA for a, b, _ in edges)
    kinds = {k for _, _, ks in edges for k in ks.split(", ")}
    assert {"payment", "user_agent"} <= kinds
    assert '<script src="/static/plotly.min.js"' in page and "cdn" not in page.lower()
    assert client.get("/campaigns/C999").status_code == 404
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and len(js.content) > 1e6


def test_prompt_text_and_labels_are_escaped(world: tuple[Path, Path]) -> None:
    client = logged_in(world[1])
    for url in ("/accounts/acct_hydra_00", "/campaigns/C001"):
        r = client.get(url)
        page = r.text
        assert "<script>alert" not in page and '<script>alert("model")' not in page
        # Every script element on the page is plotly's file or carries this response's nonce.
        nonce = re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"])
        assert nonce
        for tag in re.findall(r"<script[^>]*>", page):
            assert f'nonce="{nonce.group(1)}"' in tag, tag
    page = client.get("/accounts/acct_hydra_00").text
    assert "What held when it was first flagged" in page and "cluster: template-flood (+1.5)" in page
    assert "What held when it was first flagged" not in client.get(f"/accounts/{LEGIT[0]}").text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page  # shown, as text
    assert PROMPT_WORD in page and str(escape(XSS_MODEL)) in page
    assert XSS not in page


def test_suspend_campaign_writes_audit_and_snapshot(store: Path) -> None:
    client = logged_in(store, analyst="alice")
    csrf = csrf_of(client.get("/campaigns/C001").text)
    r = client.post("/decide", data={"csrf": csrf, "op": "suspend", "kind": "campaign", "subject": "C001",
                                     "note": "hydra <b>confirmed</b>", "back": "/campaigns/C001"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/campaigns/C001"
    with Store.open(store, read_only=True) as st:
        live = dec.current_decisions(st)
        trail = dec.audit_trail(st)
    assert [(d.subject_id, d.action, d.status, d.actor) for d in live] == [
        ("C001", Action.suspend, Status.active, "alice")
    ]
    assert sorted(live[0].members) == sorted(HYDRA)
    assert [(e["event"], e["note"]) for e in trail] == [("created", "hydra <b>confirmed</b>")]
    page = client.get("/campaigns/C001").text
    assert "hydra &lt;b&gt;confirmed&lt;/b&gt;" in page and "created" in page
    snap = read_snapshot(store.with_name("store.enforcement.json"))
    assert any(d.get("subject_id") == "C001" for d in snap["decisions"])
    # Lift it: a second entry, the first stays.
    csrf = csrf_of(page)
    client.post("/decide", data={"csrf": csrf, "op": "lift", "decision_id": live[0].decision_id, "back": "/"})
    with Store.open(store, read_only=True) as st:
        assert [e["event"] for e in dec.audit_trail(st)] == ["created", "lifted"]
        assert dec.current_decisions(st) == []


def test_approve_proposed_and_dismiss_as_false_positive(store: Path) -> None:
    proposal = Proposal(
        decision_id=decision_id(Scope.account, LEGIT[7], "test-rule"), subject_kind=Scope.account,
        subject_id=LEGIT[7], action=Action.throttle, params={"rate_per_minute": 5}, status=Status.proposed,
        rule="test-rule", reason="shares 203.0.113.0/24", evidence=(), members=(),
    )  # fmt: skip
    with Store.open(store) as st:
        dec.record_proposals(st, [proposal])
    client = logged_in(store, analyst="bob")
    page = client.get(f"/accounts/{LEGIT[7]}").text
    assert 'data-op="approve"' in page
    client.post("/decide", data={"csrf": csrf_of(page), "op": "approve", "decision_id": proposal.decision_id})
    with Store.open(store, read_only=True) as st:
        assert dec.current_decisions(st)[0].status is Status.active
    client.post("/decide", data={"csrf": csrf_of(page), "op": "dismiss", "kind": "account", "subject": LEGIT[7]})
    with Store.open(store, read_only=True) as st:
        events = [(e["event"], e["actor"], e["note"]) for e in dec.audit_trail(st)]
        labels = current_labels(st)
        assert dec.current_decisions(st) == []
    assert events[-1] == ("lifted", "bob", "dismissed as false positive")
    assert labels[LEGIT[7]]["label"] == "false_positive" and labels[LEGIT[7]]["analyst"] == "bob"
    # Dismissing a subject with no decision still leaves a trace in the audit trail.
    client.post("/decide", data={"csrf": csrf_of(page), "op": "dismiss", "kind": "account", "subject": LEGIT[0]})
    with Store.open(store, read_only=True) as st:
        mine = [e["event"] for e in dec.audit_trail(st) if e["subject_id"] == LEGIT[0]]
    assert mine == ["created", "lifted"]


def test_labels_feed_evaluate(store: Path, world: tuple[Path, Path], tmp_path: Path) -> None:
    client = logged_in(store, analyst="carol")
    csrf = csrf_of(client.get("/campaigns/C001").text)
    client.post("/labels", data={"csrf": csrf, "kind": "campaign", "subject": "C001", "label": "confirmed_attack"})
    for a in LEGIT[:3]:
        client.post("/labels", data={"csrf": csrf, "kind": "account", "subject": a, "label": "false_positive"})
    r = client.post("/labels", data={"csrf": csrf, "kind": "account", "subject": a, "label": "maybe"})
    assert r.status_code == 400
    folder = write_label_folder(store, tmp_path / "lab")
    assert (folder / "accounts.parquet").is_file()
    out = tmp_path / "eval.json"
    run = CliRunner().invoke(
        cli_app, ["evaluate", "--analyst-labels", str(store), "--results", str(world[0]), "--json", str(out)]
    )
    assert run.exit_code == 0, run.output
    acc = json.loads(out.read_text())["accounts"]
    assert (acc["accounts"], acc["attack_accounts"], acc["tp"], acc["fp"]) == (13, 10, 10, 0)
    both = CliRunner().invoke(cli_app, ["evaluate", "--results", str(world[0])])
    assert both.exit_code != 0


def test_taxii_collection(world: tuple[Path, Path]) -> None:
    results, store = world
    client = logged_in(results=results, store=store)
    h = {"Authorization": f"Bearer {TOKEN}", "Accept": MEDIA}
    client.cookies.clear()  # partners come with the token, not a session
    disc = client.get("/taxii2/", headers=h)
    assert disc.status_code == 200 and disc.headers["content-type"].startswith("application/taxii+json")
    root = disc.json()["default"]
    assert root.endswith("/taxii2/api1/") and client.get(root, headers=h).json()["versions"] == [MEDIA]
    cols = client.get("/taxii2/api1/collections/", headers=h).json()["collections"]
    assert [c["id"] for c in cols] == [COLLECTION_ID] and cols[0]["can_write"] is False
    base = f"/taxii2/api1/collections/{COLLECTION_ID}/"
    env = client.get(base + "objects/", headers=h).json()
    types = {o["type"] for o in env["objects"]}
    assert {"identity", "campaign", "indicator"} <= types and env["more"] is False
    text = json.dumps(env)
    assert PROMPT_WORD not in text and "pf_hydra_RAWVALUE_77" not in text and SALT.decode() not in text
    page = client.get(base + "objects/?limit=2", headers=h).json()
    assert len(page["objects"]) == 2 and page["more"] and page["next"] == "2"
    camp = client.get(base + "objects/?match[type]=campaign", headers=h).json()["objects"]
    assert camp and all(o["type"] == "campaign" for o in camp)
    one = client.get(base + f"objects/{camp[0]['id']}/", headers=h).json()["objects"]
    assert one == [camp[0]]
    assert len(client.get(base + "manifest/", headers=h).json()["objects"]) == len(env["objects"])
    assert client.get("/taxii2/api1/collections/nope/objects/", headers=h).status_code == 404
    assert client.get(base + "objects/", headers={**h, "Accept": "text/html"}).status_code == 406
    assert client.post(base + "objects/", headers=h).status_code == 405
