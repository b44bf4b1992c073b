"""Fuzzing of user input: every argument and setting of both spiders, ``.env`` and
``credentials.txt``.

The property, from the issue: any input (wrong types, empty values, huge values,
unknown codes, quotes, ``&``, ``#``, line breaks, bytes that are not UTF-8) gives
either a correct run, or a :class:`~cpfft.params.ConfigurationError` whose text is
one short printable line (``cpfft: error: …``, exit 2). Never another exception (a
traceback for the user), never a request to another URL than the configured one,
never a partly written file presented as complete.

The bulk runs in-process, the way ``cpfft.commands.crawl`` validates before
Scrapy starts (``check_configuration`` then ``check_common_settings``); a few
hostile inputs then go through a real ``scrapy crawl``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from scrapy.settings import Settings

from cpfft.config import SETTINGS, check_base_url, check_common_settings, load_environment
from cpfft.cpf.plan import Schema, cpf_params, filters, themes_from
from cpfft.cpf.spider import CpfSpider
from cpfft.errors import ConfigurationError
from cpfft.exporters import DELIMITERS
from cpfft.items import FORMATION_FIELDS
from cpfft.offres.bounds import Reading
from cpfft.offres.credentials import Credentials, CredentialsError, load_credentials
from cpfft.offres.cursor import CursorPlanner
from cpfft.offres.search import SEARCH_PARAMS, api_query, check_combinations
from cpfft.offres.spider import SEARCH_PATH, OffresSpider
from cpfft.run.output import output_dir
from tests.support.crawling import BOM, REPO, ft_env

pytestmark = pytest.mark.fuzz

#: A message is one line for a terminal or a log. The longest legitimate ones list the 43
#: offres arguments (660 characters), or the 18 regions after the (shortened) value.
MAX_MESSAGE = 800
EXAMPLES = int(os.environ.get("CPFFT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written in the repository (.hypothesis/)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: The main properties (arguments and settings of both spiders) get twice as many examples.
FUZZ_MORE = settings(FUZZ, max_examples=2 * EXAMPLES)
HUGE = 100_000  # characters: still fits in one command-line argument (128 KiB)

# ------------------------------------------------------------------ what is fuzzed

#: A valid value for every spider argument, so that fuzzed runs get past validation too.
CPF_VALID: dict[str, list[str]] = {
    "q": ["python", "data science", "C++ & SQL #1", "l'été"],
    "theme": ["numerique", "Santé", "numerique,sante"],
    "region": ["11", "Bretagne", "ile de france", "53,11"],
    "departement": ["75", "2A", "Gironde", "35,29"],
    "type_referentiel": ["RS", "rncp"],
    "max_records": ["1", "500", "100000000"],
}
OFFRES_VALID: dict[str, list[str]] = {
    "motsCles": ["python", "data,sql", 'c++ "dev"', "r&d,#tag,50%"],
    "region": ["11", "Bretagne", "2"],
    "departement": ["75", "2A,2B", "Gironde"],
    "commune": ["75056", "2A004,75056"],
    "distance": ["0", "10", "999"],
    "inclureLimitrophes": ["true", "non"],
    "typeContrat": ["CDI", "cdi,CDD"],
    "natureContrat": ["E2", "fs,E1"],
    "publieeDepuis": ["1", "31"],
    "minCreationDate": ["2026-11-01", "0001-01-01", "2026-11-01T08:00:00Z"],
    "maxCreationDate": ["2026-11-28", "9999-12-31T23:59:59Z"],
    "codeROME": ["M1805", "m1805,K2111"],
    "appellation": ["38444"],
    "domaine": ["M18"],
    "grandDomaine": ["M18", "c15"],
    "theme": ["12"],
    "secteurActivite": ["62", "62,47"],
    "codeNAF": ["62.02A"],
    "experience": ["1"],
    "experienceExigence": ["D"],
    "qualification": ["9"],
    "niveauFormation": ["NV1"],
    "permis": ["B"],
    "tempsPlein": ["oui", "false"],
    "dureeHebdo": ["1"],
    "dureeHebdoMin": ["800"],
    "dureeHebdoMax": ["3500"],
    "dureeContratMin": ["0.5", "0,75"],
    "dureeContratMax": ["12"],
    "salaireMin": ["2000", "1500000", "10000000"],
    "periodeSalaire": ["M", "a"],
    "accesTravailleurHandicape": ["true"],
    "employeursHandiEngages": ["false"],
    "entreprisesAdaptees": ["1"],
    "offresMRS": ["0"],
    "offresManqueCandidats": ["yes"],
    "origineOffre": ["1", "2"],
    "paysContinent": ["01"],
    "partenaires": ["LABONNEALTERNANCE"],
    "modeSelectionPartenaires": ["INCLUS"],
    "sort": ["0", "1", "2"],
    "max_offers": ["1", "500"],
    "depuis": ["dernier", "last"],
}
#: A valid value for every setting a user can set (by the setting's name).
SETTINGS_VALID: dict[str, list[Any]] = {
    "CPF_API_URL": ["http://127.0.0.1:9", "https://opendata.caissedesdepots.fr/"],
    "CPF_DATASET": ["moncompteformation_catalogueformation"],
    "CPF_THEMES": ["{}", '{"btp": ["230", "231"]}', '{"x": "326"}'],
    "CPF_PARTITION_ROWS": ["10000", "1", "1000000"],
    "CPF_PARTITION_ATTEMPTS": ["4", "20"],
    "CPF_QUOTA_MAX_WAIT": ["120", "0"],
    "FT_API_URL": ["http://127.0.0.1:9", "https://api.francetravail.io"],
    "FT_TOKEN_URL": ["http://127.0.0.1:9/token?realm=/partenaire"],
    "FT_SCOPE": ["api_offresdemploiv2 o2dsoffre"],
    "FT_MAX_RPS": ["10", "0.5", "100"],
    "FT_OLDEST_CREATION": ["2000-01-01T00:00:00Z"],
    "FT_INCREMENTAL_OVERLAP": ["3600", "0"],
    "DOWNLOAD_TIMEOUT": ["300", "0.5"],
    "RETRY_TIMES": ["5", "0", "100"],
    "CPFFT_RETRY_BACKOFF": ["1"],
    "CPFFT_RETRY_BACKOFF_MAX": ["60"],
    "CPFFT_RETRY_AFTER_MAX": ["600"],
    "CPFFT_RATE_LIMIT_RETRIES": ["50", "0", "1000"],
    "CPFFT_UNREACHABLE_RETRIES": ["2", "0", "100"],
    "CPFFT_RATE_INCREASE": ["0.02", "1"],
    "CPFFT_CSV_DELIMITER": [",", ";", "\t", "|"],
    "CPFFT_OUTPUT_DIR": [""],
    "CPFFT_CSV_FORMULA_GUARD": ["true", "False", "0"],
    "CPFFT_POSTGRESQL_SCHEMA": ["cpfft", "entrepot_2"],
    "CPFFT_PROGRESS_INTERVAL": ["10", "0.1"],
    "LOG_LEVEL": ["INFO", "DEBUG", "WARNING"],
    "CPFFT_XLSX_MAX_ROWS": ["1048576", "2"],
}
#: Settings named after the environment variable that sets them (from the one table).
ENV_TO_SETTING = {s.name: s.scrapy for s in SETTINGS if s.scrapy}
#: The first valid value of every setting: one fuzzed setting is then the only wrong one.
BASELINE = {name: values[0] for name, values in SETTINGS_VALID.items()}


def test_every_argument_and_setting_is_fuzzed():
    assert set(CPF_VALID) == {p.name for p in cpf_params(make_settings(CpfSpider))}
    assert set(OFFRES_VALID) == {p.name for p in SEARCH_PARAMS}
    assert {s.scrapy or s.name for s in SETTINGS} == set(SETTINGS_VALID)
    source = (REPO / "cpfft" / "settings.py").read_text()
    from_env = {ENV_TO_SETTING.get(n, n) for n in re.findall(r'env\(\s*"([A-Z_]+)"', source)}
    assert from_env == set(SETTINGS_VALID)


# ------------------------------------------------------------------ strategies

INJECTIONS = [
    '"', "'", "\\", "`", '"; DROP TABLE x; --', "' or '1'='1", '") or (1=1', '\\"', "&x=1",
    "&range=0-9999", "#frag", "?a=b", "%00", "%0d%0a", "%22", "${HOME}", "$(id)", "\n", "\r\n",
    "\r", "\t", "\x00", "\x0b", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff",
    "\u202e", "\udcff", "\udce9", "é", "𝟘", "٣", "²", "ß", "=", ",", " , ", ",,", "*", "../",
    "/", ";", "|", "\\n",
]  # fmt: skip
UNKNOWN_CODES = ["99", "20", "2C", "975", "00", "M99999", "Z1234", "ZZZ", "00000", "CDX", "7"]
HUGE_VALUES = ["x" * HUGE, "9" * 5000, "1" * 4301, "é" * HUGE, "a," * 5000, "\x00" * 1000]
NUMBER_TEXT = [
    "0", "-1", "-0", "1e309", "-1e309", "1e-400", "nan", "NaN", "inf", "-inf", "1_000", "0x10",
    "1,5", "1.5", " 7 ", "+5", "5.", ".5", "٣", "١٢٠", "²", "10 s", "1e3", "2" * 30,
]  # fmt: skip
URL_TEXT = [
    "file:///etc/passwd", "ftp://127.0.0.1", "javascript:alert(1)", "//127.0.0.1", "http:/x",
    "http://", "http:///x", "HTTP://127.0.0.1", "http://[::1", "http://[::1]:9", "http://h:99999",
    "http://h:-1", "http://h:x", "http://h:", "http://user:pw@127.0.0.1:9", "http://a b",
    "http://h/a b", "http://h/\n", "http://h\r\n/x", "http://\udcff", "http://exämple.com",
    "http://a..b", "http://h?x=1", "http://h#f", "http://127.0.0.1:9@evil.example",
    "https://h/%0a", "data:text/plain,x", "http://" + "a" * 5000,
]  # fmt: skip

#: Text as a command line, an environment variable or a UTF-8 file can carry it.
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(INJECTIONS + UNKNOWN_CODES + NUMBER_TEXT + URL_TEXT + ["", " ", "\n"]),
    st.sampled_from(HUGE_VALUES),
    # Bytes that are not UTF-8 arrive as surrogates (sys.argv, os.environ).
    st.binary(max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
number_text = st.one_of(
    st.sampled_from(NUMBER_TEXT),
    st.integers(-(10**7), 10**7).map(str),
    st.integers().map(str),
    st.floats().map(repr),
)
#: Values of a wrong type (from Python: CrawlerProcess.crawl(..., q=5), custom settings).
wrong_types = st.one_of(
    st.integers(),
    st.just(10**5000),  # str() of it raises ValueError
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(max_size=10),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def spoiled(examples: list[str]) -> st.SearchStrategy[str]:
    """A valid value with something hostile before, after or inside it."""
    return st.builds(
        lambda value, junk, where: (
            value + junk if where == 0 else junk + value if where == 1 else f"{value},{junk}"
        ),
        st.sampled_from(examples),
        hostile_text,
        st.integers(0, 2),
    )


def misspelt(names: list[str]) -> st.SearchStrategy[str]:
    def mutate(name: str, how: int, position: int, char: str) -> str:
        i = position % len(name)
        return [
            name.swapcase(),
            name[:i] + name[i + 1 :],
            name[:i] + char + name[i:],
            name + "s",
            name.lower(),
            " " + name,
        ][how]

    return st.builds(mutate, st.sampled_from(names), st.integers(0, 5), st.integers(0, 99),
                     st.characters())  # fmt: skip


def argument_values(examples: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(examples), st.sampled_from(examples), spoiled(examples), hostile_text,
        number_text, wrong_types,
    )  # fmt: skip


def arguments(valid: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    names = list(valid)
    known = st.sampled_from(names).flatmap(
        lambda n: st.tuples(st.just(n), argument_values(valid[n]))
    )
    unknown = st.tuples(
        st.one_of(misspelt(names), hostile_text, st.sampled_from(["_job", "_version"])),
        st.one_of(hostile_text, wrong_types),
    )
    return st.lists(st.one_of(known, known, known, unknown), max_size=5).map(dict)


def setting_values(name: str) -> st.SearchStrategy[str]:
    themes = st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.lists(st.sampled_from(["230", "326", "23", "2300", "abc", "٣٢٦"]), max_size=3),
            st.text(max_size=4),
            st.integers(),
            st.none(),
        ),
        max_size=3,
    ).map(json.dumps)
    return st.one_of(
        st.sampled_from(SETTINGS_VALID[name]),
        spoiled(SETTINGS_VALID[name]),
        hostile_text,
        number_text,
        st.sampled_from(URL_TEXT),
        themes if name == "CPF_THEMES" else st.nothing(),
    )


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module", autouse=True)
def _environment():
    """Credentials present (the offres check ends with them), no .env error left over."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FT_CLIENT_ID", "PAR_fuzz_0123456789")
        mp.setenv("FT_CLIENT_SECRET", "fuzz-secret-0123456789")
        mp.delenv("CPFFT_DOTENV_ERROR", raising=False)
        yield


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def make_settings(spidercls: type, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings as ``scrapy crawl`` builds them: project, then the spider's, then ``-s``."""
    result = Settings()
    result.setmodule("cpfft.settings", priority="project")
    for name, value in BASELINE.items():
        result.set(name, value, priority="project")
    spidercls.update_settings(result)
    for name, value in (overrides or {}).items():
        result.set(name, value, priority="cmdline")
    return result


def check_message(message: str, limit: int | None = MAX_MESSAGE) -> None:
    """One printable line, not empty, of reasonable length."""
    assert message.strip(), "empty error message"
    assert message.isprintable(), f"unprintable character in {message[:200]!r}"
    assert len(message.splitlines()) == 1, message[:200]
    if limit is not None:
        assert len(message) < limit, f"{len(message)} characters: {message[:200]!r}…"


def validate(spidercls: type, overrides: dict[str, Any], arguments: dict[str, Any],
             limit: int | None = MAX_MESSAGE) -> dict[str, Any] | None:  # fmt: skip
    """What ``scrapy crawl`` checks before starting: parsed arguments, or None on a one-line
    error. Any other exception fails the test (it would be a traceback for the user)."""
    current = make_settings(spidercls, overrides)
    try:
        parsed = spidercls.check_configuration(current, arguments)
        check_common_settings(current)
    except ConfigurationError as exc:
        check_message(str(exc), limit)
        outcome(f"{spidercls.name}: one-line error")
        return None
    outcome(f"{spidercls.name}: accepted")
    return parsed


def outcome(text: str) -> None:
    """Counted in ``--hypothesis-show-statistics``."""
    if currently_in_test_context():
        event(text)


def odsql_literals(condition: str) -> tuple[str, list[str]]:
    """An ODSQL condition as (its text with every string literal replaced by ``?``, the
    decoded literals). Fails on an unterminated literal."""
    skeleton: list[str] = []
    literals: list[str] = []
    i = 0
    while i < len(condition):
        char = condition[i]
        if char not in "\"'":
            skeleton.append(char)
            i += 1
            continue
        chars, j = [], i + 1
        while True:
            assert j < len(condition), f"unterminated literal in {condition!r}"
            if condition[j] == "\\":
                assert j + 1 < len(condition), f"dangling escape in {condition!r}"
                chars.append(condition[j + 1])
                j += 2
            elif condition[j] == char:
                break
            else:
                chars.append(condition[j])
                j += 1
        skeleton.append("?")
        literals.append("".join(chars))
        i = j + 1
    return "".join(skeleton), literals


#: A dataset with every column under its usual name.
SCHEMA = Schema({f: f for f in FORMATION_FIELDS}, [], [])


def cpf_filters(current: Settings, args: dict[str, Any]) -> str:
    """The user's filters as the cpf spider sends them: the pure filter builder, with
    the themes the spider reads from the settings."""
    return filters(SCHEMA, args, themes_from(current))


def cpf_spider(current: Settings, args: dict[str, Any]) -> CpfSpider:
    """A configured spider, to build the requests it sends."""
    spider = CpfSpider.__new__(CpfSpider)
    spider.configure(current, args)
    return spider


def offres_spider(current: Settings, args: dict[str, Any]) -> OffresSpider:
    spider = OffresSpider.__new__(OffresSpider)
    spider.configure(current, args)
    return spider


def window_request(spider: OffresSpider, low: str, high: str):
    """The probe of the cursor's first window, as the spider sends it."""
    spider.plan.planner = CursorPlanner(Reading(), low, high, base=spider.plan.base)
    return spider.fetch(spider.plan.planner.start()[0])


def no_control(value: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in value)


# ------------------------------------------------------------------ bugs found and fixed
# Found by this suite in the spiders and cpfft/run/output.py; kept as regression tests.


FIXED_BUGS = [
    pytest.param(
        CpfSpider, {"CPF_THEMES": "null"},
        id="CPF_THEMES=null",
    ),
    pytest.param(
        CpfSpider, {"CPF_THEMES": "[" * 100_000},
        id="CPF_THEMES=deep-json",
    ),
    pytest.param(
        CpfSpider, {"CPF_THEMES": '{"a\\nb": ["230"]}'},
        id="CPF_THEMES-name-with-newline",
    ),
    pytest.param(
        CpfSpider, {"CPF_THEMES": '{"x": []}'},
        id="CPF_THEMES-empty-theme",
    ),
    pytest.param(
        OffresSpider, {"FT_TOKEN_URL": "http://[::1"},
        id="FT_TOKEN_URL=invalid-IPv6",
    ),
    pytest.param(
        OffresSpider, {"FT_OLDEST_CREATION": "x" * HUGE},
        id="FT_OLDEST_CREATION-huge",
    ),
    pytest.param(
        CpfSpider, {"CPF_DATASET": "x" * HUGE},
        id="CPF_DATASET-huge",
    ),
    pytest.param(
        OffresSpider, {"FT_MAX_RPS": 10**400},
        id="FT_MAX_RPS=int-overflow",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spidercls", "overrides"), FIXED_BUGS)
def test_fixed_bug(spidercls, overrides):
    theme = "x" if overrides.get("CPF_THEMES") == '{"x": []}' else ""
    arguments = {"theme": theme} if "CPF_THEMES" in overrides else {}
    assert validate(spidercls, overrides, arguments) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("~no-such-user-fuzz/out", id="unknown-user"),
        pytest.param("/" + "a" * 5000, id="name-too-long"),
    ],
)  # fmt: skip
def test_fixed_bug_output_dir(value):
    with pytest.raises(ConfigurationError) as error:
        output_dir(Settings({"CPFFT_OUTPUT_DIR": value}))
    assert "\n" not in str(error.value)
    assert len(str(error.value)) < MAX_MESSAGE


# ------------------------------------------------------------------ arguments


@FUZZ_MORE
@given(arguments=arguments(CPF_VALID))
def test_cpf_arguments(arguments):
    parsed = validate(CpfSpider, {}, arguments)
    if parsed is None:
        return
    assert set(parsed) == set(CPF_VALID)
    # The user's filters as the spider sends them: quotes cannot end the ODSQL literal.
    condition = cpf_filters(make_settings(CpfSpider), parsed)
    skeleton, literals = odsql_literals(condition)
    placeholder = {**parsed, "q": "Q" if parsed["q"] else None}
    skeleton_ref, literals_ref = odsql_literals(cpf_filters(make_settings(CpfSpider),
                                                            placeholder))  # fmt: skip
    assert skeleton == skeleton_ref
    assert literals == [parsed["q"] if x == "Q" and parsed["q"] else x for x in literals_ref]
    spider = cpf_spider(make_settings(CpfSpider), parsed)
    request = spider.api_request("/records", {"where": condition}, spider.parse_counts)
    url = urlsplit(request.url)
    assert (url.scheme, url.netloc, url.fragment) == ("http", "127.0.0.1:9", "")
    assert url.path.endswith("/catalog/datasets/moncompteformation_catalogueformation/records")
    assert parse_qs(url.query) == ({"where": [condition]} if condition else {})


@FUZZ
@given(q=st.one_of(st.text(), st.text(st.sampled_from("\"'\\&#%=() x")), spoiled(["python"])))
def test_cpf_q_stays_inside_its_odsql_literal(q):
    parsed = validate(CpfSpider, {}, {"q": q})
    if parsed is None:
        assert not no_control(q) or len(q.strip()) > 200 or not q.strip()
        return
    condition = cpf_filters(make_settings(CpfSpider), parsed)
    skeleton, literals = odsql_literals(condition)
    assert skeleton == "search(?)"
    assert literals == [q.strip()]


@FUZZ_MORE
@given(arguments=arguments(OFFRES_VALID), with_output_dir=st.booleans())
def test_offres_arguments(workdir, arguments, with_output_dir):
    overrides = {"CPFFT_OUTPUT_DIR": str(workdir)} if with_output_dir else {}  # -a depuis
    parsed = validate(OffresSpider, overrides, arguments)
    if parsed is None:
        return
    assert set(parsed) == set(OFFRES_VALID)
    assert check_combinations(parsed) is None
    query = api_query(parsed)
    for name, value in query.items():
        assert isinstance(value, str)
        assert value.strip() == value
        assert no_control(value), (name, value)
    for name in ("salaireMin", "dureeContratMin", "dureeContratMax"):
        if name in query:  # the API refuses an exponent
            assert re.fullmatch(r"\d+(\.\d+)?", query[name]), query[name]
    for name in ("minCreationDate", "maxCreationDate"):
        if name in query:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", query[name]), query[name]
    # The request the spider sends: same host and path, exactly these parameters.
    spider = offres_spider(make_settings(OffresSpider, overrides), parsed)
    low = spider.plan.user_low or "2000-01-01T00:00:00Z"
    high = spider.plan.user_high or "2026-11-29T00:00:00Z"
    request = window_request(spider, low, high)
    url = urlsplit(request.url)
    assert (url.scheme, url.netloc, url.path, url.fragment) == (
        "http", "127.0.0.1:9", SEARCH_PATH, "",
    )  # fmt: skip
    sent = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    expected = {**query, "minCreationDate": low, "maxCreationDate": high, "sort": "1",
                "range": "0-149"}  # fmt: skip
    assert sent == expected
    assert len(parse_qs(url.query)) == len(expected)  # no parameter smuggled with "&"


@FUZZ
@given(keywords=st.one_of(st.text(max_size=40), spoiled(["python", "data,sql"])))
def test_offres_keywords_cannot_inject_parameters(keywords):
    parsed = validate(OffresSpider, {}, {"motsCles": keywords})
    if parsed is None:
        return
    spider = offres_spider(make_settings(OffresSpider), parsed)
    request = window_request(spider, "2000-01-01T00:00:00Z", "2026-11-29T00:00:00Z")
    sent = parse_qs(urlsplit(request.url).query)
    assert sent["motsCles"] == [parsed["motsCles"]]
    assert set(sent) == {"motsCles", "minCreationDate", "maxCreationDate", "sort", "range"}


# ------------------------------------------------------------------ settings


def first_request_host(spidercls: type, current: Settings, parsed: dict[str, Any]) -> str | None:
    """The host of the first API request the spider would send."""
    if spidercls is CpfSpider:
        spider = cpf_spider(current, parsed)
        request = spider.api_request("", {}, spider.parse_metadata)
    else:
        spider = offres_spider(current, parsed)
        request = window_request(spider, "2000-01-01T00:00:00Z", "2026-11-29T00:00:00Z")
    return urlsplit(request.url).hostname


def invariant(name: str, value: Any, spidercls: type, parsed: dict[str, Any]) -> None:
    """What an accepted setting guarantees to the code that reads it once the crawl runs."""
    current = make_settings(spidercls, {name: value})
    if name in ("CPF_API_URL", "FT_API_URL"):
        base = check_base_url(current, name)
        parts = urlsplit(base)
        assert parts.scheme in ("http", "https")
        assert parts.hostname
        assert base.isprintable()
        assert not any(c.isspace() for c in base)
        assert not parts.query
        assert not parts.fragment
        # Requests go to that host (Scrapy sends an internationalised name in IDNA).
        try:
            idna = parts.hostname.encode("idna").decode()
        except UnicodeError:  # not a valid name: the request fails with a DNS error
            idna = parts.hostname
        assert first_request_host(spidercls, current, parsed) in (parts.hostname, idna)
    elif name == "FT_TOKEN_URL":
        parts = urlsplit(str(value).strip())
        assert parts.scheme in ("http", "https")
        assert parts.hostname
    elif name in ("CPF_PARTITION_ROWS", "CPF_PARTITION_ATTEMPTS", "RETRY_TIMES",
                  "FT_INCREMENTAL_OVERLAP", "CPFFT_RATE_LIMIT_RETRIES",
                  "CPFFT_UNREACHABLE_RETRIES"):  # fmt: skip
        low, high = {"CPF_PARTITION_ROWS": (1, 1_000_000), "CPF_PARTITION_ATTEMPTS": (1, 20),
                     "RETRY_TIMES": (0, 100), "FT_INCREMENTAL_OVERLAP": (0, 7 * 86_400),
                     "CPFFT_RATE_LIMIT_RETRIES": (0, 1000),
                     "CPFFT_UNREACHABLE_RETRIES": (0, 100)}[name]  # fmt: skip
        assert low <= current.getint(name) <= high
    elif name in ("DOWNLOAD_TIMEOUT", "CPFFT_RETRY_BACKOFF", "CPFFT_RETRY_BACKOFF_MAX",
                  "CPFFT_RETRY_AFTER_MAX", "CPFFT_PROGRESS_INTERVAL", "FT_MAX_RPS",
                  "CPFFT_RATE_INCREASE"):  # fmt: skip
        number = current.getfloat(name)
        assert 0 < number < math.inf
        if name == "FT_MAX_RPS":
            assert number <= 100
    elif name == "CPF_QUOTA_MAX_WAIT":
        assert 0 <= current.getfloat(name) < math.inf
    elif name == "CPFFT_CSV_DELIMITER":
        assert current.get(name) in DELIMITERS
    elif name == "CPFFT_CSV_FORMULA_GUARD":
        assert current.getbool(name) in (True, False)  # what the CSV exporter calls
    elif name == "CPFFT_POSTGRESQL_SCHEMA":  # a name PostgreSQL takes without quoting
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", current.get(name))
    elif name == "LOG_LEVEL":
        logging.getLogger("cpfft.fuzz").setLevel(current.get(name))
    elif name == "FT_OLDEST_CREATION":
        datetime.strptime(current.get(name), "%Y-%m-%dT%H:%M:%SZ")
    elif name == "CPF_DATASET":
        assert re.fullmatch(r"[A-Za-z0-9_-]+", current.get(name))
    elif name == "FT_SCOPE":
        assert str(current.get(name)).split()


#: The spider whose check covers each spider-specific setting (others: both).
OWNER = {
    "CPF_API_URL": CpfSpider, "CPF_DATASET": CpfSpider, "CPF_THEMES": CpfSpider,
    "CPF_PARTITION_ROWS": CpfSpider, "CPF_PARTITION_ATTEMPTS": CpfSpider,
    "FT_API_URL": OffresSpider, "FT_TOKEN_URL": OffresSpider, "FT_SCOPE": OffresSpider,
    "FT_MAX_RPS": OffresSpider, "FT_OLDEST_CREATION": OffresSpider,
    "FT_INCREMENTAL_OVERLAP": OffresSpider,
}  # fmt: skip
FUZZED_SETTINGS = sorted(set(SETTINGS_VALID) - {"CPFFT_OUTPUT_DIR"})  # see test_output_dir


@FUZZ_MORE
@given(data=st.data(), name=st.sampled_from(FUZZED_SETTINGS))
def test_settings_as_text(data, name):
    """-s NAME=value, the environment and .env all give text."""
    value = data.draw(setting_values(name), label="value")
    limit = MAX_MESSAGE
    for spidercls in [OWNER[name]] if name in OWNER else [CpfSpider, OffresSpider]:
        parsed = validate(spidercls, {name: value}, {}, limit)
        if parsed is not None:
            invariant(name, value, spidercls, parsed)


#: Settings whose checks are in cpfft/config.py: fuzzed with Python values of any type too.
TYPED_SETTINGS = [
    "CPF_API_URL", "CPF_PARTITION_ROWS", "CPF_PARTITION_ATTEMPTS", "CPF_QUOTA_MAX_WAIT",
    "FT_API_URL", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "CPFFT_RETRY_BACKOFF",
    "CPFFT_RETRY_BACKOFF_MAX", "CPFFT_RETRY_AFTER_MAX", "CPFFT_CSV_DELIMITER",
    "CPFFT_CSV_FORMULA_GUARD", "CPFFT_PROGRESS_INTERVAL", "LOG_LEVEL",
    "CPFFT_RATE_LIMIT_RETRIES", "CPFFT_RATE_INCREASE", "CPFFT_UNREACHABLE_RETRIES",
]  # fmt: skip


@FUZZ
@given(name=st.sampled_from(TYPED_SETTINGS), value=wrong_types)
def test_settings_of_any_type(name, value):
    for spidercls in [OWNER[name]] if name in OWNER else [CpfSpider, OffresSpider]:
        parsed = validate(spidercls, {name: value}, {})
        if parsed is not None:
            invariant(name, value, spidercls, parsed)


#: CPF_THEMES a user would write: simple names, lists of 3-digit NSF codes.
plain_themes = st.dictionaries(
    st.sampled_from(["btp", "bio", "agri", "x1", "numerique", "Santé"]),
    st.lists(st.sampled_from(["230", "231", "326", "100", "999"]), min_size=1, max_size=3),
    min_size=1,
    max_size=3,
).map(json.dumps)


@FUZZ
@given(data=st.data(), plain=st.booleans())
def test_cpf_themes_setting_with_theme_argument(data, plain):
    themes = data.draw(plain_themes if plain else setting_values("CPF_THEMES"), label="themes")
    try:
        decoded = json.loads(themes)
    except (ValueError, RecursionError):
        decoded = None
    names = [str(k) for k in decoded] if isinstance(decoded, dict) else []
    theme = data.draw(
        st.one_of(st.sampled_from(names), st.sampled_from(names).map(str.upper),
                  argument_values(["numerique", *names]))
        if names else argument_values(["numerique"]),
        label="theme",
    )  # fmt: skip
    parsed = validate(CpfSpider, {"CPF_THEMES": themes}, {"theme": theme})
    if parsed is not None:
        condition = cpf_filters(make_settings(CpfSpider, {"CPF_THEMES": themes}), parsed)
        skeleton, literals = odsql_literals(condition)
        assert skeleton.count("?") == len(literals)
        assert literals
        assert all(re.fullmatch(r"[0-9]{3}", code) for code in literals), literals


@FUZZ
@given(
    path=st.one_of(
        hostile_text,
        st.sampled_from(
            ["out.csv", "-", "stdout:", "/", ".", "/proc/x.csv", "a/" * 3000 + "x.csv"]
        ),
    )
)
def test_output_file(path):
    """-O path: checked before the crawl; a bad one is one line, never an OSError."""
    assume("\x00" not in path)  # cannot come from a command line
    try:
        check_common_settings(make_settings(CpfSpider, {"FEEDS": {path: {"format": "csv"}}}))
    except ConfigurationError as exc:
        check_message(str(exc))


@FUZZ
@given(
    value=st.one_of(
        hostile_text,
        st.sampled_from(
            ["/srv/cpfft", "relative/dir", "/dev/null", "/nonexistent/../srv", "~", "/"]
        ),
    )
)
def test_output_dir(value):
    assume("\x00" not in value)  # cannot come from a command line or the environment
    try:
        path = output_dir(Settings({"CPFFT_OUTPUT_DIR": value}))
    except ConfigurationError as exc:
        check_message(str(exc))
        return
    assert path is None or path.is_absolute()


# ------------------------------------------------------------------ .env and credentials.txt

NAMES = [b"FT_CLIENT_ID", b"FT_CLIENT_SECRET", b"CPF_API_URL", b"CPFFT_CSV_DELIMITER",
         b"CPF_THEMES", b"FUZZ_X"]  # fmt: skip
NASTY_BYTES = [b"\xff", b"\xe9", b"\x00", b"\r", b"\xef\xbb\xbf", b"\xc3", b'"', b"'", b"\\",
               b"=", b"#", b" ", b"\t", b"${HOME}", b"\xed\xa0\x80", b"\\x00"]  # fmt: skip
SECRET = "S3CRETfuzz"  # every secret written starts with this: it must not come back


def file_lines(legacy: bool) -> st.SearchStrategy[bytes]:
    keys = [b"CLIENT_ID", b"CLIENT_SECRET", b"client_secret", b"FT_CLIENT_ID"] if legacy else NAMES
    junk = st.lists(st.one_of(st.sampled_from(NASTY_BYTES), st.binary(max_size=6)), max_size=4)
    secret = st.text("abcdef0123456789", min_size=6, max_size=12).map(
        lambda t: (SECRET + t).encode()
    )
    line = st.builds(
        lambda export, key, space, quote, value, junk, tail: (
            export + key + space + b"=" + space + quote + value + b"".join(junk) + quote + tail
        ),
        st.sampled_from([b"", b"export ", b"  "]),
        st.one_of(st.sampled_from(keys), st.binary(max_size=8)),
        st.sampled_from([b"", b" "]),
        st.sampled_from([b"", b'"', b"'"]),
        st.one_of(secret, st.binary(max_size=8)),
        junk,
        st.sampled_from([b"", b"  ", b" # comment", b"\x00"]),
    )
    lines = st.lists(st.one_of(line, line, line, st.binary(max_size=20)), max_size=6)
    return st.builds(
        lambda bom, parts, eol: bom + eol.join(parts),
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]),
        lines,
        st.sampled_from([b"\n", b"\r\n", b"\r"]),
    )


def credentials_or_check(cwd: Path) -> Credentials | None:
    """The credentials, or None after checking the error: one line, no secret in it."""
    try:
        return load_credentials(cwd)
    except CredentialsError as exc:
        message = str(exc)
    check_message(message)
    assert SECRET not in message
    return None


def scrubbed() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("FT_", "CPF", "FUZZ"))}  # fmt: skip


@FUZZ
@given(content=file_lines(legacy=False))
def test_dotenv_file(workdir, content):
    (workdir / ".env").write_bytes(content)
    (workdir / "credentials.txt").unlink(missing_ok=True)
    with mock.patch.dict(os.environ, scrubbed(), clear=True), contextlib.chdir(workdir):
        assert load_environment() == str(workdir / ".env")
        error = os.environ.get("CPFFT_DOTENV_ERROR")
        if error is not None:
            check_message(error)
            assert SECRET not in error
            with pytest.raises(ConfigurationError):
                check_common_settings(make_settings(CpfSpider))
            return
        credentials = credentials_or_check(workdir)
        if credentials is None:
            return
    assert credentials.client_id
    assert credentials.secret
    assert no_control(credentials.client_id + credentials.secret)
    assert credentials.secret not in repr(credentials)


def test_dotenv_unreadable(workdir, monkeypatch):
    (workdir / ".env").write_bytes(b"CPFFT_CSV_DELIMITER=;\n")

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("cpfft.config.dotenv_values", refuse)
    monkeypatch.chdir(workdir)
    assert load_environment() == str(workdir / ".env")
    message = os.environ["CPFFT_DOTENV_ERROR"]
    assert message == f"cannot read {workdir / '.env'}: Permission denied"
    with pytest.raises(ConfigurationError, match=r"^cannot read .*: Permission denied$"):
        check_common_settings(make_settings(CpfSpider))


@FUZZ
@given(content=file_lines(legacy=True))
def test_credentials_file(workdir, content):
    (workdir / ".env").unlink(missing_ok=True)
    (workdir / "credentials.txt").write_bytes(content)
    with mock.patch.dict(os.environ, scrubbed(), clear=True):
        credentials = credentials_or_check(workdir)
        if credentials is None:
            return
    assert credentials.source == str(workdir / "credentials.txt")
    assert credentials.client_id == credentials.client_id.strip()
    assert credentials.secret == credentials.secret.strip()
    assert credentials.client_id
    assert credentials.secret
    assert no_control(credentials.client_id + credentials.secret)
    assert credentials.secret not in repr(credentials)


@FUZZ
@given(client_id=hostile_text, secret=hostile_text)
def test_credentials_from_the_environment(client_id, secret):
    assume("\x00" not in client_id + secret)  # the environment cannot hold NUL
    env = {**scrubbed(), "FT_CLIENT_ID": client_id, "FT_CLIENT_SECRET": SECRET + secret}
    with mock.patch.dict(os.environ, env, clear=True):
        credentials = credentials_or_check(Path("/nonexistent"))
        if credentials is None:
            return
    assert no_control(credentials.client_id + credentials.secret)


# ------------------------------------------------------------------ real runs


def assert_usage_error(result, fragment: str) -> None:
    """Exit 2, and stderr is exactly one line ``cpfft: error: …``."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("cpfft: error: ")
    assert fragment in lines[0]


PREVIOUS = BOM + b"previous,complete,file\r\n"


@pytest.mark.crawl
def test_run_with_quotes_and_separators_in_q(ods, crawl):
    api = ods(rows=200)
    q = "\"'); DROP TABLE x; -- \\\" & #1 %22 l'été"
    result = crawl("cpf", {"q": q}, env={"CPF_API_URL": api.url})
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    assert "127.0.0.1:9" not in result.log  # nothing went anywhere but the emulator
    header, _rows = result.rows()
    assert header[0] == "date_extract"
    wheres = [parse_qs(urlsplit(u).query).get("where", [""])[0] for u in api.requests]
    assert len(wheres) >= 2
    for where in filter(None, wheres):
        skeleton, literals = odsql_literals(where)
        assert "search(?)" in skeleton, where
        assert literals[skeleton.count("?", 0, skeleton.index("search(?)"))] == q


@pytest.mark.crawl
def test_line_break_in_keywords(ft, crawl, tmp_path):
    api = ft(offers=10)
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    result = crawl("offres", {"motsCles": "python\n-s FT_API_URL=http://evil"}, env=ft_env(api))
    assert_usage_error(result, "argument -a motsCles: keyword")
    assert api.stats()["api_calls"] + api.stats()["token_calls"] == 0
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS


@pytest.mark.crawl
def test_byte_not_utf8_on_the_command_line(ods, crawl, tmp_path):
    api = ods(rows=10)
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    # "caf\udce9" is how Python reads the byte 0xE9 (Latin-1 é) in sys.argv.
    result = crawl("cpf", {"q": "caf\udce9"}, env={"CPF_API_URL": api.url})
    assert_usage_error(result, "argument -a q: contains bytes that are not valid UTF-8")
    assert api.stats()["calls"] == 0
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS


@pytest.mark.crawl
def test_dotenv_with_a_nul_byte(crawl, tmp_path):
    secret = SECRET + "dotenv"
    (tmp_path / ".env").write_bytes(
        b"CPFFT_CSV_DELIMITER=;\nFT_CLIENT_SECRET=" + secret.encode() + b"\x00x\n"
    )
    result = crawl("cpf")
    assert_usage_error(result, f"{tmp_path / '.env'}: variable 'FT_CLIENT_SECRET' cannot be set")
    assert SECRET not in result.stderr


@pytest.mark.crawl
def test_credentials_file_not_utf8(ft, crawl, tmp_path):
    api = ft(offers=10)
    (tmp_path / "credentials.txt").write_bytes(
        b"CLIENT_ID=PAR_fuzz\nCLIENT_SECRET=" + SECRET.encode() + b"\xe9\xff\n"
    )
    result = crawl("offres", env=ft_env(api, FT_CLIENT_ID=None, FT_CLIENT_SECRET=None))
    assert_usage_error(result, "credentials.txt is not valid UTF-8")
    assert SECRET not in result.stderr
    assert api.stats()["api_calls"] + api.stats()["token_calls"] == 0


@pytest.mark.crawl
def test_rate_that_overflows(ft, crawl):
    api = ft(offers=10)
    result = crawl("offres", env=ft_env(api), settings={"FT_MAX_RPS": "1e309"})
    assert_usage_error(result, "setting FT_MAX_RPS='1e309' must be a number of requests")
    assert api.stats()["api_calls"] + api.stats()["token_calls"] == 0
