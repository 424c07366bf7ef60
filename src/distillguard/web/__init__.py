"""Web dashboard: campaigns, accounts and decisions for analysts, plus a read-only TAXII 2.1 collection.

Contract::

    from distillguard.web import create_app, load_settings
    settings = load_settings("store.duckdb", config="dashboard.toml", results="results/")
    app = create_app(settings)                  # a Starlette ASGI app; `distillguard serve` runs it

Pages: the campaign list (sortable, filterable), a campaign (the report's charts and tables, a graph of
linked accounts from ``link_incidence`` with the kind of link on each edge), an account (timeline,
evidence, links, latest exchanges and raw bodies when kept), decisions with their audit trail. Analysts
approve, suspend, lift and dismiss as false positive (``actions``, through ``distillguard.policy``'s
append-only audit table) and label accounts (``labels``: table ``analyst_labels`` that ``evaluate
--analyst-labels`` scores against). Login with the token from the config or ``DISTILLGUARD_TOKEN``;
signed session cookie; CSRF token on every form; nothing but the login form answers without
authentication; all text is autoescaped under a nonce-based Content Security Policy. The store is opened
per request and closed before the answer (DuckDB allows one writing process per file).
"""

from distillguard.web.app import create_app
from distillguard.web.config import WebSettings, load_settings
from distillguard.web.labels import LABELS, current_labels, record_labels, write_label_folder

__all__ = [
    "LABELS",
    "WebSettings",
    "create_app",
    "current_labels",
    "load_settings",
    "record_labels",
    "write_label_folder",
]
