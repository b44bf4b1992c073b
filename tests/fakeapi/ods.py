"""Loopback emulator of the Caisse des Dépôts Opendatasoft portal, serving the CPF catalogue.

Follows the portal's published API as docs/api-opendatasoft.md summarises it
(routes, limits, error bodies, quota): Explore v2.1
(``/catalog/datasets``, ``/{id}``, ``/records``, ``/records/{rid}``, ``/facets``,
``/exports``, ``/exports/{json,jsonl,csv}``) and Search API v1
(``/api/records/1.0/search/``, ``/download/``, dataset and record lookup, the
explore download route), with the documented limits and error bodies, quota
headers and 429 bodies, and fault knobs. Routes are host-agnostic and accept a
trailing slash or not.

Every knob of :class:`OdsConfig` can be changed while the server runs, from the
test (``emulator.config.x = …``) or over HTTP (``POST /_emulator/config`` with a
JSON object); ``GET /_emulator/stats`` returns call counters. ``/_emulator/*``
calls are not counted as API calls.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakeapi.cpfdata import (
    ALIAS_NAMES,
    FACETS,
    FIELDS,
    INDEX,
    TEXT_SEARCH_FIELDS,
    CpfDataset,
    CpfDatasetConfig,
    field_type,
    record_id,
)
from tests.fakeapi.faults import FaultKnobs, before_answer, maybe_cut
from tests.fakeapi.odsql import (
    ODSQLError,
    Schema,
    aggregate,
    compile_v1_query,
    compile_where,
    fold,
    parse_group_by,
    parse_order_by,
    parse_select,
)
from tests.fakeapi.server import client_gone

DATASET_KNOBS = {f.name for f in fields(CpfDatasetConfig)}
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class OdsConfig(CpfDatasetConfig, FaultKnobs):
    """The dataset knobs (inherited; changing one regenerates the data), plus these."""

    # --- what no public source settles, one switch per possible answer
    # (docs/api-opendatasoft.md, « Points non tranchés »)
    dataset_id: str = "moncompteformation_catalogueformation"
    schema: str = "2025"  # "2025": date_extract/code_inventaire/siret; "alias": date_chargement/code_rs/siret_of
    grouped_total_count: bool = False  # grouped /records answers carry total_count too
    jsonl_trailing_newline: bool = True
    v1_enabled: bool = True
    # Grouped /records (group_by): the greatest limit, and offset + limit, accepted. The
    # portal's OpenAPI text says offset + limit must be *less than* 20000 (strict); other
    # portals accept 20000, one refused only above 30000, a lower cap is possible.
    group_limit_max: int = 20_000
    group_limit_strict: bool = False  # True: limit < max and offset + limit < max
    group_limit_message: str = ""  # non-empty: this vaguer 400 message instead of the bound
    # --- counts that disagree with the exports (the portal reindexing)
    # count(*) (grouped or not) and total_count report this many rows more (or, negative,
    # fewer) than the exports return for rows of drift_departement. Positive: phantom rows
    # counted with the département's first row; negative: its first -count_drift rows are
    # not counted yet. Either way every grouping of the rows adds up to the same drift.
    count_drift: int = 0
    drift_departement: str = "75"
    count_drift_times: int = -1  # how many /records answers drift (-1: every one)
    # --- quota
    daily_quota: int = 1_000_000
    quota_errorcode: int = 10005  # 10005 anonymous users, 10002 domain
    burst_per_second: int = 0  # 0 = no per-second limiter
    # --- faults
    latency_ms: float = 0.0
    fail_rate_5xx: float = 0.0
    fault_seed: int = 7
    truncate_exports: int = 0  # cut the next N export responses
    truncate_mode: str = (
        "abort"  # abort: connection dropped; clean: ends mid-row; rows: drops whole rows
    )
    truncate_at: float = 0.5  # fraction of the body sent before the cut


class OdsEmulator:
    def __init__(self, config: OdsConfig | None = None, **knobs: Any):
        self.config = config or OdsConfig()
        for key, value in knobs.items():
            setattr(self.config, key, value)
        self._dataset_key: tuple | None = None
        self._dataset: CpfDataset | None = None
        self._rid_index: dict[str, int] | None = None
        self.reset()

    # ------------------------------------------------------------ state

    def reset(self) -> None:
        self.counters: Counter[str] = Counter()
        self.requests: list[str] = []
        self.quota_used = 0
        self.quota_day = datetime.now(UTC).date()
        self.burst_window = (0, 0)
        self.fault_rng = random.Random(self.config.fault_seed)

    @property
    def dataset(self) -> CpfDataset:
        cfg = self.config
        key = tuple(getattr(cfg, k) for k in sorted(DATASET_KNOBS))
        if key != self._dataset_key:
            self._dataset = CpfDataset(
                CpfDatasetConfig(**{k: getattr(cfg, k) for k in sorted(DATASET_KNOBS)})
            )
            self._dataset_key = key
            self._rid_index = None
        assert self._dataset is not None
        return self._dataset

    @property
    def names(self) -> tuple[str, ...]:
        """Field names as served (the schema variant decides)."""
        if self.config.schema == "alias":
            return tuple(ALIAS_NAMES.get(f, f) for f in FIELDS)
        return FIELDS

    @property
    def schema(self) -> Schema:
        names = self.names
        types = {served: field_type(orig) for served, orig in zip(names, FIELDS, strict=True)}
        text = [n for n, orig in zip(names, FIELDS, strict=True) if orig in TEXT_SEARCH_FIELDS]
        return Schema(names, types, text)

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.counters["calls"],
            "by_route": {k[6:]: v for k, v in self.counters.items() if k.startswith("route:")},
            "quota_used": self.quota_used,
            "rows": len(self.dataset.rows),
            "http_429": self.counters["http_429"],
            "http_5xx": self.counters["http_5xx"],
            "truncated": self.counters["truncated"],
            "slow": self.counters["slow"],
            "reset": self.counters["reset"],
            "malformed": self.counters["malformed"],
            "cut": self.counters["cut"],
            "drifted": self.counters["drifted"],
        }

    # ------------------------------------------------------------ app

    def app(self) -> web.Application:
        app = web.Application(client_max_size=10 * 1024 * 1024, middlewares=[client_gone])
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            return await self.admin(request)
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        self.counters["calls"] += 1
        if len(self.requests) < 10_000:
            self.requests.append(str(request.rel_url))
        limited = self.check_quota()
        if limited is not None:
            self.counters["http_429"] += 1
            return self.with_quota_headers(limited)
        fault = await before_answer(request, self.config, self.fault_rng, self.counters)
        if fault is not None:
            return fault
        if self.config.fail_rate_5xx and self.fault_rng.random() < self.config.fail_rate_5xx:
            self.counters["http_5xx"] += 1
            status = self.fault_rng.choice([500, 502, 503])
            return self.with_quota_headers(server_error(status))
        params = await self.params(request)
        for pattern, name, handler in self.routes():
            m = pattern.fullmatch(path.rstrip("/") or "/")
            if m:
                self.counters["route:" + name] += 1
                try:
                    response = await handler(request, params, **m.groupdict())
                except ODSQLError as exc:
                    response = v21_error(400, "ODSQLError", str(exc))
                if isinstance(response, web.Response):
                    self.with_quota_headers(response)
                return await maybe_cut(request, response, self.config, self.fault_rng,
                                       self.counters)  # fmt: skip
        return web.Response(status=404, text="<html><body><h1>Page not found</h1></body></html>",
                            content_type="text/html")  # fmt: skip

    def routes(self) -> list[tuple[re.Pattern, str, Any]]:
        ds = r"(?P<dataset>[^/]+)"
        v21 = "/api/explore/v2.1/catalog"
        routes = [
            (rf"{v21}/datasets", "v21_catalog", self.v21_catalog),
            (rf"{v21}/datasets/{ds}", "v21_dataset", self.v21_dataset),
            (rf"{v21}/datasets/{ds}/records", "v21_records", self.v21_records),
            (rf"{v21}/datasets/{ds}/records/(?P<rid>[^/]+)", "v21_record", self.v21_record),
            (rf"{v21}/datasets/{ds}/facets", "v21_facets", self.v21_facets),
            (rf"{v21}/datasets/{ds}/exports", "v21_exports", self.v21_export_list),
            (rf"{v21}/datasets/{ds}/exports/(?P<fmt>[a-z0-9]+)", "v21_export", self.v21_export),
        ]
        if self.config.v1_enabled:
            routes += [
                (r"/api/records/1\.0/search", "v1_search", self.v1_search),
                (r"/api/records/1\.0/download", "v1_download", self.v1_download),
                (r"/api/datasets/1\.0/(?P<dataset>[^/]+)", "v1_dataset", self.v1_dataset),
                (rf"/api/datasets/1\.0/{ds}/records/(?P<rid>[^/]+)", "v1_record", self.v1_record),
                (rf"/explore/dataset/{ds}/download", "explore_download", self.v1_download),
            ]
        return [(re.compile(p), n, h) for p, n, h in routes]

    @staticmethod
    async def params(request: web.Request) -> Any:
        if request.method == "POST":
            form = await request.post()
            merged = request.query.copy()
            merged.extend(form)
            return merged
        return request.query

    # ------------------------------------------------------------ quota

    def quota_reset_time(self) -> datetime:
        today = datetime.now(UTC).date()
        return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)

    def check_quota(self) -> web.Response | None:
        cfg = self.config
        today = datetime.now(UTC).date()
        if today != self.quota_day:
            self.quota_day, self.quota_used = today, 0
        if cfg.burst_per_second:
            second = int(time.time())
            window, used = self.burst_window
            used = used + 1 if window == second else 1
            self.burst_window = (second, used)
            if used > cfg.burst_per_second:
                reset = datetime.fromtimestamp(second + 1, UTC)
                return quota_error(cfg.quota_errorcode, reset, "second", cfg.burst_per_second)
        self.quota_used += 1
        if self.quota_used > cfg.daily_quota:
            return quota_error(cfg.quota_errorcode, self.quota_reset_time(), "day", cfg.daily_quota)
        return None

    def with_quota_headers(self, response: web.Response) -> web.Response:
        limit = self.config.daily_quota
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(max(0, limit - self.quota_used))
        response.headers["X-RateLimit-Reset"] = str(int(self.quota_reset_time().timestamp()))
        return response

    # ------------------------------------------------------------ admin

    async def admin(self, request: web.Request) -> web.Response:
        action = request.path.removeprefix("/_emulator/").strip("/")
        if action == "stats":
            return json_response(self.stats())
        if action == "reset" and request.method == "POST":
            self.reset()
            return json_response({"status": "ok"})
        if action == "config":
            if request.method == "POST":
                changes = await request.json()
                unknown = set(changes) - {f.name for f in fields(OdsConfig)}
                if unknown:
                    return json_response({"error": f"unknown knobs: {sorted(unknown)}"}, 400)
                for key, value in changes.items():
                    setattr(self.config, key, value)
            return json_response(asdict(self.config))
        return json_response({"error": "unknown admin call"}, 404)

    # ------------------------------------------------------------ shared query logic

    def check_dataset(self, dataset: str, family: str) -> web.Response | None:
        if dataset == self.config.dataset_id:
            return None
        if family == "v1":
            return v1_error(404, f"Unknown dataset: {dataset}")
        return v21_error(
            404, "NotFoundResource", f"The requested dataset {dataset} does not exist."
        )

    def select_rows(self, params: Any, family: str = "v21") -> list[tuple]:
        """Rows matching where/refine/exclude (v2.1) or q/refine./exclude. (v1)."""
        schema = self.schema
        rows = self.dataset.rows
        preds = []
        if family == "v21":
            clauses = params.getall("where", [])
            if any(c.strip() for c in clauses):
                preds.append(compile_where(clauses, schema))
            for raw in params.getall("refine", []):
                preds.append(self.facet_pred(raw, schema, negate=False))
            for raw in params.getall("exclude", []):
                preds.append(self.facet_pred(raw, schema, negate=True))
        else:
            q = params.get("q", "")
            if q.strip():
                try:
                    preds.append(compile_v1_query(q, schema))
                except ODSQLError as exc:
                    raise V1BadRequest(str(exc)) from None
            for key in params:
                kind, _, name = key.partition(".")
                if kind not in ("refine", "exclude") or not name:
                    continue
                if name not in schema.index:
                    raise V1BadRequest(f"Unknown field: {name}")
                i = schema.index[name]
                values = set(params.getall(key))
                if kind == "refine":
                    preds.append(lambda r, i=i, v=values: str(r[i]) in v)
                else:
                    preds.append(lambda r, i=i, v=values: str(r[i]) not in v)
        if not preds:
            return rows
        return [r for r in rows if all(p(r) for p in preds)]

    @staticmethod
    def facet_pred(raw: str, schema: Schema, negate: bool) -> Any:
        name, _, value = raw.partition(":")
        if name not in schema.index:
            raise ODSQLError(
                f"ODSQL query is malformed: Unknown field: {name}. "
                "Clause(s) containing the error(s): refine."
            )
        i = schema.index[name]
        value = value.strip('"')
        if negate:
            return lambda r: str(r[i]) != value
        return lambda r: str(r[i]) == value or str(r[i]).startswith(value + "/")

    def as_dict(self, row: tuple, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        return dict(zip(names or self.names, row, strict=True))

    # ------------------------------------------------------------ v2.1

    async def v21_catalog(self, request: web.Request, params: Any) -> web.Response:
        return json_response({"total_count": 1, "results": [self.metadata_v21()]})

    def metadata_v21(self) -> dict[str, Any]:
        facets = {"nom_departement", "nom_region", "type_referentiel",
                  "libelle_niveau_sortie_formation", "code_region"}  # fmt: skip
        return {
            "dataset_id": self.config.dataset_id,
            "dataset_uid": "da_cpf0001",
            "attachments": [],
            "has_records": True,
            "data_visible": True,
            "features": ["analyze"],
            "metas": {
                "default": {
                    "title": "Mon Compte Formation - Catalogue des formations",
                    "description": "<p>Catalogue des formations éligibles au CPF.</p>",
                    "records_count": len(self.dataset.rows),
                    "modified": f"{self.config.snapshot_date}T05:02:11+00:00",
                    "data_processed": f"{self.config.snapshot_date}T05:01:00+00:00",
                    "metadata_processed": f"{self.config.snapshot_date}T05:02:11+00:00",
                    "publisher": "Caisse des Dépôts",
                    "language": "fr",
                    "license": "Licence Ouverte v2.0 (Etalab)",
                    "keyword": ["CPF", "formation"],
                    "theme": ["Formation"],
                    "timezone": None,
                    "territory": ["France"],
                    "federated": False,
                }
            },
            "fields": [
                {
                    "name": served,
                    "label": orig.replace("_", " ").capitalize(),
                    "type": field_type(orig),
                    "description": None,
                    "annotations": {"facet": [], "disjunctive": []} if orig in facets else {},
                }
                for served, orig in zip(self.names, FIELDS, strict=True)
            ],
        }

    async def v21_dataset(self, request: web.Request, params: Any, dataset: str) -> web.Response:
        return self.check_dataset(dataset, "v21") or json_response(self.metadata_v21())

    async def v21_records(self, request: web.Request, params: Any, dataset: str) -> web.Response:
        if (missing := self.check_dataset(dataset, "v21")) is not None:
            return missing
        cfg = self.config
        grouped = bool(params.get("group_by", "").strip())
        cap = cfg.group_limit_max if grouped else 10_000
        max_limit = cfg.group_limit_max if grouped else 100
        strict = grouped and cfg.group_limit_strict
        below = "<" if strict else "<="

        def within(value: int, bound: int) -> bool:
            return value < bound if strict else value <= bound

        try:
            limit = parse_int(params, "limit", 10)
            offset = parse_int(params, "offset", 0)
        except BadParameter as exc:
            return v21_error(400, "InvalidRESTParameterError", str(exc))
        if not (limit >= -1 and within(limit, max_limit)):
            return v21_error(400, "InvalidRESTParameterError",
                             (grouped and cfg.group_limit_message)
                             or f"Invalid value for limit API parameter: {limit} was found but "
                                f"-1 <= limit {below} {max_limit} is expected.")  # fmt: skip
        if limit == -1:
            limit = max_limit - 1 if strict else max_limit
        if offset < 0:
            return v21_error(400, "InvalidRESTParameterError",
                             f"Invalid value for offset API parameter: {offset} was found but "
                             "offset >= 0 is expected.")  # fmt: skip
        if not within(offset + limit, cap):
            return v21_error(400, "InvalidRESTParameterError",
                             (grouped and cfg.group_limit_message)
                             or f"Invalid value for sum of offset + limit API parameter: "
                                f"{offset + limit} was found but {below} {cap} is expected.")  # fmt: skip
        schema = self.schema
        items = parse_select(params.get("select", ""), schema, self.names)
        rows = self.select_rows(params)
        aggregates = [it for it in items if it.func]
        drift = self.count_drift()
        if grouped or aggregates:
            results = self.aggregate(params, items, rows, schema, drift)
            body: dict[str, Any] = {"results": results[offset : offset + limit]}
            if self.config.grouped_total_count:
                body = {"total_count": len(results), **body}
            return json_response(body)
        if params.get("order_by", "").strip():
            rows = sort_rows(rows, parse_order_by(params["order_by"], schema, []), schema)
        page = rows[offset : offset + limit]
        return json_response(
            {
                "total_count": len(rows) + (drift(rows) if drift else 0),
                "results": [{it.label: r[schema.index[it.field]] for it in items} for r in page],
            }
        )

    def count_drift(self) -> Any:
        """``extra(rows) -> int`` for this answer's row counts, or None (counts agree)."""
        cfg = self.config
        if not cfg.count_drift or cfg.count_drift_times == 0:
            return None
        if cfg.count_drift_times > 0:
            cfg.count_drift_times -= 1
        self.counters["drifted"] += 1
        i = INDEX["code_departement"]
        members = [r for r in self.dataset.rows if r[i] == cfg.drift_departement]
        drift = cfg.count_drift
        if drift > 0:
            anchor = {id(r) for r in members[:1]}
            return lambda rows: drift if any(id(r) in anchor for r in rows) else 0
        ghosts = {id(r) for r in members[:-drift]}
        return lambda rows: -sum(1 for r in rows if id(r) in ghosts)

    def aggregate(
        self, params: Any, items: list, rows: list[tuple], schema: Schema, drift: Any = None
    ) -> list[dict]:
        keys = (
            parse_group_by(params["group_by"], schema) if params.get("group_by", "").strip() else []
        )
        plain = [it for it in items if not it.func]
        key_fields = {k for k, _ in keys} | {label for _, label in keys}
        for it in plain:
            if it.field not in key_fields:
                raise ODSQLError(
                    f"ODSQL query is malformed: {it.field} is neither an aggregation nor a "
                    "group_by expression. Clause(s) containing the error(s): select."
                )
        groups: dict[tuple, list[tuple]] = {}
        idx = [schema.index[k] for k, _ in keys]
        for r in rows:
            groups.setdefault(tuple(r[i] for i in idx), []).append(r)
        if not keys:
            groups = {(): rows}
        results = []
        for key, members in groups.items():
            out: dict[str, Any] = {}
            for (name, label), value in zip(keys, key, strict=True):
                shown = next((it.label for it in plain if it.field in (name, label)), label)
                out[shown] = value
            for it in items:
                if it.func:
                    out[it.label] = aggregate(it.func, it.arg, members, schema)
                    if drift is not None and it.func == "count" and it.arg == "*":
                        out[it.label] += drift(members)
                        if keys and not out[it.label]:
                            break  # every row of the group is yet uncounted: no group
            else:
                results.append(out)
        labels = [it.label for it in items]
        if params.get("order_by", "").strip():
            order = parse_order_by(params["order_by"], schema, labels)
            for name, desc in reversed(order):
                results.sort(key=lambda d, n=name: null_last_key(d.get(n), desc), reverse=desc)
        else:
            results.sort(key=lambda d: tuple(null_last_key(d.get(lbl), False) for _, lbl in keys))
        return results

    async def v21_record(
        self, request: web.Request, params: Any, dataset: str, rid: str
    ) -> web.Response:
        if (missing := self.check_dataset(dataset, "v21")) is not None:
            return missing
        i = self.rid_index().get(rid)
        if i is None:
            return v21_error(404, "NotFoundResource", f"The requested record {rid} does not exist.")
        return json_response(self.as_dict(self.dataset.rows[i]))

    def rid_index(self) -> dict[str, int]:
        if self._rid_index is None:
            self._rid_index = {record_id(r): i for i, r in enumerate(self.dataset.rows)}
        return self._rid_index

    async def v21_facets(self, request: web.Request, params: Any, dataset: str) -> web.Response:
        if (missing := self.check_dataset(dataset, "v21")) is not None:
            return missing
        schema = self.schema
        names = list(params.getall("facet", [])) or [
            served for served, orig in zip(self.names, FIELDS, strict=True) if orig in FACETS
        ]
        for name in names:
            schema.getter(name, "facet")
        rows = self.select_rows(params)
        facets = []
        for name in names:
            counts = Counter(r[schema.index[name]] for r in rows)
            values = sorted(
                ((v, n) for v, n in counts.items() if v is not None), key=lambda x: -x[1]
            )
            facets.append({"name": name, "facets": [
                {"name": str(v), "count": n, "state": "displayed", "value": str(v)} for v, n in values
            ]})  # fmt: skip
        return json_response({"links": [], "facets": facets})

    async def v21_export_list(
        self, request: web.Request, params: Any, dataset: str
    ) -> web.Response:
        if (missing := self.check_dataset(dataset, "v21")) is not None:
            return missing
        base = f"{request.scheme}://{request.host}{request.path.rstrip('/')}"
        formats = ["csv", "fgb", "geojson", "gpx", "json", "jsonl", "jsonld", "kml", "n3",
                   "ov2", "parquet", "rdfxml", "shp", "turtle", "xlsx"]  # fmt: skip
        return json_response({"links": [{"rel": f, "href": f"{base}/{f}"} for f in formats]})

    async def v21_export(
        self, request: web.Request, params: Any, dataset: str, fmt: str
    ) -> web.StreamResponse:
        if (missing := self.check_dataset(dataset, "v21")) is not None:
            return missing
        if fmt not in ("json", "jsonl", "csv"):
            return v21_error(400, "InvalidRESTParameterError",
                             f"Export format {fmt} is not available on this emulator.")  # fmt: skip
        try:
            limit = parse_int(params, "limit", -1)
        except BadParameter as exc:
            return v21_error(400, "InvalidRESTParameterError", str(exc))
        if limit < -1:
            return v21_error(400, "InvalidRESTParameterError",
                             f"Invalid value for limit API parameter: {limit} was found but "
                             "limit >= -1 is expected.")  # fmt: skip
        schema = self.schema
        items = parse_select(params.get("select", ""), schema, self.names)
        rows = self.select_rows(params)
        if params.get("order_by", "").strip():
            rows = sort_rows(rows, parse_order_by(params["order_by"], schema, []), schema)
        if limit >= 0:
            rows = rows[:limit]
        labels = [it.label for it in items]
        idx = [schema.index[it.field] for it in items]
        self.counters["exports"] += 1
        chunks = self.encode_export(fmt, rows, labels, idx, params)
        headers = {
            "Content-Type": {
                "json": JSON_TYPE,
                "jsonl": "application/jsonl; charset=utf-8",
                "csv": "text/csv; charset=utf-8",
            }[fmt],
            "Content-Disposition": f'attachment; filename="{dataset}.{fmt}"',
        }
        return await self.stream(request, chunks, headers, fmt)

    def encode_export(self, fmt: str, rows: list[tuple], labels: list[str], idx: list[int],
                      params: Any) -> Any:  # fmt: skip
        if fmt == "jsonl":
            newline = self.config.jsonl_trailing_newline
            for n, r in enumerate(rows):
                line = json.dumps(
                    dict(zip(labels, (r[i] for i in idx), strict=True)), ensure_ascii=False
                )
                sep = "\n" if newline or n < len(rows) - 1 else ""
                yield (line + sep).encode("utf-8")
        elif fmt == "json":
            yield b"["
            for n, r in enumerate(rows):
                obj = json.dumps(
                    dict(zip(labels, (r[i] for i in idx), strict=True)), ensure_ascii=False
                )
                yield (("," if n else "") + obj).encode("utf-8")
            yield b"]"
        else:
            delimiter = params.get("delimiter", ";")
            if delimiter not in (";", ",", "\t", "|"):
                delimiter = ";"
            bom = params.get("with_bom", "true").lower() != "false"
            yield from csv_lines(rows, labels, idx, delimiter, bom)

    async def stream(self, request: web.Request, chunks: Any, headers: dict[str, str],
                     fmt: str) -> web.StreamResponse:  # fmt: skip
        cfg = self.config
        cut = None
        if cfg.truncate_exports > 0:
            cfg.truncate_exports -= 1
            self.counters["truncated"] += 1
            body = list(chunks)
            if cfg.truncate_mode == "rows":
                keep = int(len(body) * cfg.truncate_at)
                chunks = iter(body[:keep])
            else:
                total = sum(len(c) for c in body)
                cut = max(1, int(total * cfg.truncate_at))
                chunks = iter(body)
        response = web.StreamResponse(status=200, headers=headers)
        self.with_quota_headers(response)  # type: ignore[arg-type]
        response.enable_chunked_encoding()
        await response.prepare(request)
        buffer: list[bytes] = []
        size = sent = 0
        for chunk in chunks:
            if cut is not None and sent + size + len(chunk) >= cut:
                buffer.append(chunk[: cut - sent - size])
                await response.write(b"".join(buffer))
                if cfg.truncate_mode == "abort":
                    # Drop the connection without the final chunk: the client sees data loss.
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                await response.write_eof()
                return response
            buffer.append(chunk)
            size += len(chunk)
            if size >= 65536:
                await response.write(b"".join(buffer))
                sent += size
                buffer, size = [], 0
        if buffer:
            await response.write(b"".join(buffer))
        await response.write_eof()
        return response

    # ------------------------------------------------------------ v1

    def v1_object(self, row: tuple, only: list[str] | None = None) -> dict[str, Any]:
        data = {
            k: v for k, v in self.as_dict(row).items() if v is not None and (not only or k in only)
        }
        return {
            "datasetid": self.config.dataset_id,
            "recordid": record_id(row),
            "fields": data,
            "record_timestamp": f"{self.config.snapshot_date}T04:12:33.418000+00:00",
        }

    async def v1_search(self, request: web.Request, params: Any) -> web.Response:
        dataset = params.get("dataset")
        if not dataset:
            return v1_error(400, "Missing 'dataset' parameter")
        if (missing := self.check_dataset(dataset, "v1")) is not None:
            return missing
        try:
            rows_n = parse_int(params, "rows", 10)
            start = parse_int(params, "start", 0)
        except BadParameter as exc:
            return v1_error(400, str(exc))
        if not -1 <= rows_n <= 10_000:
            return v1_error(400, f"Invalid value for rows API parameter: {rows_n} was found but "
                                 "-1 <= rows <= 10000 is expected.")  # fmt: skip
        if rows_n == -1:
            rows_n = 10_000 - start
        if start < 0 or start + rows_n > 10_000:
            return v1_error(400, f"Invalid value for sum of start + rows API parameter: "
                                 f"{start + rows_n} was found but <= 10000 is expected.")  # fmt: skip
        schema = self.schema
        try:
            rows = self.select_rows(params, family="v1")
        except V1BadRequest as exc:
            return v1_error(400, str(exc))
        sort = params.get("sort", "")
        if sort:
            name = sort.lstrip("-")
            if name not in schema.index:
                return v1_error(400, f"Unknown field: {name}")
            rows = sort_rows(rows, [(name, not sort.startswith("-"))], schema)
        only = [f for f in params.get("fields", "").split(",") if f] or None
        parameters: dict[str, Any] = {"dataset": dataset, "timezone": "UTC", "rows": rows_n,
                                      "format": "json"}  # fmt: skip
        for key in ("q", "lang"):
            if params.get(key):
                parameters[key] = params[key]
        if "start" in params:
            parameters["start"] = start
        if sort:
            parameters["sort"] = [sort]
        if only:
            parameters["fields"] = only
        refine = {k[7:]: v for k, v in params.items() if k.startswith("refine.")}
        if refine:
            parameters["refine"] = refine
        body: dict[str, Any] = {
            "nhits": len(rows),
            "parameters": parameters,
            "records": [self.v1_object(r, only) for r in rows[start : start + rows_n]],
        }
        facets = params.getall("facet", [])
        if facets:
            parameters["facet"] = facets
            groups = []
            for name in facets:
                if name not in schema.index:
                    return v1_error(400, f"Unknown field: {name}")
                counts = Counter(r[schema.index[name]] for r in rows)
                groups.append({"name": name, "facets": [
                    {"name": str(v), "path": str(v), "count": n,
                     "state": "refined" if str(v) == refine.get(name) else "displayed"}
                    for v, n in counts.most_common() if v is not None
                ]})  # fmt: skip
            body["facet_groups"] = groups
        return json_response(body)

    async def v1_download(
        self, request: web.Request, params: Any, dataset: str | None = None
    ) -> web.StreamResponse:
        dataset = dataset or params.get("dataset")
        if not dataset:
            return v1_error(400, "Missing 'dataset' parameter")
        if (missing := self.check_dataset(dataset, "v1")) is not None:
            return missing
        try:
            rows = self.select_rows(params, family="v1")
        except V1BadRequest as exc:
            return v1_error(400, str(exc))
        fmt = params.get("format", "csv")
        names = list(self.names)
        only = [f for f in params.get("fields", "").split(",") if f] or names
        idx = [names.index(f) for f in only if f in names]
        labels = [names[i] for i in idx]
        self.counters["exports"] += 1
        if fmt == "json":

            def gen() -> Any:
                yield b"["
                for n, r in enumerate(rows):
                    yield (
                        ("," if n else "")
                        + json.dumps(self.v1_object(r, labels), ensure_ascii=False)
                    ).encode()
                yield b"]"

            return await self.stream(request, gen(), {"Content-Type": JSON_TYPE}, "json")
        delimiter = params.get("csv_separator", ";") or ";"
        return await self.stream(
            request,
            csv_lines(rows, labels, idx, delimiter[0], bom=False),
            {"Content-Type": "text/csv; charset=utf-8",
             "Content-Disposition": f'attachment; filename="{dataset}.csv"'},
            "csv",
        )  # fmt: skip

    async def v1_dataset(self, request: web.Request, params: Any, dataset: str) -> web.Response:
        if (missing := self.check_dataset(dataset, "v1")) is not None:
            return missing
        meta = self.metadata_v21()
        return json_response({
            "datasetid": self.config.dataset_id,
            "has_records": True,
            "features": ["analyze"],
            "metas": meta["metas"]["default"],
            "attachments": [],
            "alternative_exports": [],
            "billing_plans": [],
            "fields": [
                {"name": f["name"], "label": f["label"], "type": f["type"],
                 "annotations": [{"name": k} for k in f["annotations"]]}
                for f in meta["fields"]
            ],
        })  # fmt: skip

    async def v1_record(
        self, request: web.Request, params: Any, dataset: str, rid: str
    ) -> web.Response:
        if (missing := self.check_dataset(dataset, "v1")) is not None:
            return missing
        i = self.rid_index().get(rid)
        if i is None:
            return v1_error(404, f"Unknown record: {rid}")
        return json_response(self.v1_object(self.dataset.rows[i]))


# ------------------------------------------------------------------ helpers


class BadParameter(ValueError):
    pass


class V1BadRequest(ValueError):
    pass


def parse_int(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadParameter(
            f"Invalid value for {name} API parameter: {raw} was found but an integer is expected."
        ) from None


def null_last_key(value: Any, desc: bool) -> tuple:
    """Sort key putting nulls last whichever the direction, as the portal's ``order_by`` does."""
    if value is None:
        return (0,) if desc else (2,)
    return (1, fold(value) if isinstance(value, str) else value)


def sort_rows(rows: list[tuple], order: list[tuple[str, bool]], schema: Schema) -> list[tuple]:
    out = list(rows)
    for name, desc in reversed(order):
        i = schema.index[name]
        out.sort(key=lambda r, i=i, d=desc: null_last_key(r[i], d), reverse=desc)
    return out


def csv_lines(
    rows: list[tuple], labels: list[str], idx: list[int], delimiter: str, bom: bool
) -> Any:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(labels)
    head = buffer.getvalue()
    yield (("\ufeff" if bom else "") + head).encode("utf-8")
    for r in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if r[i] is None else r[i] for i in idx])
        yield buffer.getvalue().encode("utf-8")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json", charset="utf-8",
    )  # fmt: skip


def v21_error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error_code": code, "message": message}, status)


def v1_error(status: int, message: str) -> web.Response:
    return json_response({"errorcode": 10000, "error": message}, status)


def quota_error(errorcode: int, reset: datetime, unit: str, limit: int) -> web.Response:
    message = (
        "Too many requests on the domain. Please contact the domain administrator."
        if errorcode == 10002
        else "You have exceeded the requests limit for anonymous users."
    )
    body = {
        "errorcode": errorcode,
        "reset_time": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "limit_time_unit": unit,
        "call_limit": limit,
        "error": message,
    }
    response = json_response(body, 429)
    response.set_status(429, "TOO MANY REQUESTS")
    return response


def server_error(status: int) -> web.Response:
    if status == 500:
        return v21_error(500, "InternalServerError", "An internal error occurred.")
    return web.Response(
        status=status,
        text=f"<html><body><h1>{status} {'Bad Gateway' if status == 502 else 'Service Unavailable'}"
        "</h1></body></html>",
        content_type="text/html",
    )
