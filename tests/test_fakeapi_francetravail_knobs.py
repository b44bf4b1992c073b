"""The France Travail emulator's knobs for what no public source settles about the real API.

Each test checks one knob's exact behaviour against the dataset's truth. Expected
sets are computed here from the ``dateCreation`` strings the bodies carry (true
UTC, milliseconds), never with the emulator's own filter.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.fakeapi import FtEmulator, ftdata
from tests.fakeapi.__main__ import build
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET
from tests.fakeapi.ftdata import PARTNER_SUFFIX, FtDataset, FtDatasetConfig
from tests.support.ftapi import SEARCH, TOKEN, call, token_of

# A dataset clock fixed in late November 2026, 300 days deep: it covers both winter time
# (UTC+1 in Paris) and summer time (UTC+2), whenever the tests run.
NOW = "2026-11-29T12:00:00Z"
FAST = {"rate_per_second": 1000}  # these tests page freely: keep the rate limit out of the way


def utc(text: str) -> datetime:
    """A bound's or an offer date's UTC instant, read from its string alone."""
    if len(text) == 20:  # yyyy-MM-ddTHH:mm:ssZ
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def bound(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_at(api: FtEmulator, *moments: datetime) -> list[str]:
    """Add one offer created at each of ``moments``; their ids."""
    return [api.dataset.publish(m).data["id"] for m in moments]


def all_ids(api: FtEmulator, token: str, params: dict[str, str]) -> list[str]:
    """Every id a query returns, window after window."""
    ids: list[str] = []
    first = 0
    while True:
        window = params | {"range": f"{first}-{first + 149}", "sort": "1"}
        status, headers, body = call(api, SEARCH, window, token=token)
        if status == 204:
            return ids
        assert status in (200, 206), (status, body)
        page = json.loads(body)["resultats"]
        ids += [o["id"] for o in page]
        dates = [o["dateCreation"] for o in page]
        assert dates == sorted(dates, reverse=True)  # sort=1: newest first
        if status == 200:
            assert headers["Content-Range"].endswith(f"/{len(ids)}")
            return ids
        first += 150


def truth(api: FtEmulator, low: datetime, high: datetime, *, ms: bool, inclusive: bool) -> set[str]:
    """The offers whose creation, to the second or to the millisecond as their dateCreation
    string shows it, lies in [low, high] (or [low, high) when not inclusive)."""
    out = set()
    for offer in api.dataset.offers:
        text = offer.data["dateCreation"]
        created = utc(text) if ms else utc(text[:19] + "Z")
        if low <= created and (created <= high if inclusive else created < high):
            out.add(offer.data["id"])
    return out


# ---------------------------------------------------------------- bound_zone

WINTER = ("2026-02-10T08:00:00Z", "2026-02-12T18:30:00Z")
SUMMER = ("2026-07-10T08:00:00Z", "2026-07-12T18:30:00Z")


@pytest.mark.parametrize(
    ("zone", "window", "offset_hours"),
    [
        ("UTC", WINTER, 0),
        ("Europe/Paris", WINTER, 1),
        ("Europe/Paris", SUMMER, 2),
        ("+02:00", WINTER, 2),
        ("-05:00", SUMMER, -5),
    ],
)
def test_bound_zone_reads_the_wall_time_in_that_zone(ft, zone, window, offset_hours):
    api = ft(offers=3000, days=300, now=NOW, bound_zone=zone, **FAST)
    offset = timedelta(hours=offset_hours)
    low, high = (utc(b) - offset for b in window)  # the instants the wall times name
    second = timedelta(seconds=1)
    half = timedelta(milliseconds=500)
    before_low, at_low, at_high, within_high, after_high = publish_at(
        api, low - second, low, high, high + half, high + second
    )
    literal = publish_at(api, utc(window[0]), utc(window[1]))  # where the Z alone would put them
    token = token_of(api)[2]["access_token"]
    got = all_ids(api, token, {"minCreationDate": window[0], "maxCreationDate": window[1]})
    assert len(got) == len(set(got))
    expected = truth(api, low, high, ms=False, inclusive=True)
    assert set(got) == expected
    assert {at_low, at_high, within_high} <= expected
    assert not {before_low, after_high} & expected
    # Read as UTC, the window would be shifted by the offset: one of its ends falls outside.
    assert (set(literal) <= expected) == (offset_hours == 0)
    assert len(expected) > 20  # the window holds dataset offers too, not just the edges

    # The cache of matches knows the knob: the same query read as UTC is another answer.
    api.config.bound_zone = "UTC"
    again = all_ids(api, token, {"minCreationDate": window[0], "maxCreationDate": window[1]})
    assert set(again) == truth(api, *map(utc, window), ms=False, inclusive=True)
    assert (set(again) == set(got)) == (offset_hours == 0)


def test_paris_ambiguous_autumn_wall_time_is_the_earlier_instant(ft):
    api = ft(offers=200, days=300, now=NOW, bound_zone="Europe/Paris", **FAST)
    # 2026-10-25: 02:30 in Paris happens twice, at 00:30 UTC (summer time) then 01:30 UTC.
    first, second = publish_at(
        api, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    )
    token = token_of(api)[2]["access_token"]
    one = {"minCreationDate": "2026-10-25T02:30:00Z", "maxCreationDate": "2026-10-25T02:30:00Z"}
    assert set(all_ids(api, token, one)) == {first}
    hour = {"minCreationDate": "2026-10-25T02:00:00Z", "maxCreationDate": "2026-10-25T02:59:59Z"}
    expected = truth(
        api,
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC),
        ms=False,
        inclusive=True,
    )
    assert first in expected
    assert second not in expected
    assert set(all_ids(api, token, hour)) == expected


def test_paris_nonexistent_spring_wall_time_is_what_zoneinfo_gives_with_fold_0(ft):
    api = ft(offers=200, days=300, now=NOW, bound_zone="Europe/Paris", **FAST)
    # 2026-03-29: Paris clocks jump from 02:00 to 03:00; 02:30 never shows on them.
    instant = datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # read with the winter offset
    hit, miss = publish_at(api, instant, instant - timedelta(hours=1))
    token = token_of(api)[2]["access_token"]
    one = {"minCreationDate": "2026-03-29T02:30:00Z", "maxCreationDate": "2026-03-29T02:30:00Z"}
    assert set(all_ids(api, token, one)) == {hit}
    assert miss not in truth(api, instant, instant, ms=False, inclusive=True)


def test_unknown_bound_zone_is_refused_up_front(ft):
    with pytest.raises(KeyError):
        FtEmulator(bound_zone="Europe/Atlantis")
    api = ft(offers=50)
    request = urllib.request.Request(
        api.url + "/_emulator/config",
        data=json.dumps({"bound_zone": "Europe/Atlantis"}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()
    assert refused.value.code == 400
    assert api.config.bound_zone == "UTC"


# ---------------------------------------------------------------- max_inclusive, compare_ms


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("ms", [False, True])
def test_max_bound_inclusion_and_precision(ft, inclusive, ms):
    api = ft(offers=2000, days=300, now=NOW, max_inclusive=inclusive, compare_ms=ms, **FAST)
    low = datetime(2026, 5, 4, 6, 0, 0, tzinfo=UTC)
    high = datetime(2026, 5, 6, 9, 15, 30, tzinfo=UTC)
    edges = {
        "low - 1 ms": low - timedelta(milliseconds=1),
        "low .000": low,
        "low .500": low + timedelta(milliseconds=500),
        "high - 1 ms": high - timedelta(milliseconds=1),
        "high .000": high,
        "high .000400": high + timedelta(microseconds=400),  # shows as .000 in dateCreation
        "high .500": high + timedelta(milliseconds=500, microseconds=700),  # shows as .500
        "high + 1 s": high + timedelta(seconds=1),
    }
    ids = dict(zip(edges, publish_at(api, *edges.values()), strict=True))
    shown = {o.data["id"]: o.data["dateCreation"] for o in api.dataset.offers}
    assert shown[ids["high .000400"]] == "2026-05-06T09:15:30.000Z"
    assert shown[ids["high .500"]] == "2026-05-06T09:15:30.500Z"
    token = token_of(api)[2]["access_token"]
    got = set(all_ids(api, token, {"minCreationDate": bound(low), "maxCreationDate": bound(high)}))
    assert got == truth(api, low, high, ms=ms, inclusive=inclusive)
    inside = {name for name, offer_id in ids.items() if offer_id in got}
    # minCreationDate is inclusive at either precision.
    assert {"low .000", "low .500", "high - 1 ms"} <= inside
    assert "low - 1 ms" not in inside
    assert "high + 1 s" not in inside
    at_high = {"high .000", "high .000400", "high .500"} & inside
    if not inclusive:
        assert at_high == set()  # below high, to the second or to high.000
    elif ms:
        assert at_high == {"high .000", "high .000400"}  # .000 shown: equal to high.000
    else:
        assert at_high == {"high .000", "high .000400", "high .500"}  # all in second high


# ---------------------------------------------------------------- max_start


def test_window_cap_follows_max_start(ft):
    api = ft(offers=2000, max_start=1000, **FAST)
    token = token_of(api)[2]["access_token"]
    status, _, body = call(api, SEARCH, {"range": "1001-1100"}, token=token)
    assert status == 400
    assert json.loads(body)["message"] == (
        "La position de début doit être inférieure ou égale à 1000."
    )
    status, headers, _ = call(api, SEARCH, {"range": "1000-1149"}, token=token)
    assert status == 206
    assert headers["Content-Range"] == "offres 1000-1149/2000"
    # The span rule is checked first.
    status, _, body = call(api, SEARCH, {"range": "1001-1200"}, token=token)
    assert json.loads(body)["message"] == "La plage de résultats demandée est trop importante."
    status, _, body = call(api, SEARCH, {"range": "3001-3149"}, token=token)
    assert json.loads(body)["message"].endswith("égale à 1000.")


# ---------------------------------------------------------------- rate


def test_burst_follows_the_rate_unless_given():
    assert FtEmulator().burst == 10
    assert FtEmulator(rate_per_second=3).burst == 3
    assert FtEmulator(rate_per_second=2.5).burst == 3
    assert FtEmulator(rate_per_second=0.5).burst == 1
    assert FtEmulator(rate_per_second=3, rate_burst=7).burst == 7
    headers = FtEmulator(rate_per_second=2.5).rate_headers(1.0)
    assert headers["X-Ratelimit-Replenish-Rate-Clientidlimiter"] == "2.5"
    assert headers["X-Ratelimit-Burst-Capacity-Clientidlimiter"] == "3"


def paced(api: FtEmulator, token: str, per_second: float, count: int) -> tuple[list, float]:
    """``count`` searches sent at ``per_second``, on a fixed schedule; the answers, and the
    seconds from the first call to the last answer."""
    start = time.monotonic()
    answers = []
    for i in range(count):
        time.sleep(max(0.0, start + i / per_second - time.monotonic()))
        answers.append(call(api, SEARCH, {"range": "0-9"}, token=token))
    return answers, time.monotonic() - start


def test_rate_3_per_second(ft):
    api = ft(offers=50, rate_per_second=3)
    token = token_of(api)[2]["access_token"]
    answers, elapsed = paced(api, token, 10, 20)
    limited = [a for a in answers if a[0] == 429]
    # At most the 3 calls of the bucket, plus 3 a second, were let through (one more at most
    # for a refill caught at the edge); about 2 s of calls: ≥ 8 of the 20 refused.
    assert 20 - len(limited) <= 3 + 3 * elapsed + 1
    assert len(limited) >= 1
    for _, headers, body in limited:
        assert body == b""
        assert headers["Content-Type"].startswith("text/plain")
        assert int(headers["Retry-After"]) >= 1
        assert headers["X-Ratelimit-Burst-Capacity-Clientidlimiter"] == "3"
        assert headers["X-Ratelimit-Replenish-Rate-Clientidlimiter"] == "3"
        assert headers["X-Ratelimit-Remaining-Clientidlimiter"] == "0"
    ok = [a for a in answers if a[0] != 429]
    assert all(a[0] in (200, 206) for a in ok)
    assert ok[0][1]["X-Ratelimit-Burst-Capacity-Clientidlimiter"] == "3"
    assert ok[0][1]["X-Ratelimit-Replenish-Rate-Clientidlimiter"] == "3"
    assert ok[0][1]["X-Ratelimit-Remaining-Clientidlimiter"] == "2"

    time.sleep(1.1)  # the bucket fills up again
    before = api.stats()["http_429"]
    answers, _ = paced(api, token, 3, 10)
    assert [a[0] for a in answers if a[0] not in (200, 206)] == []
    assert api.stats()["http_429"] == before


# ---------------------------------------------------------------- inside_retry_after


def admin_stats(api: FtEmulator) -> dict:
    with urllib.request.urlopen(api.url + "/_emulator/stats", timeout=30) as response:
        return json.loads(response.read())


def test_calls_inside_a_storm_retry_after_are_counted(ft):
    other, other_secret = "PAR_other_client", "other-secret"
    api = ft(offers=50, storm_calls=1, storm_retry_after=2, clients={
        CLIENT_ID: CLIENT_SECRET, other: other_secret}, **FAST)  # fmt: skip
    token = token_of(api)[2]["access_token"]
    other_token = token_of(api, client_id=other, client_secret=other_secret)[2]["access_token"]
    status, headers, _ = call(api, SEARCH, token=token)
    assert (status, headers["Retry-After"]) == (429, "2")
    told = time.monotonic()
    assert call(api, SEARCH, token=token)[0] in (200, 206)  # answered, but too early
    assert call(api, SEARCH, token=token)[0] in (200, 206)
    assert call(api, SEARCH, token=other_token)[0] in (200, 206)  # another client: not counted
    assert call(api, SEARCH)[0] == 401  # no token: no client, not counted
    assert call(api, TOKEN, form={"grant_type": "client_credentials"})[0] == 400  # not the API
    assert admin_stats(api)["inside_retry_after"] == 2
    api.expire_tokens()
    assert call(api, SEARCH, token=token)[0] == 401  # its token still names the client
    assert api.stats()["inside_retry_after"] == 3
    fresh = token_of(api)[2]["access_token"]
    time.sleep(max(0.0, told + 2.05 - time.monotonic()))
    assert call(api, SEARCH, token=fresh)[0] in (200, 206)
    assert api.stats()["inside_retry_after"] == 3
    assert api.stats()["http_429"] == 1


def test_calls_inside_a_rate_limit_retry_after_are_counted(ft):
    api = ft(offers=50, rate_per_second=1)
    token = token_of(api)[2]["access_token"]
    assert call(api, SEARCH, token=token)[0] in (200, 206)
    status, headers, _ = call(api, SEARCH, token=token)
    assert (status, headers["Retry-After"]) == (429, "1")
    told = time.monotonic()
    assert call(api, SEARCH, token=token)[0] == 429  # too early, and refused again
    assert api.stats()["inside_retry_after"] == 1
    time.sleep(max(0.0, told + 2.05 - time.monotonic()))  # past both Retry-After
    assert call(api, SEARCH, token=token)[0] in (200, 206)
    assert api.stats()["inside_retry_after"] == 1


def test_storm_every_429s_are_remembered_too(ft):
    api = ft(offers=50, storm_every=3, storm_retry_after=1, **FAST)
    token = token_of(api)[2]["access_token"]
    statuses = [call(api, SEARCH, token=token)[0] for _ in range(4)]
    assert statuses[2] == 429  # the 3rd API call starts a storm of one
    assert statuses[3] in (200, 206)
    assert api.stats()["inside_retry_after"] == 1


# ---------------------------------------------------------------- descriptions


def test_descriptions_have_a_realistic_length_and_shape():
    started = time.process_time()
    dataset = FtDataset(FtDatasetConfig(), now=datetime(2026, 11, 29, 12, tzinfo=UTC))
    built = time.process_time() - started
    texts = [o.data["description"] for o in dataset.offers]
    lengths = sorted(map(len, texts))
    assert len(lengths) == 25_000
    assert 2000 <= statistics.median(lengths) <= 3000
    assert lengths[-1] <= 5000
    assert lengths[0] >= 300
    assert built < 10  # generous: a loaded machine; typically about 2 s with the descriptions
    for offer, text in zip(dataset.offers, texts, strict=True):
        assert text.startswith("Nous recrutons : ")
        assert "\n- " in text
        assert "Vos missions :\n- " in text
        if "entity" in offer.dirt:  # entities as some partners send them
            assert text.endswith(PARTNER_SUFFIX)
            assert "'" not in text
            assert "&#039;" in text
        elif "double_entity" not in offer.dirt:
            assert "&#039;" not in text
            assert "&amp;" not in text
        assert ("\n\n" in text) == ("blank_lines" in offer.dirt)
    # the rates measured on recorded real offers
    entities = sum("entity" in o.dirt for o in dataset.offers) / len(dataset.offers)
    blank = sum("blank_lines" in o.dirt for o in dataset.offers) / len(dataset.offers)
    assert 0.075 < entities < 0.095
    assert 0.39 < blank < 0.43
    # Deterministic from the seed: a smaller dataset holds the same first descriptions.
    small = FtDataset(FtDatasetConfig(offers=500), now=datetime(2025, 1, 1, tzinfo=UTC))
    assert [o.data["description"] for o in small.offers] == texts[:500]
    other = FtDataset(FtDatasetConfig(offers=500, seed=7), now=datetime(2025, 1, 1, tzinfo=UTC))
    assert [o.data["description"] for o in other.offers] != texts[:500]


def test_description_generation_is_fast():
    dataset = FtDataset(FtDatasetConfig(offers=10))
    started = time.process_time()  # CPU time: other processes on the machine do not count
    for n in range(25_000):
        dataset.description("Développeur Python / Django (H/F)", {"entity"} if n % 3 else set())
    assert time.process_time() - started < 2.0  # about 0.5 s on a developer machine


def test_descriptions_never_exceed_the_cap_nor_cut_an_entity(monkeypatch):
    monkeypatch.setattr(ftdata, "BUDGET_SCALE", 3.0)  # aim far beyond 5 000 characters
    dataset = FtDataset(FtDatasetConfig(offers=400, entity_share=0.5))
    texts = [("entity" in o.dirt, o.data["description"]) for o in dataset.offers]
    assert max(len(t) for _, t in texts) <= 5000
    assert statistics.median(len(t) for _, t in texts) > 4500  # the cap was reached
    for entities, text in texts:
        if entities:
            assert text.endswith(PARTNER_SUFFIX)
            body = text.removesuffix(PARTNER_SUFFIX)
            assert body.count("&") == body.count("&#039;")  # no entity cut in half
        assert not text.endswith((" ;", "-", "\n"))


def test_hostile_titles_and_names_are_unchanged():
    dataset = FtDataset(FtDatasetConfig(offers=600))
    hostile = [o.data for n, o in enumerate(dataset.offers) if n % 53 == 0]
    assert any(o["intitule"].startswith("=HYPERLINK(") for o in hostile)
    assert any("\r\n" in o["entreprise"]["nom"] or "\r\n" in o["intitule"] for o in hostile)


# ---------------------------------------------------------------- CLI


def test_cli_flags_map_onto_the_config():
    _, emulator = build("francetravail", [])
    cfg = emulator.config
    assert (cfg.bound_zone, cfg.max_inclusive, cfg.compare_ms, cfg.max_start) == (
        "UTC", True, False, 3000)  # fmt: skip
    assert (cfg.rate_per_second, cfg.rate_burst, emulator.burst) == (10.0, None, 10)
    _, emulator = build("francetravail", [
        "--bound-zone", "Europe/Paris", "--max-exclusive", "--compare-ms", "--max-start", "1000",
        "--rate", "3", "--rate-burst", "5", "--now", NOW,
    ])  # fmt: skip
    cfg = emulator.config
    assert (cfg.bound_zone, cfg.max_inclusive, cfg.compare_ms, cfg.max_start) == (
        "Europe/Paris", False, True, 1000)  # fmt: skip
    assert (cfg.rate_per_second, cfg.rate_burst, emulator.burst, cfg.now) == (3.0, 5, 5, NOW)
    _, emulator = build("francetravail", ["--max-inclusive", "false", "--compare-ms", "false",
                                          "--rate-per-second", "2.5", "--bound-zone=-05:00"])  # fmt: skip
    cfg = emulator.config
    assert (cfg.max_inclusive, cfg.compare_ms, emulator.burst, cfg.bound_zone) == (
        False, False, 3, "-05:00")  # fmt: skip


def test_cli_refuses_an_unknown_zone_and_documents_the_flags(capsys):
    with pytest.raises(SystemExit):
        build("francetravail", ["--bound-zone", "Mars/Olympus"])
    assert "Mars/Olympus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build("francetravail", ["--help"])
    text = capsys.readouterr().out
    for flag in ("--bound-zone", "--max-exclusive", "--max-inclusive", "--compare-ms",
                 "--max-start", "--rate", "--rate-burst", "--now"):  # fmt: skip
        assert flag in text
