"""The Starlette application: pages, forms, a small JSON API, static files and the TAXII endpoint.

Every route but the login form requires authentication (``_guard``): a session cookie for pages and
forms, a session or the bearer token for the JSON API and TAXII. Every POST carries the session's CSRF
token and must come from this origin. Pages are Jinja2 templates with autoescape on; the Content
Security Policy allows only this server's scripts and inline scripts carrying the response's nonce, so
markup smuggled into a prompt or a label could not run even if escaping failed.
"""

from __future__ import annotations

import base64
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from plotly.offline import get_plotlyjs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from distillguard.errors import DistillguardError, StoreError
from distillguard.report.charts import capabilities_chart, script_json, timeline_chart
from distillguard.report.render import _dt, _fmt2, _num, _pct
from distillguard.web import data, taxii
from distillguard.web.actions import Actions
from distillguard.web.auth import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions, same_secret, valid_analyst
from distillguard.web.config import WebSettings
from distillguard.web.graph import graph_figure
from distillguard.web.labels import LABELS

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


class Kind(Enum):
    page = "page"  # session cookie; a browser without one is sent to the login form
    api = "api"  # session cookie or bearer token; 401 otherwise
    taxii = "taxii"


def _csp(nonce: str) -> str:
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _local(path: str | None, default: str = "/") -> str:
    """Only a path on this server is a safe place to return to after a form (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


class Dashboard:
    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.gate = data.Gate(settings.store)
        self.actions = Actions(self.gate, settings.policy, settings.snapshot)
        self.sessions = Sessions(settings.session_secret, settings.session_hours)
        self.collection = taxii.Collection(settings.results, settings.salt, settings.store, self.gate.lock)
        self.env = Environment(
            loader=PackageLoader("distillguard.web", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
        )
        self.env.filters.update(num=_num, pct=_pct, fmt2=_fmt2, dt=_dt)
        self.css = Markup(resources.files("distillguard.web").joinpath("static/dashboard.css").read_text("utf-8"))
        self._plotly: bytes | None = None

    # ------------------------------------------------------------------ authentication

    def session(self, request: Request) -> Session | None:
        return self.sessions.check(request.cookies.get(SESSION_COOKIE))

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return same_secret(value.strip(), self.settings.token)
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return same_secret(password, self.settings.token)
        return False

    def guard(self, kind: Kind, fn: Callable[[Request, Session | None], Awaitable[Response]]) -> Handler:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            sess = self.session(request)
            if sess is None and not (kind is not Kind.page and self.bearer_ok(request)):
                if kind is Kind.page and request.method == "GET":
                    return RedirectResponse("/login?next=" + quote(request.url.path), 303)
                if kind is Kind.taxii:
                    resp = taxii.error(401, "authentication required")
                    resp.headers.update(_www_headers())
                    return resp
                return JSONResponse({"error": "authentication required"}, 401, headers=_www_headers())
            try:
                return await fn(request, sess)
            except LookupError as exc:
                return self.render(request, sess, "error.html", {"message": f"not found: {exc.args[0]}"}, 404)
            except StoreError as exc:
                log.warning("store unavailable: %s", exc)
                return self.render(request, sess, "error.html", {"message": str(exc)}, 503)
            except DistillguardError as exc:
                return self.render(request, sess, "error.html", {"message": str(exc)}, 400)

        return handler

    async def form(self, request: Request, sess: Session | None) -> dict[str, str]:
        """The POSTed form, after the CSRF and same-origin checks (PermissionError otherwise)."""
        body = (await request.body()).decode("utf-8", "replace")
        fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.url.netloc:
            raise PermissionError("cross-origin form")
        if sess is None or not self.sessions.csrf_ok(sess, fields.get("csrf")):
            raise PermissionError("missing or wrong CSRF token")
        return fields

    # ------------------------------------------------------------------ rendering

    def render(
        self, request: Request, sess: Session | None, name: str, ctx: dict[str, Any], status: int = 200
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        body = self.env.get_template(name).render(
            **ctx,
            css=self.css,
            nonce=nonce,
            analyst=sess.analyst if sess else None,
            csrf=self.sessions.csrf(sess) if sess else "",
            path=request.url.path,
            chart=lambda fig, div: _chart(fig, div, nonce),
        )
        return HTMLResponse(body, status, headers=_headers(nonce))

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[Route]:
        t = taxii.routes(self.collection)

        def tx(name: str) -> Handler:
            async def fn(request: Request, _s: Session | None) -> Response:
                if not taxii.acceptable(request):
                    return taxii.error(406, "not acceptable", f"use Accept: {taxii.MEDIA}")
                return await run_in_threadpool(t[name], request)

            return self.guard(Kind.taxii, fn)

        p, a = Kind.page, Kind.api
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.guard(p, self.logout), methods=["POST"]),
            Route("/", self.guard(p, self.campaigns), methods=["GET"]),
            Route("/campaigns/{cid}", self.guard(p, self.campaign), methods=["GET"]),
            Route("/accounts/{aid}", self.guard(p, self.account), methods=["GET"]),
            Route("/decisions", self.guard(p, self.decisions), methods=["GET"]),
            Route("/decide", self.guard(p, self.decide), methods=["POST"]),
            Route("/labels", self.guard(p, self.label), methods=["POST"]),
            Route("/api/campaigns", self.guard(a, self.api_campaigns), methods=["GET"]),
            Route("/api/decisions", self.guard(a, self.api_decisions), methods=["GET"]),
            Route("/static/plotly.min.js", self.guard(a, self.plotly_js), methods=["GET"]),
            Route("/taxii2/", tx("discovery"), methods=["GET"]),
            Route(taxii.API_ROOT, tx("api_root"), methods=["GET"]),
            Route(taxii.API_ROOT + "collections/", tx("collections"), methods=["GET"]),
            Route(taxii.API_ROOT + "collections/{cid}/", tx("collection"), methods=["GET"]),
            Route(taxii.API_ROOT + "collections/{cid}/objects/", tx("objects"), methods=["GET"]),
            Route(taxii.API_ROOT + "collections/{cid}/objects/{oid}/", tx("object"), methods=["GET"]),
            Route(taxii.API_ROOT + "collections/{cid}/manifest/", tx("manifest"), methods=["GET"]),
        ]

    async def login_form(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        ctx = {"login_csrf": token, "next": _local(request.query_params.get("next")), "error": error}
        resp = self.render(request, None, "login.html", ctx, status)
        resp.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self.settings.secure_cookies,
            max_age=3600,
            path="/login",
        )
        return resp

    async def login(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        f = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or not secrets.compare_digest(cookie, f.get("csrf", "")):
            return await self.login_form(request, "The form expired; please try again.", 403)
        analyst = f.get("analyst", "").strip()
        if not valid_analyst(analyst):
            return await self.login_form(request, "Give your name (letters, digits, . @ - _ and spaces).", 400)
        if not same_secret(f.get("token", ""), self.settings.token):
            log.warning(
                "failed dashboard login for %r from %s", analyst, request.client.host if request.client else "?"
            )
            return await self.login_form(request, "Wrong token.", 401)
        resp = RedirectResponse(_local(f.get("next")), 303)
        resp.set_cookie(
            SESSION_COOKIE,
            self.sessions.issue(analyst),
            httponly=True,
            samesite="strict",
            secure=self.settings.secure_cookies,
            max_age=int(self.settings.session_hours * 3600),
        )
        resp.delete_cookie(LOGIN_COOKIE, path="/login")
        return resp

    async def logout(self, request: Request, sess: Session | None) -> Response:
        try:
            await self.form(request, sess)
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, 403)
        assert sess is not None
        self.sessions.revoke(sess)
        resp = RedirectResponse("/login", 303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    async def campaigns(self, request: Request, sess: Session | None) -> Response:
        q = request.query_params
        sort = q.get("sort", "risk") if q.get("sort") in data.SORT_KEYS else "risk"
        desc = q.get("dir", "desc") != "asc"
        try:
            min_risk = float(q.get("min_risk") or 0.0)
        except ValueError:
            min_risk = 0.0
        rows = await run_in_threadpool(data.campaign_list, self.gate, q.get("q", ""), sort, desc, min_risk)
        ctx = {
            "rows": rows,
            "q": q.get("q", ""),
            "sort": sort,
            "desc": desc,
            "min_risk": min_risk,
            "keys": data.SORT_KEYS,
        }
        return self.render(request, sess, "campaigns.html", ctx)

    async def campaign(self, request: Request, sess: Session | None) -> Response:
        d = await run_in_threadpool(data.campaign_detail, self.gate, request.path_params["cid"])
        c, report = d["c"], d["report"]
        d["charts"] = {
            "graph": graph_figure(d["graph"], d["risk"]),
            "capabilities": capabilities_chart(c.get("capabilities") or []),
            "timeline": timeline_chart(
                c["timeline"], report.get("releases") or [], c.get("pivots") or [], report.get("bucket") or ""
            )
            if c.get("timeline")
            else None,
        }
        return self.render(request, sess, "campaign.html", {**d, "labels_allowed": LABELS})

    async def account(self, request: Request, sess: Session | None) -> Response:
        d = await run_in_threadpool(data.account_detail, self.gate, request.path_params["aid"])
        points = [{"t": t, "model": m, "n": n} for t, m, n in d["timeline"]]
        d["timeline_chart"] = timeline_chart(points, [], [], "6 hours") if points else None
        return self.render(request, sess, "account.html", {**d, "labels_allowed": LABELS})

    async def decisions(self, request: Request, sess: Session | None) -> Response:
        d = await run_in_threadpool(data.decisions_page, self.gate)
        return self.render(request, sess, "decisions.html", d)

    async def decide(self, request: Request, sess: Session | None) -> Response:
        try:
            f = await self.form(request, sess)
        except PermissionError as exc:
            return self.render(request, sess, "error.html", {"message": str(exc)}, 403)
        assert sess is not None
        op, note = f.get("op", ""), (f.get("note") or "").strip()[:500] or None
        kind, subject, did = f.get("kind", ""), f.get("subject", ""), f.get("decision_id", "")
        calls: dict[str, Callable[[], Any]] = {
            "suspend": lambda: self.actions.suspend(kind, subject, sess.analyst, note),
            "approve": lambda: self.actions.approve(did, sess.analyst, note),
            "lift": lambda: self.actions.lift(did, sess.analyst, note),
            "dismiss": lambda: self.actions.dismiss(kind, subject, sess.analyst, note),
        }
        if op not in calls:
            return self.render(request, sess, "error.html", {"message": f"unknown decision {op!r}"}, 400)
        await run_in_threadpool(calls[op])
        return RedirectResponse(_local(f.get("back")), 303)

    async def label(self, request: Request, sess: Session | None) -> Response:
        try:
            f = await self.form(request, sess)
        except PermissionError as exc:
            return self.render(request, sess, "error.html", {"message": str(exc)}, 403)
        assert sess is not None
        note = (f.get("note") or "").strip()[:500] or None
        await run_in_threadpool(
            self.actions.label, f.get("kind", ""), f.get("subject", ""), f.get("label", ""), sess.analyst, note
        )
        return RedirectResponse(_local(f.get("back")), 303)

    async def api_campaigns(self, request: Request, sess: Session | None) -> Response:
        rows = await run_in_threadpool(data.campaign_list, self.gate)
        return JSONResponse([{k: _plain(v) for k, v in r.items()} for r in rows])

    async def api_decisions(self, request: Request, sess: Session | None) -> Response:
        d = await run_in_threadpool(data.decisions_page, self.gate)
        return JSONResponse([{k: _plain(v) for k, v in x.__dict__.items()} for x in d["decisions"]])

    async def plotly_js(self, request: Request, sess: Session | None) -> Response:
        if self._plotly is None:
            self._plotly = get_plotlyjs().encode("utf-8")
        return Response(
            self._plotly,
            media_type="text/javascript",
            headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, dict) or hasattr(v, "items"):
        return {str(k): _plain(x) for k, x in dict(v).items()}
    return v


def _www_headers() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="distillguard"'}


def _headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": _csp(nonce),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _chart(fig: go.Figure | None, div: str, nonce: str) -> Markup:
    if fig is None:
        return Markup("")
    # script_json leaves no '<' in the payload, so no label can end the script element early.
    return Markup(
        f'<div class="chart" id="{div}"></div><script nonce="{nonce}">(function(f){{Plotly.newPlot("{div}", f.data, '
        f"f.layout, {{displayModeBar: false, responsive: false}});}})({script_json(fig)});</script>"
    )


def create_app(settings: WebSettings) -> Starlette:
    """The dashboard as an ASGI application (serve it with uvicorn)."""
    return Starlette(routes=Dashboard(settings).routes())
