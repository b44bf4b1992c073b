"""``scrapy sonde``: measure, once and on the live services, what their contracts leave open.

Read-only and at most :data:`MAX_CALLS` calls (about a dozen in practice), one at a
time. What it measures, and why the crawls care:

Opendatasoft (the CPF catalogue)
  - the dataset's field names (renamed, missing or new fields);
  - the grouped ``limit`` the portal accepts: its published text wants ``offset +
    limit`` *below* 20 000, portals accept 20 000 or refuse only above; a refusal is
    read for the bound it states and the next smaller limit tried, as the cpf spider does;
  - the shape of a JSON Lines export (one JSON object per line, the known fields) and
    whether its rows agree with the count of the same rows (they disagree while the
    portal reindexes): on the smallest département, so the export is small.

France Travail (the offers)
  - the token's lifetime (``expires_in``), as the OAuth middleware read it;
  - the rate limiter's headers (``X-Ratelimit-*-Clientidlimiter``: burst capacity and
    replenish rate, i.e. the application's real per-second quota), or their absence;
  - the :mod:`cpfft.offres.calibration` a crawl runs: the zone the creation-date bounds
    are read in, the slack of ``maxCreationDate`` (inclusive to the second, to the
    millisecond, or exclusive) and the window cap;
  - whether the last page of a multi-page answer comes as 200 or 206 (sources disagree).

The probe is a generator (:meth:`Sonde.steps`) that yields :class:`Call` and is sent
each :class:`Answer`, so it holds no I/O; :mod:`cpfft.commands.sonde` runs it through
Scrapy (the token, the pace and the retries of a crawl). The result is a JSON
profile whose ``knobs`` are named as the emulators' (``tests/fakeapi``) settings, so
that ``python -m tests.fakeapi francetravail --profile sonde.json`` serves what the
live service does, and a French report (:func:`report`).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from cpfft.cpf.plan import (
    SchemaError,
    is_limit_refusal,
    limit_rule,
    next_group_limit,
    parse_groups,
    parse_metadata,
    quote,
)
from cpfft.offres.bounds import (
    EXCLUSIVE,
    INCLUSIVE_MS,
    INCLUSIVE_SECOND,
    SECOND,
    Reading,
    parse_created,
    utc_text,
)
from cpfft.offres.calibration import Calibration, Seen
from cpfft.offres.search import parse_content_range

ODS = "opendatasoft"
FT = "francetravail"
SOURCES = {"cpf": ODS, "offres": FT}
MAX_CALLS = 20
PROFILE_VERSION = 1
GROUP_LIMIT = 20_000  # the grouped limit the cpf spider asks first
SEARCH_PATH = "/partenaire/offresdemploi/v2/offres/search"
RATE_HEADER = "x-ratelimit-{}-clientidlimiter"
LAST_PAGE_SPAN = (600, 7200, 86400)  # seconds of the windows tried for the last-page probe


class Unreachable(Exception):
    """A probe call failed for good (network down, retries exhausted)."""


@dataclass
class Call:
    """One GET the probe wants: ``path`` under the dataset (ODS) or the API (FT)."""

    api: str
    path: str
    params: dict[str, Any]
    purpose: str


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def message(self) -> str:
        payload = self.json()
        if isinstance(payload, dict):
            return str(payload.get("message") or payload.get("error") or "")
        return ""


def search_seen(answer: Answer) -> Seen:
    """A France Travail search answer as the calibration reads it."""
    payload = answer.json() if answer.status != 204 else {}
    if answer.status == 400:
        return Seen(400, message=answer.message() or "HTTP 400")
    offers = []
    if isinstance(payload, dict):
        for offer in payload.get("resultats") or []:
            try:
                offers.append((str(offer["id"]), parse_created(offer["dateCreation"])))
            except (KeyError, TypeError, ValueError):
                continue
    window = parse_content_range(answer.headers.get("content-range"))
    return Seen(answer.status, window[2] if window else len(offers), offers)


@dataclass
class Sonde:
    now_ms: int
    oldest: str = "2000-01-01T00:00:00Z"
    sources: tuple[str, ...] = (ODS, FT)
    #: Filled by the adapter from the OAuth middleware: ``expires_in`` as answered.
    token_lifetime: Any = None
    profile: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    calls: int = 0

    def __post_init__(self) -> None:
        self.profile = {
            "cpfft_sonde": PROFILE_VERSION,
            "measured_at": utc_text(self.now_ms // 1000),
        }
        for source in self.sources:
            self.profile[source] = {"knobs": {}, "measured": {}, "calls": 0, "notes": []}

    def steps(self) -> Generator[Call, Answer, None]:
        """Yield each call; the adapter sends its answer, or throws :class:`Unreachable`
        into it when the call failed for good (that source's probe then stops)."""
        for source, probe in ((ODS, self._opendatasoft), (FT, self._francetravail)):
            if source not in self.sources:
                continue
            try:
                yield from probe()
            except Unreachable as exc:
                self.problem(source, str(exc))
        if FT in self.sources:
            lifetime = self.token_lifetime
            if isinstance(lifetime, (int, float)) and lifetime > 0:
                self.profile[FT]["knobs"]["token_lifetime"] = int(lifetime)
            self.profile[FT]["measured"]["token_expires_in"] = lifetime

    def ask(self, call: Call) -> Generator[Call, Answer, Answer]:
        if self.calls >= MAX_CALLS:  # never reached by the steps below; a guard for edits
            raise RuntimeError(f"the probe would exceed {MAX_CALLS} calls")
        self.calls += 1
        self.profile[call.api]["calls"] += 1
        return (yield call)

    def note(self, source: str, text: str) -> None:
        self.profile[source]["notes"].append(text)

    def problem(self, source: str, text: str) -> None:
        self.problems.append(f"{source}: {text}")
        self.note(source, f"non mesuré : {text}")

    # ------------------------------------------------------------ Opendatasoft

    def _opendatasoft(self) -> Generator[Call, Answer, None]:
        section = self.profile[ODS]
        measured, knobs = section["measured"], section["knobs"]
        meta = yield from self.ask(Call(ODS, "", {}, "métadonnées du jeu de données"))
        try:
            if meta.status != 200:
                raise SchemaError(f"HTTP {meta.status} {meta.message()}".strip())
            schema = parse_metadata(meta.json())
            departement = schema.field("code_departement")
        except SchemaError as exc:
            self.problem(ODS, f"métadonnées : {exc}")
            return
        measured["fields_renamed"] = {c: a for c, a in schema.actual.items() if a != c}
        measured["fields_missing"] = schema.missing
        measured["fields_new"] = schema.extra
        measured["records_count"] = schema.records_count
        quota = {k: meta.headers.get(f"x-ratelimit-{k}") for k in ("limit", "remaining", "reset")}
        measured["quota_headers"] = {k: v for k, v in quota.items() if v is not None}

        limit, refusals = GROUP_LIMIT, []
        count_params = {"select": f"{departement}, count(*) as n", "group_by": departement}
        while True:
            answer = yield from self.ask(
                Call(
                    ODS,
                    "/records",
                    {**count_params, "limit": limit},
                    f"comptage groupé limit={limit}",
                )
            )
            message = answer.message()
            if answer.status == 200:
                break
            smaller = (
                next_group_limit(limit, message)
                if is_limit_refusal(answer.status, message)
                else None
            )
            if smaller is None or len(refusals) >= 3:
                self.problem(
                    ODS, f"comptage groupé refusé (HTTP {answer.status} {message})".strip()
                )
                return
            refusals.append({"limit": limit, "message": message})
            limit = smaller
        measured["group_limit_accepted"] = limit
        measured["group_limit_refusals"] = refusals
        rule = limit_rule(refusals[0]["message"]) if refusals else None
        if rule is not None:
            operator, bound = rule
            knobs["group_limit_max"] = bound
            knobs["group_limit_strict"] = operator == "<"
        else:
            knobs["group_limit_max"] = limit
            knobs["group_limit_strict"] = False
            if refusals:
                knobs["group_limit_message"] = refusals[0]["message"]
        try:
            groups = parse_groups(answer.json(), (departement,))
        except SchemaError as exc:
            self.problem(ODS, f"comptage groupé illisible : {exc}")
            return
        counted = sorted((n, key[0]) for key, n in groups if key[0] is not None and n > 0)
        if not counted:
            self.problem(ODS, "aucun département compté")
            return
        rows, code = counted[0]
        where = f"{departement} = {quote(code)}"
        export = yield from self.ask(
            Call(
                ODS,
                "/exports/jsonl",
                {"where": where, "limit": -1},
                f"export JSONL du département {code}",
            )
        )
        if export.status != 200:
            self.problem(ODS, f"export JSONL : HTTP {export.status} {export.message()}".strip())
            return
        lines = [line for line in export.body.split(b"\n") if line.strip()]
        shapes, keys = set(), set()
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                shapes.add("ligne non JSON")
                continue
            if isinstance(value, dict):
                keys.update(value)
            else:
                shapes.add(f"ligne JSON {type(value).__name__}, pas un objet")
        known = set(schema.actual.values())
        measured["export"] = {
            "departement": code,
            "counted": rows,
            "exported": len(lines),
            "problems": sorted(shapes),
            "fields_not_in_metadata": sorted(keys - known - set(schema.extra)),
            "fields_absent": sorted(known - keys) if lines else [],
        }
        if rows != len(lines):
            knobs["count_drift"] = rows - len(lines)
            knobs["drift_departement"] = code
        else:
            knobs["count_drift"] = 0

    # ------------------------------------------------------------ France Travail

    def _francetravail(self) -> Generator[Call, Answer, None]:
        section = self.profile[FT]
        measured, knobs = section["measured"], section["knobs"]
        first = yield from self.ask(
            Call(FT, SEARCH_PATH, {"sort": "1", "range": "0-149"}, "première page nationale")
        )
        if first.status not in (200, 206):
            self.problem(FT, f"première page : HTTP {first.status} {first.message()}".strip())
            return
        measured["first_page"] = {"status": first.status, "total": search_seen(first).total}
        limiter = {
            name: first.headers.get(RATE_HEADER.format(name))
            for name in ("burst-capacity", "replenish-rate", "requested-tokens", "remaining")
        }
        measured["rate_headers"] = {k: v for k, v in limiter.items() if v is not None}
        knobs["rate_headers_sent"] = bool(measured["rate_headers"])
        for name, knob, kind in (("replenish-rate", "rate_per_second", float),
                                 ("burst-capacity", "rate_burst", int)):  # fmt: skip
            try:
                number = float(limiter[name] or "")
            except ValueError:
                continue
            if 0 < number < 10_000:
                knobs[knob] = kind(number)

        calibration = Calibration(self.now_ms, self.oldest)
        steps = calibration.steps()
        probe = next(steps)
        while True:
            answer = yield from self.ask(
                Call(FT, SEARCH_PATH, {**probe.params, "sort": "1"}, probe.purpose)
            )
            try:
                probe = steps.send(search_seen(answer))
            except StopIteration:
                break
        measured["calibration_notes"] = calibration.notes
        measured["calibration_calls"] = calibration.calls
        knobs["max_start"] = calibration.cap
        reading = calibration.reading
        if reading is None:
            self.problem(FT, f"calibration : {calibration.failure}")
            return
        measured["bounds"] = reading.describe()
        knobs["bound_zone"] = reading.zone
        slack = reading.slack
        knobs["max_inclusive"] = slack in (INCLUSIVE_SECOND, INCLUSIVE_MS)
        knobs["compare_ms"] = slack == INCLUSIVE_MS
        if slack not in (INCLUSIVE_SECOND, INCLUSIVE_MS, EXCLUSIVE):
            self.note(
                FT,
                "borne haute : exclusive ou inclusive à la milliseconde (aucune offre créée à "
                "une seconde ronde pour les départager) ; le profil retient « exclusive »",
            )
        yield from self._last_page(reading, calibration)

    def _last_page(
        self, reading: Reading, calibration: Calibration
    ) -> Generator[Call, Answer, None]:
        """200 or 206 for the last page of a multi-page answer: a window around a known
        offer holding 2 … cap+1 offers, asked for its last offer alone."""
        section = self.profile[FT]
        newest = max(calibration.known.values())
        for span in LAST_PAGE_SPAN:
            second = newest // SECOND
            params = {
                "minCreationDate": reading.encode_min(second - span),
                "maxCreationDate": reading.encode_max(second),
                "range": "0-0",
            }
            seen = search_seen(
                (
                    yield from self.ask(
                        Call(FT, SEARCH_PATH, {**params, "sort": "1"}, "taille d'une fenêtre")
                    )
                )
            )
            if seen.total < 2:
                continue
            if seen.total - 1 > calibration.cap:
                break
            last = seen.total - 1
            params["range"] = f"{last}-{last}"
            answer = yield from self.ask(
                Call(FT, SEARCH_PATH, {**params, "sort": "1"}, "dernière page")
            )
            if answer.status in (200, 206):
                section["knobs"]["last_page_206"] = answer.status == 206
                section["measured"]["last_page_status"] = answer.status
                return
            break
        self.note(FT, "statut de la dernière page non mesuré (pas de fenêtre de taille utilisable)")


# ------------------------------------------------------------ the French report

ZONES = {
    "UTC": "en UTC, comme le dit le « Z »",
    "Europe/Paris": "en heure de Paris malgré le « Z »",
}
SLACKS = {
    (True, False): "maxCreationDate inclut sa seconde",
    (True, True): "maxCreationDate inclusive, comparée à la milliseconde",
    (False, False): "maxCreationDate exclusive",
}


def spaced(n: float) -> str:
    return f"{n:,}".replace(",", " ")


def calls_text(n: int) -> str:
    return f"{n} appel" + ("s" if n > 1 else "")


def report(profile: dict[str, Any], max_rps: float, saved_to: str | None) -> list[str]:
    """The short French report of a probe, with what to do about each finding."""
    sources = [s for s in (ODS, FT) if s in profile]
    calls = sum(profile[s]["calls"] for s in sources)
    lines = [f"Sonde cpfft du {profile['measured_at']} : {calls_text(calls)}, lecture seule"]
    if ODS in profile:
        lines += _ods_lines(profile[ODS])
    if FT in profile:
        lines += _ft_lines(profile[FT], max_rps)
    for source in sources:
        lines += [f"  remarque ({source}) : {note}" for note in profile[source]["notes"]]
    if saved_to:
        lines.append(f"Profil enregistré dans {saved_to}.")
        measured = [s for s in sources if profile[s]["knobs"]]
        if measured:
            lines.append("Pour rejouer ces réponses en local (depuis un clone de cpfft) :")
        for source in measured:
            api = "ods" if source == ODS else FT
            lines.append(f"  python -m tests.fakeapi {api} --profile {saved_to}")
    return lines


def _ods_lines(section: dict[str, Any]) -> list[str]:
    measured, knobs = section["measured"], section["knobs"]
    lines = [f"Opendatasoft (catalogue CPF) — {calls_text(section['calls'])}"]
    if "fields_missing" in measured:
        renamed = measured["fields_renamed"]
        parts = [
            f"{len(renamed)} renommé(s)"
            + (f" ({', '.join(f'{c}→{a}' for c, a in renamed.items())})" if renamed else "")
        ]
        parts.append(
            f"{len(measured['fields_missing'])} absent(s)"
            + (f" ({', '.join(measured['fields_missing'])})" if measured["fields_missing"] else "")
        )
        parts.append(
            f"{len(measured['fields_new'])} nouveau(x)"
            + (f" ({', '.join(measured['fields_new'])})" if measured["fields_new"] else "")
        )
        lines.append(f"  champs : {', '.join(parts)} ; cpfft garde ses colonnes stables")
    if "group_limit_accepted" in measured:
        refusals = measured["group_limit_refusals"]
        accepted = spaced(measured["group_limit_accepted"])
        if not refusals:
            lines.append(
                f"  limit groupé : {accepted} accepté (la valeur que cpfft essaie d'abord)"
            )
        else:
            first = refusals[0]
            rule = ("< " if knobs.get("group_limit_strict") else "≤ ") + spaced(
                knobs["group_limit_max"]
            )
            said = f"limite {rule}" if "group_limit_message" not in knobs else "sans dire la limite"
            lines.append(
                f"  limit groupé : {spaced(first['limit'])} refusé ({said}) ; {accepted} accepté — "
                "cpfft s'y adapte seul"
            )
    export = measured.get("export")
    if export:
        shape = (
            "une ligne = un objet JSON" if not export["problems"] else "; ".join(export["problems"])
        )
        agree = (
            "d'accord avec le comptage"
            if export["counted"] == export["exported"]
            else f"le comptage en annonce {spaced(export['counted'])} (réindexation en cours ? "
            "une collecte le signalerait comme manque)"
        )
        lines.append(
            f"  export JSONL (département {export['departement']}) : {spaced(export['exported'])} "
            f"lignes, {shape} ; {agree}"
        )
        if export["fields_not_in_metadata"] or export["fields_absent"]:
            lines.append(
                "  export et métadonnées diffèrent : "
                f"en plus {export['fields_not_in_metadata']}, absents {export['fields_absent']}"
            )
    return lines


def _ft_lines(section: dict[str, Any], max_rps: float) -> list[str]:
    measured, knobs = section["measured"], section["knobs"]
    lines = [f"France Travail (offres) — {calls_text(section['calls'])}, sans compter le jeton"]
    if knobs.get("token_lifetime"):
        lines.append(f"  jeton : valable {knobs['token_lifetime']} s (renouvelé 60 s avant)")
    elif "token_expires_in" in measured:
        lines.append(
            f"  jeton : expires_in illisible ({measured['token_expires_in']!r}) ; cpfft suppose 1499 s"
        )
    if "rate_headers_sent" in knobs:
        rate = knobs.get("rate_per_second")
        if rate:
            burst = knobs.get("rate_burst")
            advice = (
                f"FT_MAX_RPS={max_rps:g} convient"
                if rate >= max_rps
                else f"mettez FT_MAX_RPS={rate:g} (aujourd'hui {max_rps:g}) pour ne jamais recevoir de 429"
            )
            lines.append(f"  débit annoncé : {rate:g} appels/s, rafale {burst} → {advice}")
        else:
            lines.append(
                "  débit : l'API n'envoie pas d'en-têtes X-Ratelimit ; cpfft l'apprendra des 429 "
                "(le résumé d'une collecte dit le débit tenu : reportez-le dans FT_MAX_RPS)"
            )
    if "bound_zone" in knobs:
        zone = ZONES.get(knobs["bound_zone"], f"en UTC{knobs['bound_zone']} malgré le « Z »")
        slack = SLACKS[(knobs["max_inclusive"], knobs["compare_ms"])]
        lines.append(
            f"  bornes de date : lues {zone} ; {slack} ({measured['calibration_calls']} appels ; "
            "chaque collecte le mesure de nouveau)"
        )
    if "max_start" in knobs:
        lines.append(
            f"  fenêtres : début au plus {spaced(knobs['max_start'])} (range={knobs['max_start']}-{knobs['max_start'] + 149})"
        )
    if "last_page_206" in knobs:
        status = measured["last_page_status"]
        lines.append(
            f"  dernière page d'une réponse en plusieurs pages : HTTP {status} (cpfft lit 200 et 206 pareil)"
        )
    return lines
