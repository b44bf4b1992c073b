"""Loopback emulator of France Travail's OAuth2 token endpoint and « Offres d'emploi v2 » API.

Follows the API's documented contract: the token endpoint with its 400 bodies,
search with the documented validation messages, ``range`` windows, 206/200/204
statuses, ``Content-Range``/``Accept-Range`` and rate-limit headers,
``filtresPossibles`` facets, the offer detail and the référentiels, a per-client
token bucket answering 429 + ``Retry-After``, token expiry (401 with an empty
body), and fault knobs.

Where no public source settles how the real API behaves, a knob per possible
answer lets the client be tested under each: how the creation-date bounds are
read (``bound_zone``), whether the upper one is inclusive (``max_inclusive``),
at what precision they compare (``compare_ms``), the window cap (``max_start``)
and the rate (``rate_per_second``/``rate_burst``). ``stats()["inside_retry_after"]``
counts the calls a client made before the instant a 429's ``Retry-After`` allowed.

Both the token URL and the API base point at this one server:
``FT_TOKEN_URL=<url>/connexion/oauth2/access_token?realm=/partenaire`` and
``FT_API_URL=<url>``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import string
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakeapi.cpfdata import DEPARTEMENT_NAMES, REGIONS
from tests.fakeapi.faults import FaultKnobs, before_answer, maybe_cut
from tests.fakeapi.ftdata import (
    JOBS,
    NATURES_CONTRATS,
    QUALIFICATIONS,
    TYPES_CONTRATS,
    FtDataset,
    FtDatasetConfig,
    Offer,
)
from tests.fakeapi.server import client_gone

API = "/partenaire/offresdemploi/v2"
JSON_TYPE = "application/json;charset=UTF-8"
CLIENT_ID = "PAR_cpffttest_0f3b6c1d2e4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4"
# Test credentials of the emulator only; not a real secret.
CLIENT_SECRET = "9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877665544"
GRANDS_DOMAINES = (
    "A, B, C, C15, D, E, F, G, H, I, J, K, L, L14, M15, M18, M, M16, M17, M13, M14 ou N"
)
BOOLEANS = ("tempsPlein", "inclureLimitrophes", "accesTravailleurHandicape",
            "employeursHandiEngages", "entreprisesAdaptees", "offresMRS", "offresManqueCandidats")  # fmt: skip
DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@dataclass
class FtConfig(FtDatasetConfig, FaultKnobs):
    """Dataset knobs (inherited; changing one regenerates the offers), plus these."""

    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    token_lifetime: int = 1499
    scope_prefix: str = "accept"  # accept | require | reject the application_<id> scope
    # --- rate limit (per client id): a token bucket refilled at rate_per_second, holding at
    # most rate_burst calls; None = as many as one second of the rate (at least 1).
    rate_per_second: float = 10.0
    rate_burst: int | None = None
    # The real API states its limiter in X-Ratelimit-*-Clientidlimiter headers; False hides
    # them (a gateway that strips them), so a client must find the rate from 429s alone.
    rate_headers_sent: bool = True
    limit_token_endpoint: bool = False
    storm_calls: int = 0  # the next N API calls get 429
    storm_every: int = 0  # every N API calls, a new storm of storm_calls 429s (0 = never)
    storm_retry_after: int = 2
    # --- what no public source settles, one switch per possible answer
    # (docs/api-francetravail.md, « Points non tranchés »)
    last_page_206: bool = False  # True: 206 unless the window holds the whole set
    both_origins_by_default: bool = True
    detail_missing_status: int = 204
    # How minCreationDate/maxCreationDate (yyyy-MM-ddTHH:mm:ssZ, always with a literal Z) are
    # read: "UTC" as the Z says; "Europe/Paris" (any IANA zone): the wall time is Paris local
    # time despite the Z (an ambiguous autumn wall time is the earlier instant, fold=0; a
    # nonexistent spring one is whatever zoneinfo gives with fold=0); "+02:00" / "-05:00": the
    # wall time is in that fixed offset. dateCreation in bodies is always true UTC.
    bound_zone: str = "UTC"
    max_inclusive: bool = True  # maxCreationDate includes its bound (minCreationDate always does)
    # False: the bounds compare with the creation time truncated to the second. True: with the
    # creation time to the millisecond, as dateCreation shows it, the bounds being at .000.
    compare_ms: bool = False
    max_start: int = 3000  # the largest first index of a range window
    # --- faults
    latency_ms: float = 0.0
    fail_rate_5xx: float = 0.0
    fault_seed: int = 5
    publish_every: int = 0  # publish one new offer every N search calls (0 = never)
    withdraw_every: int = 0  # withdraw one random offer every N search calls (0 = never)
    revoke_tokens_every: int = 0  # invalidate every issued token every N API calls (0 = never)
    redirect_search_to: str = ""  # answer search with a 302 to this URL (once)


class FtEmulator:
    def __init__(self, config: FtConfig | None = None, **knobs: Any):
        self.config = config or FtConfig()
        for key, value in knobs.items():
            setattr(self.config, key, value)
        self._dataset: FtDataset | None = None
        self._dataset_key: tuple | None = None
        zone_of(self.config.bound_zone)  # a misspelt zone fails now, not at the first search
        self.reset()

    def reset(self) -> None:
        self.counters: Counter[str] = Counter()
        self.calls: list[dict[str, Any]] = []  # one entry per API call, tokens excluded
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expiry)
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, timestamp)
        self.captured: list[dict[str, str]] = []
        self.fault_rng = random.Random(self.config.fault_seed)
        self.token_rng = random.Random(self.config.fault_seed + 1)
        self.search_calls = 0
        self.withdrawn: set[str] = set()  # ids withdrawn by withdraw_every
        self.cache: dict[tuple, tuple[list[Offer], list[dict[str, Any]]]] = {}
        # client id -> monotonic instant before which its last 429's Retry-After forbade calls
        self.not_before: dict[str, float] = {}

    @property
    def burst(self) -> int:
        """The bucket's capacity: rate_burst, or by default one second's worth of the rate."""
        if self.config.rate_burst is not None:
            return self.config.rate_burst
        return max(1, math.ceil(self.config.rate_per_second))

    @property
    def dataset(self) -> FtDataset:
        knobs = sorted(f.name for f in fields(FtDatasetConfig))
        key = tuple(getattr(self.config, k) for k in knobs)
        if key != self._dataset_key:
            self._dataset = FtDataset(
                FtDatasetConfig(**{k: getattr(self.config, k) for k in knobs})
            )
            self._dataset_key = key
        assert self._dataset is not None
        return self._dataset

    def sustained_rate(self) -> float:
        """API calls per second between the first and the last call."""
        times = [c["at"] for c in self.calls]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def stats(self) -> dict[str, Any]:
        return {
            "sustained_rps": round(self.sustained_rate(), 2),
            "api_calls": self.counters["api"],
            "token_calls": self.counters["token"],
            "http_429": self.counters["429"],
            "http_401": self.counters["401"],
            "http_5xx": self.counters["5xx"],
            "inside_retry_after": self.counters["inside_retry_after"],
            **{k: self.counters[k] for k in ("slow", "reset", "malformed", "cut")},
            "offers": len(self.dataset.offers),
        }

    def app(self) -> web.Application:
        app = web.Application(middlewares=[client_gone])
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # ------------------------------------------------------------ dispatch

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/_emulator/"):
            return await self.admin(request, path.removeprefix("/_emulator/"))
        if path.startswith("/_capture"):
            self.captured.append(dict(request.headers.items()) | {"path": path})
            return web.json_response({"captured": True})
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if path == "/connexion/oauth2/access_token":
            self.counters["token"] += 1
            if self.config.limit_token_endpoint and (
                limited := self.rate_limit("token-endpoint", api=False)
            ):
                return limited
            return await self.token(request)
        if not path.startswith(API + "/"):
            return web.Response(status=404)
        self.counters["api"] += 1
        self.count_early_call(request)
        if (
            self.config.revoke_tokens_every
            and self.counters["api"] % self.config.revoke_tokens_every == 0
        ):
            self.expire_tokens()
        client = self.authenticate(request)
        self.calls.append({"path": path, "query": dict(request.query), "client": client,
                           "at": time.monotonic()})  # fmt: skip
        if client is None:
            self.counters["401"] += 1
            return web.Response(status=401, headers={
                "WWW-Authenticate": "Bearer", "Cache-Control": "no-store", "Pragma": "no-cache",
                "Content-Type": "application/json",
            })  # fmt: skip
        if self.config.storm_every and self.counters["api"] % self.config.storm_every == 0:
            self.config.storm_calls = max(self.config.storm_calls, 1)
        limited = self.rate_limit(client)
        if limited is not None:
            return limited
        fault = await before_answer(request, self.config, self.fault_rng, self.counters)
        if fault is not None:
            return fault
        if self.config.fail_rate_5xx and self.fault_rng.random() < self.config.fail_rate_5xx:
            self.counters["5xx"] += 1
            status = self.fault_rng.choice([500, 502, 503])
            if status == 500:
                return self.api_error(500, "Erreur technique. Veuillez contacter le support de francetravail.io.",
                                      code="JCS0011G")  # fmt: skip
            return web.Response(status=status, text="<html><body>Bad gateway</body></html>",
                                content_type="text/html")  # fmt: skip
        rel = path.removeprefix(API)
        if rel == "/offres/search":
            response = self.search(request, client)
        elif rel.startswith("/offres/"):
            response = self.detail(rel.removeprefix("/offres/"))
        elif rel.startswith("/referentiel/"):
            response = self.referentiel(rel.removeprefix("/referentiel/"))
        else:
            return web.Response(status=404)
        return await maybe_cut(request, response, self.config, self.fault_rng, self.counters)

    async def admin(self, request: web.Request, action: str) -> web.Response:
        if action == "stats":
            return web.json_response(self.stats())
        if action == "reset" and request.method == "POST":
            self.reset()
            return web.json_response({"status": "ok"})
        if action == "evolve" and request.method == "POST":
            # {"withdraw": n, "update": n, "publish": n}: see FtDataset.evolve.
            wanted = await request.json()
            counts = {k: int(wanted.get(k, 0)) for k in ("withdraw", "update", "publish")}
            return web.json_response(self.dataset.evolve(**counts))
        if action == "config":
            if request.method == "POST":
                for key, value in (await request.json()).items():
                    if not hasattr(self.config, key):
                        return web.json_response({"error": f"unknown knob {key}"}, status=400)
                    if key == "bound_zone":
                        try:
                            zone_of(value)
                        except (ValueError, KeyError):
                            return web.json_response({"error": f"unknown zone {value}"}, status=400)
                    setattr(self.config, key, value)
            return web.json_response(asdict(self.config))
        return web.json_response({"error": "unknown admin call"}, status=404)

    # ------------------------------------------------------------ token

    async def token(self, request: web.Request) -> web.Response:
        realm = request.query.get("realm")
        if request.method != "POST":
            return web.Response(status=405)
        if realm is None:
            return oauth_error("invalid_client", "Client authentication failed")
        if realm not in ("/partenaire", "partenaire"):
            return oauth_error("invalid_request", "Invalid realm")
        form = await request.post()
        grant = form.get("grant_type")
        if grant is None:
            return oauth_error("invalid_request", "Grant type is not set")
        if grant != "client_credentials":
            return oauth_error("unsupported_grant_type", f"Grant type is not supported: {grant}")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id not in self.config.clients or self.config.clients[client_id] != secret:
            return oauth_error("invalid_client", "Client authentication failed")
        scopes = str(form.get("scope", "")).split()
        allowed = {"api_offresdemploiv2", "o2dsoffre", f"application_{client_id}"}
        if self.config.scope_prefix == "reject":
            allowed.discard(f"application_{client_id}")
        unknown = [s for s in scopes if s not in allowed]
        if self.config.scope_prefix == "require" and f"application_{client_id}" not in scopes:
            unknown.append("application_<client_id> missing")
        if unknown or not scopes:
            return oauth_error("invalid_scope", f"Unknown/invalid scope(s): [{', '.join(unknown)}]")
        alphabet = string.ascii_letters + string.digits + "-_"
        token = "".join(self.token_rng.choice(alphabet) for _ in range(27))
        self.tokens[token] = (client_id, time.monotonic() + self.config.token_lifetime)
        body = {"access_token": token, "scope": " ".join(scopes), "token_type": "Bearer",
                "expires_in": self.config.token_lifetime}  # fmt: skip
        return web.Response(text=json.dumps(body), content_type="application/json", charset="UTF-8",
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})  # fmt: skip

    def authenticate(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        entry = self.tokens.get(header[7:])
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def count_early_call(self, request: web.Request) -> None:
        """Count an API call of a client still inside the Retry-After of a 429 it was sent.

        The client is the one its bearer token was issued to, expired or not. A call already
        in flight when the 429 was sent counts too: the emulator cannot tell it apart.
        """
        header = request.headers.get("Authorization", "")
        entry = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if entry is not None and time.monotonic() < self.not_before.get(entry[0], -math.inf):
            self.counters["inside_retry_after"] += 1

    def expire_tokens(self) -> None:
        """Make every token issued so far expire now (tests)."""
        self.tokens = {t: (c, 0.0) for t, (c, _) in self.tokens.items()}

    # ------------------------------------------------------------ rate limit

    def rate_limit(self, client: str, api: bool = True) -> web.Response | None:
        """None if ``client`` may call now, else its 429 (``api``: an API call, whose
        Retry-After is remembered for ``inside_retry_after``)."""
        cfg = self.config
        now = time.monotonic()
        burst = float(self.burst)
        level, last = self.buckets.get(client, (burst, now))
        level = min(burst, level + (now - last) * cfg.rate_per_second)
        storm = cfg.storm_calls > 0
        if storm:
            cfg.storm_calls -= 1
        if storm or level < 1.0:
            self.buckets[client] = (level, now)
            self.counters["429"] += 1
            wait = max(1, (cfg.storm_retry_after if storm
                           else math.ceil((1.0 - level) / cfg.rate_per_second)))  # fmt: skip
            if api:
                self.not_before[client] = max(self.not_before.get(client, -math.inf), now + wait)
            headers = self.rate_headers(level)
            headers.update({"Retry-After": str(wait), "Cache-Control": "no-store",
                            "Pragma": "no-cache"})  # fmt: skip
            return web.Response(status=429, text="", content_type="text/plain", headers=headers)
        self.buckets[client] = (level - 1.0, now)
        return None

    def rate_headers(self, remaining: float) -> dict[str, str]:
        rate = self.config.rate_per_second
        if not self.config.rate_headers_sent:
            return {}
        return {
            "X-Ratelimit-Burst-Capacity-Clientidlimiter": str(self.burst),
            "X-Ratelimit-Replenish-Rate-Clientidlimiter": f"{rate:g}",
            "X-Ratelimit-Requested-Tokens-Clientidlimiter": "1",
            "X-Ratelimit-Remaining-Clientidlimiter": str(max(0, int(remaining))),
        }

    # ------------------------------------------------------------ search

    def api_error(self, status: int, message: str, code: str | None = None) -> web.Response:
        body = {
            "codeHttp": status,
            "message": message,
            "codeErreur": code or str(int(time.time() * 1000)),
        }
        return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json", charset="UTF-8")  # fmt: skip

    def search(self, request: web.Request, client: str) -> web.Response:
        self.search_calls += 1
        cfg = self.config
        if cfg.redirect_search_to:
            target, cfg.redirect_search_to = cfg.redirect_search_to, ""
            return web.Response(status=302, headers={"Location": target})
        if cfg.publish_every and self.search_calls % cfg.publish_every == 0:
            self.dataset.publish()
        if cfg.withdraw_every and self.search_calls % cfg.withdraw_every == 0:
            self.withdrawn.update(self.dataset.withdraw(1))
        params = request.query
        try:
            first, last, predicate = self.parse_search(params)
        except SearchError as exc:
            return self.api_error(400, str(exc))
        matches, facet_counts = self.matching(params, predicate)
        total = len(matches)
        headers = self.rate_headers(self.buckets.get(client, (float(self.burst), 0.0))[0])
        headers["Accept-Range"] = "150"
        if total == 0:
            headers["Content-Range"] = "*/0"
            return web.Response(status=204, headers=headers)
        if first >= total:
            return web.Response(status=204, headers=headers)
        end = min(last, total - 1)
        headers["Content-Range"] = f"offres {first}-{end}/{total}"
        whole = first == 0 and end == total - 1
        status = 200 if (whole or (end == total - 1 and not cfg.last_page_206)) else 206
        body = {"resultats": [o.data for o in matches[first : end + 1]],
                "filtresPossibles": facet_counts}  # fmt: skip
        return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json", charset="UTF-8", headers=headers)  # fmt: skip

    def matching(self, params: Any, predicate: Any) -> tuple[list[Offer], list[dict[str, Any]]]:
        """Sorted matches and facets of a query; the pages of one query share them.

        Caching is only a speed-up (filtering 25 000 offers costs ~0.1 s): the
        result is what filtering again would give, since the key changes whenever
        an offer is published, withdrawn or updated.
        """
        cfg = self.config
        key = (
            self.dataset.version,
            tuple(sorted((k, v) for k, v in params.items() if k != "range")),
            # the knobs that change what a query matches
            (cfg.bound_zone, cfg.max_inclusive, cfg.compare_ms, cfg.both_origins_by_default),
        )
        if key in self.cache:
            return self.cache[key]
        matches = [o for o in self.dataset.offers if predicate(o)]
        if params.get("sort", "0") == "1":
            matches.sort(key=lambda o: (o.created, o.data["id"]), reverse=True)
        else:
            matches.sort(key=lambda o: (hash_rank(o.data["id"]), o.created), reverse=True)
        if len(self.cache) >= 16:
            self.cache.pop(next(iter(self.cache)))
        self.cache[key] = (matches, facets(matches))
        return self.cache[key]

    def parse_search(self, params: Any) -> tuple[int, int, Any]:
        """Validate like the real API (first error wins) and build the filter."""
        raw_range = params.get("range", "0-149")
        m = re.fullmatch(r"(\d+)-(\d+)", raw_range)
        if not m or int(m.group(2)) < int(m.group(1)):
            raise SearchError("Format du paramètre « range » incorrect. <entier>-<entier> attendu.")
        first, last = int(m.group(1)), int(m.group(2))
        if last - first + 1 > 150:
            raise SearchError("La plage de résultats demandée est trop importante.")
        if first > self.config.max_start:
            raise SearchError(
                f"La position de début doit être inférieure ou égale à {self.config.max_start}."
            )
        checks: list[Any] = []
        if "sort" in params and params["sort"] not in ("0", "1", "2"):
            raise SearchError("Format du paramètre « sort » incorrect. 0, 1 ou 2 attendu.")
        if "motsCles" in params:
            words = [w.strip().lower() for w in params["motsCles"].split(",")]
            allowed = re.compile(r"[\w @#$%^&+./\-\"]+")
            if len(words) > 7 or any(len(w) < 2 or not allowed.fullmatch(w) for w in words):
                raise SearchError(
                    "Format du paramètre « motsCles » incorrect. 7 mots-clé au maximum séparés par "
                    "des virgules et d'au moins 2 caractères."
                )
            checks.append(lambda o: all(w in o.keywords for w in words))
        if "publieeDepuis" in params:
            if params["publieeDepuis"] not in ("1", "3", "7", "14", "31"):
                raise SearchError(
                    "Format du paramètre « publieeDepuis » incorrect. 1, 3, 7, 14 ou 31 attendu."
                )
            since = datetime.now(UTC) - timedelta(days=int(params["publieeDepuis"]))
            checks.append(lambda o: o.created >= since)
        has_min, has_max = "minCreationDate" in params, "maxCreationDate" in params
        if has_min != has_max:
            raise SearchError(
                "Paramètres « minCreationDate » et « maxCreationDate » : les paramètres sont "
                "dépendants et doivent être renseignés ensemble."
            )
        if has_min:
            zone = zone_of(self.config.bound_zone)
            bounds = []
            for name in ("minCreationDate", "maxCreationDate"):
                if not DATE.fullmatch(params[name]):
                    raise SearchError(
                        f"Format du paramètre « {name} » incorrect. yyyy-MM-ddTHH:mm:ssZ attendu."
                    )
                # The wall time, read in bound_zone whatever the Z says (fold=0), as UTC.
                wall = datetime.strptime(params[name], "%Y-%m-%dT%H:%M:%SZ")
                bounds.append(wall.replace(tzinfo=zone).astimezone(UTC))
            low, high = bounds
            if self.config.compare_ms:
                # The creation time as dateCreation shows it (milliseconds, truncated) against
                # bounds at .000.
                def created(o: Offer) -> datetime:
                    return o.created.replace(microsecond=o.created.microsecond // 1000 * 1000)
            else:
                # The creation time truncated to the second.
                def created(o: Offer) -> datetime:
                    return o.created.replace(microsecond=0)

            if self.config.max_inclusive:
                checks.append(lambda o: low <= created(o) <= high)
            else:
                checks.append(lambda o: low <= created(o) < high)
        if "departement" in params:
            deps = params["departement"].split(",")
            if len(deps) > 5:
                raise SearchError(
                    "Le nombre de départements maximum autorisé pour la recherche est de 5"
                )
            if any(d not in DEPARTEMENT_NAMES for d in deps):
                raise SearchError("Valeur du paramètre « departement » incorrecte.")
            checks.append(lambda o: o.departement in deps)
        if "region" in params:
            region = params["region"]
            if region not in REGIONS:
                raise SearchError("Valeur du paramètre « region » incorrecte.")
            checks.append(lambda o: o.region == region)
        if "commune" in params:
            codes = params["commune"].split(",")
            known = {c["code"]: c for c in self.dataset.communes}
            if len(codes) > 5 or any(c not in known for c in codes):
                raise SearchError("Valeur du paramètre « commune » incorrecte.")
            distance = params.get("distance", "10")
            if not distance.isdigit():
                raise SearchError("Format du paramètre « distance » incorrect. Entier attendu.")
            radius = int(distance)
            centres = [known[c] for c in codes]
            checks.append(lambda o: o.lat is not None and any(
                o.commune == c["code"] or (radius and km(o.lat, o.lon, c["lat"], c["lon"]) <= radius)
                for c in centres
            ))  # fmt: skip
        type_pred = nature_pred = None
        if "typeContrat" in params:
            types = params["typeContrat"].split(",")
            if any(t not in TYPES_CONTRATS for t in types):
                raise SearchError("Valeur du paramètre « typeContrat » incorrecte.")
            type_pred = lambda o: o.data["typeContrat"] in types
        if "natureContrat" in params:
            natures = params["natureContrat"].split(",")
            if any(n not in NATURES_CONTRATS for n in natures):
                raise SearchError("Valeur du paramètre « natureContrat » incorrecte.")
            nature_pred = lambda o: o.nature in natures
        if type_pred and nature_pred:  # documented: OR between the two
            checks.append(lambda o: type_pred(o) or nature_pred(o))
        elif type_pred or nature_pred:
            checks.append(type_pred or nature_pred)
        if "codeROME" in params:
            romes = params["codeROME"].split(",")
            if len(romes) > 200 or any(not re.fullmatch(r"[A-N]\d{4}", r) for r in romes):
                raise SearchError("Valeur du paramètre « codeROME » incorrecte.")
            checks.append(lambda o: o.data["romeCode"] in romes)
        if "appellation" in params:
            apps = params["appellation"].split(",")
            if any(not a.isdigit() for a in apps):
                raise SearchError("Valeur du paramètre « appellation » incorrecte.")
            checks.append(lambda o: o.extra["app"] in apps)
        if "secteurActivite" in params:
            sectors = params["secteurActivite"].split(",")
            if len(sectors) > 2 or any(not re.fullmatch(r"\d{2}", s) for s in sectors):
                raise SearchError("Valeur du paramètre « secteurActivite » incorrecte.")
            checks.append(lambda o: o.data.get("secteurActivite") in sectors)
        if "codeNAF" in params:
            nafs = params["codeNAF"].split(",")
            if len(nafs) > 2 or any(not re.fullmatch(r"\d{2}\.\d{2}[A-Z]", n) for n in nafs):
                raise SearchError("Valeur du paramètre « codeNAF » incorrecte.")
            checks.append(lambda o: o.data.get("codeNAF") in nafs)
        if "experience" in params:
            if params["experience"] not in ("0", "1", "2", "3", "4"):
                raise SearchError(
                    "Format du paramètre « experience » incorrect. 0, 1, 2, 3 ou 4 attendu."
                )
            exp = params["experience"]
            checks.append(lambda o: o.experience == exp)
        if "experienceExigence" in params:
            if params["experienceExigence"] not in ("D", "E", "S"):
                raise SearchError(
                    "Format du paramètre « experienceExigence » incorrect. D, E ou S attendu."
                )
            need = params["experienceExigence"]
            checks.append(lambda o: o.data["experienceExige"] == need)
        if "qualification" in params:
            if params["qualification"] not in ("0", "9"):
                raise SearchError(
                    "Format du paramètre « qualification » incorrect. 0 ou 9 attendu."
                )
            qual = params["qualification"]
            checks.append(lambda o: o.qualification == qual)
        if "grandDomaine" in params and params["grandDomaine"] not in GRANDS_DOMAINES.replace(
            " ou ", ", "
        ).split(", "):
            raise SearchError(
                f"Format du paramètre « grandDomaine » incorrect. {GRANDS_DOMAINES} attendu."
            )
        if "grandDomaine" in params:
            grand = params["grandDomaine"]
            checks.append(lambda o: o.data["romeCode"].startswith(grand))
        for name in BOOLEANS:
            if name in params and params[name] not in ("true", "false"):
                raise SearchError(f"Format du paramètre « {name} » incorrect. Booléen attendu.")
        if "tempsPlein" in params:
            full = params["tempsPlein"] == "true"
            checks.append(
                lambda o: (o.data["dureeTravailLibelleConverti"] == "Temps plein") == full
            )
        if "origineOffre" in params:
            if params["origineOffre"] not in ("1", "2"):
                raise SearchError("Format du paramètre « origineOffre » incorrect. 1 ou 2 attendu.")
            origin = params["origineOffre"]
            checks.append(lambda o: o.data["origineOffre"]["origine"] == origin)
        elif not self.config.both_origins_by_default:
            checks.append(lambda o: o.data["origineOffre"]["origine"] == "1")
        if ("salaireMin" in params) != ("periodeSalaire" in params):
            raise SearchError(
                "Paramètres « salaireMin » et « periodeSalaire » : les paramètres sont dépendants et "
                "doivent être renseignés ensemble."
            )
        if "periodeSalaire" in params and params["periodeSalaire"] not in ("M", "A", "H", "C"):
            raise SearchError(
                "Format du paramètre « periodeSalaire » incorrect. M, A, H ou C attendu."
            )
        return first, last, lambda o: all(check(o) for check in checks)

    # ------------------------------------------------------------ detail, référentiels

    def detail(self, offer_id: str) -> web.Response:
        if not re.fullmatch(r"[0-9A-Z]{7}", offer_id):
            return self.api_error(400, "Le format de l'id de l'offre recherchée est incorrect.")
        for offer in self.dataset.offers:
            if offer.data["id"] == offer_id:
                return web.Response(text=json.dumps(offer.data, ensure_ascii=False),
                                    content_type="application/json", charset="UTF-8")  # fmt: skip
        return web.Response(status=self.config.detail_missing_status)

    def referentiel(self, name: str) -> web.Response:
        data = {
            "regions": [{"code": c, "libelle": n} for c, (n, _) in REGIONS.items()],
            "departements": [
                {"code": d, "libelle": n, "region": {"code": r, "libelle": REGIONS[r][0]}}
                for r, (_, deps) in REGIONS.items()
                for d in deps
                for n in [DEPARTEMENT_NAMES[d]]
            ],
            "communes": [
                {k: c[k] for k in ("code", "libelle", "codePostal", "codeDepartement")}
                for c in self.dataset.communes
            ],
            "typesContrats": [{"code": c, "libelle": n} for c, n in TYPES_CONTRATS.items()],
            "naturesContrats": [{"code": c, "libelle": n} for c, n in NATURES_CONTRATS.items()],
            "metiers": [{"code": j[0], "libelle": j[1]} for j in JOBS],
            "appellations": [{"code": j[2], "libelle": j[3]} for j in JOBS],
            "secteursActivites": [{"code": j[6][:2], "libelle": j[7]} for j in JOBS],
            "nafs": [{"code": j[6], "libelle": j[7]} for j in JOBS],
            "niveauxFormations": [{"code": "NV1", "libelle": "Bac+5 et plus ou équivalents"}],
            "permis": [{"code": "B", "libelle": "B - Véhicule léger"}],
            "langues": [{"code": "EN", "libelle": "Anglais"}],
            "pays": [{"code": "01", "libelle": "France"}],
            "continents": [{"code": "01", "libelle": "Europe"}],
            "domaines": [{"code": j[0][:3], "libelle": j[1]} for j in JOBS],
            "themes": [{"code": "01", "libelle": "Thème"}],
            "qualifications": [{"code": c, "libelle": n} for c, n in QUALIFICATIONS.items()],
        }.get(name)
        if data is None:
            return web.Response(status=404)
        return web.Response(text=json.dumps(data, ensure_ascii=False),
                            content_type="application/json", charset="UTF-8")  # fmt: skip


class SearchError(ValueError):
    pass


@lru_cache(maxsize=32)
def zone_of(name: str) -> tzinfo:
    """bound_zone as a tzinfo: "UTC", a fixed offset "+HH:MM"/"-HH:MM", or an IANA zone name."""
    if name == "UTC":
        return UTC
    if m := re.fullmatch(r"([+-])(\d{2}):(\d{2})", name):
        offset = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(-offset if m.group(1) == "-" else offset)
    return ZoneInfo(name)


def oauth_error(error: str, description: str) -> web.Response:
    return web.Response(
        status=400,
        text=json.dumps({"error": error, "error_description": description}),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def hash_rank(offer_id: str) -> int:
    """A stable stand-in for relevance (sort=0)."""
    return sum(ord(c) * 31**i for i, c in enumerate(offer_id)) % 1_000_003


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(a))


def facets(offers: list[Offer]) -> list[dict[str, Any]]:
    """``filtresPossibles`` over the whole matching set, four facets, non-zero buckets."""
    values = {
        "typeContrat": Counter(o.data["typeContrat"] for o in offers),
        "experience": Counter(o.experience for o in offers),
        "qualification": Counter(o.qualification or "X" for o in offers),
        "natureContrat": Counter(o.nature for o in offers),
    }
    return [
        {"filtre": name, "agregation": [
            {"valeurPossible": v, "nbResultats": n} for v, n in sorted(counts.items())
        ]}
        for name, counts in values.items()
    ]  # fmt: skip
