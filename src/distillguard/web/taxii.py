"""A read-only TAXII 2.1 server for one collection: the campaign intelligence ``intel`` exports.

Discovery ``/taxii2/``, API root ``/taxii2/api1/``, ``collections/``, one collection, its ``objects/``
(with ``limit``, ``next``, ``match[type]``, ``match[id]``, ``added_after``), one object and the
``manifest/``. Partners authenticate with ``Authorization: Bearer TOKEN`` (or HTTP Basic with the token
as password). Objects come from ``distillguard.intel.collection_objects`` over the ``--results`` folder
and the group salt (``salt_file`` in the config); without both the server lists no collection.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from distillguard.intel import collection_objects

MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
COLLECTION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "distillguard:collection:campaigns"))
API_ROOT = "/taxii2/api1/"
MAX_PAGE = 1000


def taxii_json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status, headers=headers, media_type=MEDIA)


def error(status: int, title: str, description: str = "") -> Response:
    return taxii_json({"title": title, "description": description, "http_status": str(status)}, status)


def acceptable(request: Request) -> bool:
    accept = request.headers.get("accept", "*/*").lower()
    return any(m in accept for m in ("application/taxii+json", "application/json", "*/*"))


class Collection:
    """The collection's objects, recomputed when the results folder changes."""

    def __init__(self, results: Path | None, salt: bytes | None, store: Path, lock: threading.RLock) -> None:
        self.results, self.salt, self.store, self.lock = results, salt, store, lock
        self._cache: tuple[float, list[dict[str, Any]]] | None = None

    @property
    def available(self) -> bool:
        return self.results is not None and self.salt is not None

    def info(self) -> dict[str, Any]:
        return {
            "id": COLLECTION_ID,
            "title": "distillguard distillation campaigns",
            "description": "Campaigns, indicators (keyed hashes, address ranges, user agents) and template-family "
            "signatures; never prompt text or raw identifiers.",
            "can_read": True,
            "can_write": False,
            "media_types": [STIX_MEDIA],
        }

    def objects(self) -> list[dict[str, Any]]:
        assert self.results is not None and self.salt is not None
        stamp = (
            (self.results / "accounts.parquet").stat().st_mtime if (self.results / "accounts.parquet").exists() else 0.0
        )
        with self.lock:  # collection_objects reads the store: one store use at a time in this process
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, collection_objects(self.results, self.salt, store=self.store))
            return self._cache[1]


def _added(o: dict[str, Any]) -> str:
    return str(o.get("modified") or o.get("created") or "")


def objects_page(objs: list[dict[str, Any]], request: Request) -> tuple[dict[str, Any], dict[str, str]] | Response:
    q = request.query_params
    types = {t for v in q.getlist("match[type]") for t in v.split(",") if t}
    ids = {t for v in q.getlist("match[id]") for t in v.split(",") if t}
    after = q.get("added_after")
    chosen = [
        o
        for o in objs
        if (not types or o.get("type") in types)
        and (not ids or o.get("id") in ids)
        and (not after or _added(o) > after)
    ]
    chosen.sort(key=lambda o: (_added(o), str(o.get("id"))))
    try:
        limit = min(int(q.get("limit", MAX_PAGE)), MAX_PAGE)
        start = int(q.get("next", 0))
    except ValueError:
        return error(400, "bad limit or next", "limit and next are integers")
    if limit < 1 or start < 0:
        return error(400, "bad limit or next", "limit >= 1 and next >= 0")
    page = chosen[start : start + limit]
    env: dict[str, Any] = {"more": start + limit < len(chosen), "objects": page}
    if env["more"]:
        env["next"] = str(start + limit)
    headers = {"X-TAXII-Date-Added-First": _added(page[0]), "X-TAXII-Date-Added-Last": _added(page[-1])} if page else {}
    return env, headers


def routes(col: Collection) -> dict[str, Callable[[Request], Response]]:
    """Plain (sync) handlers by name; ``app`` wraps them with authentication."""

    def discovery(request: Request) -> Response:
        root = str(request.base_url).rstrip("/") + API_ROOT
        return taxii_json(
            {
                "title": "distillguard TAXII 2.1",
                "description": "Read-only campaign intelligence",
                "default": root,
                "api_roots": [root],
            }
        )

    def api_root(request: Request) -> Response:
        return taxii_json({"title": "distillguard", "versions": [MEDIA], "max_content_length": 10 * 2**20})

    def collections(request: Request) -> Response:
        return taxii_json({"collections": [col.info()]} if col.available else {})

    def _check(request: Request) -> Response | None:
        if not col.available or request.path_params["cid"] != COLLECTION_ID:
            return error(404, "no such collection")
        return None

    def collection(request: Request) -> Response:
        return _check(request) or taxii_json(col.info())

    def objects(request: Request) -> Response:
        bad = _check(request)
        if bad:
            return bad
        page = objects_page(col.objects(), request)
        return page if isinstance(page, Response) else taxii_json(page[0], headers=page[1])

    def one(request: Request) -> Response:
        bad = _check(request)
        if bad:
            return bad
        found = [o for o in col.objects() if o.get("id") == request.path_params["oid"]]
        return taxii_json({"more": False, "objects": found}) if found else error(404, "no such object")

    def manifest(request: Request) -> Response:
        bad = _check(request)
        if bad:
            return bad
        page = objects_page(col.objects(), request)
        if isinstance(page, Response):
            return page
        env, headers = page
        env["objects"] = [
            {"id": o["id"], "date_added": _added(o), "version": _added(o), "media_type": STIX_MEDIA}
            for o in env["objects"]
        ]
        return taxii_json(env, headers=headers)

    return {
        "discovery": discovery,
        "api_root": api_root,
        "collections": collections,
        "collection": collection,
        "objects": objects,
        "object": one,
        "manifest": manifest,
    }
