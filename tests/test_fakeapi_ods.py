"""The Opendatasoft emulator answers as the real portal does (as docs/api-opendatasoft.md
describes it), and its knobs for the portal's unsettled behaviours do what they say."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.fakeapi.cpfdata import FIELDS, INDEX

DS = "moncompteformation_catalogueformation"
V21 = f"/api/explore/v2.1/catalog/datasets/{DS}"


def get(emulator, path, params=None, method="GET"):
    url = emulator.url + path + ("?" + urlencode(params, doseq=True) if params else "")
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def api(ods):
    return ods(rows=2500, heavy_share=0.3, null_location_share=0.02)


def test_metadata_lists_the_47_fields_in_order(api):
    status, headers, body = get(api, V21)
    meta = json.loads(body)
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert [f["name"] for f in meta["fields"]] == list(FIELDS)
    assert meta["metas"]["default"]["records_count"] == 2500
    assert meta["fields"][2]["annotations"] == {"facet": [], "disjunctive": []}


def test_quota_headers_on_every_response(api):
    for path in (V21, V21 + "/records?limit=101", "/api/explore/v2.1/catalog/datasets/nope"):
        _, headers, _ = get(api, path)
        assert int(headers["X-RateLimit-Limit"]) >= int(headers["X-RateLimit-Remaining"])
        assert int(headers["X-RateLimit-Reset"]) % 86400 == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"limit": 101},
            "Invalid value for limit API parameter: 101 was found but -1 <= limit <= 100 is expected.",
        ),
        (
            {"offset": 9901, "limit": 100},
            "Invalid value for sum of offset + limit API parameter: 10001 was found but <= 10000 is expected.",
        ),
    ],
)
def test_records_limits_exact_messages(api, params, message):
    status, _, body = get(api, V21 + "/records", params)
    assert status == 400
    assert json.loads(body) == {"error_code": "InvalidRESTParameterError", "message": message}


def test_records_offset_9900_limit_100_is_allowed(api):
    status, _, body = get(api, V21 + "/records", {"offset": 9900, "limit": 100})
    assert status == 200
    assert json.loads(body) == {"total_count": 2500, "results": []}


def test_records_default_page_has_nulls_and_total(api):
    status, _, body = get(api, V21 + "/records")
    assert status == 200
    data = json.loads(body)
    assert data["total_count"] == 2500
    assert len(data["results"]) == 10
    assert list(data["results"][0]) == list(FIELDS)
    assert any(v is None for v in data["results"][0].values())


def test_unknown_field_message(api):
    status, _, body = get(api, V21 + "/records", {"where": 'nom_de_l_etablissement = "x"'})
    assert status == 400
    assert json.loads(body) == {
        "error_code": "ODSQLError",
        "message": "ODSQL query is malformed: Unknown field: nom_de_l_etablissement. "
        "Clause(s) containing the error(s): where.",
    }
    _, _, body = get(api, V21 + "/records", {"select": "foo"})
    assert json.loads(body)["message"].endswith("Clause(s) containing the error(s): select.")


def test_unknown_dataset_in_both_families(api):
    status, _, body = get(api, "/api/explore/v2.1/catalog/datasets/typo/records")
    assert status == 404
    assert json.loads(body) == {
        "error_code": "NotFoundResource",
        "message": "The requested dataset typo does not exist.",
    }
    status, _, body = get(api, "/api/records/1.0/search/", {"dataset": "typo"})
    assert status == 404
    assert json.loads(body)["error"] == "Unknown dataset: typo"


def test_group_by_counts_include_the_null_group(api):
    params = {
        "select": "code_departement, count(*) as n",
        "group_by": "code_departement",
        "limit": 20000,
    }
    status, _, body = get(api, V21 + "/records", params)
    data = json.loads(body)
    assert status == 200
    assert "total_count" not in data
    counts = {r["code_departement"]: r["n"] for r in data["results"]}
    assert sum(counts.values()) == 2500
    assert counts[None] > 0
    assert counts == api.dataset.count_by("code_departement")
    api.config.grouped_total_count = True
    assert "total_count" in json.loads(get(api, V21 + "/records", params)[2])


def test_aggregate_on_text_is_refused(api):
    status, _, body = get(api, V21 + "/records", {"select": "avg(nom_of)"})
    assert status == 400
    assert (
        "StatAggregation only supports numeric or date expression." in json.loads(body)["message"]
    )


def test_where_language(api):
    rows = api.dataset.rows
    cases = {
        'code_departement = "75"': lambda r: r[INDEX["code_departement"]] == "75",
        "code_departement is null": lambda r: r[INDEX["code_departement"]] is None,
        'code_nsf_1 in ("326", "331") or code_nsf_2 = 326': lambda r: (
            r[INDEX["code_nsf_1"]] in ("326", "331") or r[INDEX["code_nsf_2"]] == "326"
        ),
        'code_rncp = "-1" and not type_referentiel is null': lambda r: (
            r[INDEX["code_rncp"]] == -1 and r[INDEX["type_referentiel"]] is not None
        ),
        "frais_ttc_tot_mean >= 3000": lambda r: r[INDEX["frais_ttc_tot_mean"]] >= 3000,
        'startswith(code_formacode_1, "310")': lambda r: str(
            r[INDEX["code_formacode_1"]]
        ).startswith("310"),
    }
    for where, predicate in cases.items():
        _, _, body = get(api, V21 + "/records", {"where": where, "limit": 0})
        assert json.loads(body)["total_count"] == sum(1 for r in rows if predicate(r)), where


def test_full_text_search(api):
    _, _, body = get(api, V21 + "/records", {"where": 'search("python")', "limit": 0})
    expected = sum(
        1 for r in api.dataset.rows if "python" in (r[INDEX["intitule_formation"]] or "").lower()
    )
    assert json.loads(body)["total_count"] >= expected > 0


def test_jsonl_export_is_complete_and_streamed(api):
    status, headers, body = get(api, V21 + "/exports/jsonl", {"where": 'code_departement = "75"'})
    assert status == 200
    assert headers.get("Transfer-Encoding") == "chunked"
    lines = body.decode().splitlines()
    assert len(lines) == api.dataset.count_by("code_departement")["75"]
    assert list(json.loads(lines[0])) == list(FIELDS)


def test_csv_export_has_bom_and_semicolons(api):
    _, _, body = get(api, V21 + "/exports/csv", {"limit": 3})
    assert body.startswith("\ufeffdate_extract;nom_of;".encode())
    _, _, body = get(api, V21 + "/exports/csv", {"limit": 3, "with_bom": "false", "delimiter": ","})
    assert body.startswith(b"date_extract,nom_of,")


def test_json_export_is_an_array(api):
    _, _, body = get(api, V21 + "/exports/json", {"limit": 5})
    assert len(json.loads(body)) == 5


def test_truncated_export_modes(api):
    full = get(api, V21 + "/exports/jsonl")[2]
    api.config.truncate_exports, api.config.truncate_mode = 1, "clean"
    cut = get(api, V21 + "/exports/jsonl")[2]
    assert len(cut) < len(full)
    assert not cut.endswith(b"\n")
    api.config.truncate_exports, api.config.truncate_mode = 1, "rows"
    cut = get(api, V21 + "/exports/jsonl")[2]
    assert cut.endswith(b"\n")
    assert cut.count(b"\n") < full.count(b"\n")
    api.config.truncate_exports, api.config.truncate_mode = 1, "abort"
    with pytest.raises(http.client.IncompleteRead):
        get(api, V21 + "/exports/jsonl")


def test_alias_schema(ods):
    api = ods(rows=50, schema="alias")
    names = [f["name"] for f in json.loads(get(api, V21)[2])["fields"]]
    assert names[0] == "date_chargement"
    assert "code_rs" in names
    assert "siret_of" in names
    line = get(api, V21 + "/exports/jsonl", {"limit": 1})[2]
    assert "siret_of" in json.loads(line)


def test_daily_quota_429_body(ods):
    api = ods(rows=10, daily_quota=2)
    assert get(api, V21)[0] == 200
    assert get(api, V21)[0] == 200
    status, headers, body = get(api, V21)
    data = json.loads(body)
    assert status == 429
    assert headers["X-RateLimit-Remaining"] == "0"
    assert data["errorcode"] == 10005
    assert data["limit_time_unit"] == "day"
    assert data["call_limit"] == 2
    assert data["reset_time"].endswith("T00:00:00Z")
    assert data["error"] == "You have exceeded the requests limit for anonymous users."


def test_burst_limiter_and_5xx(ods):
    api = ods(rows=10, burst_per_second=1)
    statuses = [get(api, V21)[0] for _ in range(4)]
    assert 429 in statuses
    api = ods(rows=10, fail_rate_5xx=1.0)
    assert get(api, V21)[0] in (500, 502, 503)


def test_v1_search_paging_and_caps(api):
    status, _, body = get(
        api, "/api/records/1.0/search/", {"dataset": DS, "rows": 100, "start": 200}
    )
    data = json.loads(body)
    assert status == 200
    assert data["nhits"] == 2500
    assert len(data["records"]) == 100
    record = data["records"][0]
    assert set(record) == {"datasetid", "recordid", "fields", "record_timestamp"}
    assert None not in record["fields"].values()
    assert len(record["recordid"]) == 40
    assert data["parameters"]["rows"] == 100
    status, _, body = get(
        api, "/api/records/1.0/search", {"dataset": DS, "start": 9990, "rows": 20}
    )
    assert status == 400
    assert "start + rows" in json.loads(body)["error"]
    status, _, body = get(api, "/api/records/1.0/search/", {"dataset": DS, "rows": 10001})
    assert status == 400


def test_v1_query_refine_and_facets(api):
    params = {"dataset": DS, "q": "code_region:11", "rows": 0, "facet": "nom_departement"}
    data = json.loads(get(api, "/api/records/1.0/search/", params)[2])
    expected = sum(1 for r in api.dataset.rows if r[INDEX["code_region"]] == "11")
    assert data["nhits"] == expected
    assert sum(f["count"] for f in data["facet_groups"][0]["facets"]) == expected
    params = {"dataset": DS, "refine.type_referentiel": "RS", "rows": 0}
    expected = sum(1 for r in api.dataset.rows if r[INDEX["type_referentiel"]] == "RS")
    assert json.loads(get(api, "/api/records/1.0/search/", params)[2])["nhits"] == expected


def test_v1_download_csv_and_post(api):
    status, _, body = get(
        api, "/api/records/1.0/download/", {"dataset": DS, "q": "code_departement:75"}
    )
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0].startswith("date_extract;nom_of;")


def test_record_lookup_in_both_families(api):
    data = json.loads(get(api, "/api/records/1.0/search/", {"dataset": DS, "rows": 1})[2])
    rid = data["records"][0]["recordid"]
    assert json.loads(get(api, V21 + f"/records/{rid}")[2])["numero_formation"]
    assert json.loads(get(api, f"/api/datasets/1.0/{DS}/records/{rid}")[2])["recordid"] == rid


def test_admin_stats_do_not_count_as_calls(api):
    get(api, V21)
    stats = json.loads(get(api, "/_emulator/stats")[2])
    assert stats["calls"] == 1
    assert stats["by_route"] == {"v21_dataset": 1}


# ------------------------------------------------------------------ grouped limit knobs

GROUPED = {"select": "code_departement, count(*) as n", "group_by": "code_departement"}


def limit_refusal(message):
    return {"error_code": "InvalidRESTParameterError", "message": message}


@pytest.mark.parametrize(
    ("knobs", "params", "message"),
    [
        (
            {},
            {"limit": 20001},
            (
                "Invalid value for limit API parameter: 20001 was found but -1 <= limit <= 20000 "
                "is expected."
            ),
        ),
        (
            {"group_limit_strict": True},
            {"limit": 20000},
            (
                "Invalid value for limit API parameter: 20000 was found but -1 <= limit < 20000 "
                "is expected."
            ),
        ),
        (
            {"group_limit_strict": True},
            {"limit": 19000, "offset": 1000},
            (
                "Invalid value for sum of offset + limit API parameter: 20000 was found but "
                "< 20000 is expected."
            ),
        ),
        (
            {"group_limit_max": 5000, "group_limit_strict": True},
            {"limit": 20000},
            (
                "Invalid value for limit API parameter: 20000 was found but -1 <= limit < 5000 "
                "is expected."
            ),
        ),
        (
            {"group_limit_max": 5000},
            {"limit": 4000, "offset": 1001},
            (
                "Invalid value for sum of offset + limit API parameter: 5001 was found but "
                "<= 5000 is expected."
            ),
        ),
        (
            {"group_limit_max": 5000, "group_limit_message": "Invalid value for limit."},
            {"limit": 5001},
            "Invalid value for limit.",
        ),
    ],
)
def test_grouped_limit_refusals(api, knobs, params, message):
    for key, value in knobs.items():
        setattr(api.config, key, value)
    status, _, body = get(api, V21 + "/records", {**GROUPED, **params})
    assert status == 400
    assert json.loads(body) == limit_refusal(message)


@pytest.mark.parametrize(
    ("knobs", "accepted"),
    [
        ({}, [20000, -1]),
        ({"group_limit_strict": True}, [19999, -1]),
        ({"group_limit_max": 30000}, [20000, 30000]),
        ({"group_limit_max": 5000, "group_limit_strict": True}, [4999, 1, -1]),
    ],
)
def test_grouped_limits_accepted(api, knobs, accepted):
    for key, value in knobs.items():
        setattr(api.config, key, value)
    for limit in accepted:
        status, _, body = get(api, V21 + "/records", {**GROUPED, "limit": limit})
        assert status == 200, body
        assert len(json.loads(body)["results"]) == min(
            len(api.dataset.count_by("code_departement")), 20000 if limit == -1 else limit
        )


def test_grouped_limit_knobs_leave_ungrouped_limits_alone(api):
    api.config.group_limit_max, api.config.group_limit_strict = 5000, True
    status, _, body = get(api, V21 + "/records", {"limit": 100})
    assert status == 200
    status, _, body = get(api, V21 + "/records", {"limit": 101})
    assert json.loads(body)["message"].endswith("-1 <= limit <= 100 is expected.")
    status, _, body = get(api, V21 + "/records", {"select": "count(*) as n", "limit": 1})
    assert (status, json.loads(body)) == (200, {"results": [{"n": 2500}]})


# ------------------------------------------------------------------ count drift knobs


def counts(api, params):
    limit = 20000 if "group_by" in params else 1
    status, _, body = get(api, V21 + "/records", {**params, "limit": limit})
    assert status == 200, body
    return json.loads(body)["results"]


def export_lines(api, where=None):
    _, _, body = get(api, V21 + "/exports/jsonl", {"where": where} if where else None)
    return len(body.decode().splitlines())


@pytest.mark.parametrize("drift", [12, -12])
def test_count_drift_makes_every_count_disagree_with_the_exports(api, drift):
    true = api.dataset.count_by("code_departement")
    api.config.count_drift = drift
    by_dep = {r["code_departement"]: r["n"] for r in counts(api, GROUPED)}
    assert by_dep == {**true, "75": true["75"] + drift}
    by_pair = counts(
        api,
        {
            "select": "code_departement, code_nsf_1, count(*) as n",
            "group_by": "code_departement, code_nsf_1",
            "where": 'code_departement = "75"',
        },
    )
    assert sum(r["n"] for r in by_pair) == true["75"] + drift  # any grouping adds up
    (total,) = counts(api, {"select": "count(*) as n", "where": 'code_departement = "75"'})
    assert total == {"n": true["75"] + drift}
    (other,) = counts(api, {"select": "count(*) as n", "where": 'code_departement = "13"'})
    assert other == {"n": true["13"]}
    _, _, body = get(api, V21 + "/records", {"limit": 0})
    assert json.loads(body)["total_count"] == 2500 + drift
    # The exports give the real rows.
    assert export_lines(api, 'code_departement = "75"') == true["75"]
    assert export_lines(api) == 2500
    assert api.stats()["drifted"] == 5  # every /records answer, none of the exports


def test_count_drift_of_another_departement_and_for_a_few_answers(api):
    true = api.dataset.count_by("code_departement")
    api.config.count_drift, api.config.drift_departement = 5, "13"
    api.config.count_drift_times = 2
    for _ in range(2):
        by_dep = {r["code_departement"]: r["n"] for r in counts(api, GROUPED)}
        assert by_dep == {**true, "13": true["13"] + 5}
    assert {r["code_departement"]: r["n"] for r in counts(api, GROUPED)} == true
    assert api.stats()["drifted"] == 2
    assert api.config.count_drift_times == 0


def test_negative_drift_drops_groups_left_with_no_counted_row(ods):
    api = ods(rows=200, heavy_share=0.05)
    true = api.dataset.count_by("code_departement")
    api.config.count_drift = -true["75"]  # none of the rows of 75 is counted yet
    by_dep = {r["code_departement"]: r["n"] for r in counts(api, GROUPED)}
    assert "75" not in by_dep
    assert by_dep == {d: n for d, n in true.items() if d != "75"}
    assert export_lines(api, 'code_departement = "75"') == true["75"]
