import pytest

from cpfft.errors import ArgumentError
from cpfft.params import Param, choice, integer, listing, parse_arguments, text

PARAMS = (
    Param("theme", listing(choice({"numerique": "numerique", "santé": "sante"}), 3), "a theme"),
    Param("max_records", integer(1, 1000), "a number"),
    Param("q", text(20), "words"),
)


def test_defaults_and_parsing():
    assert parse_arguments(PARAMS, {}) == {"theme": None, "max_records": None, "q": None}
    parsed = parse_arguments(PARAMS, {"theme": "Numérique, SANTE", "max_records": " 12 "})
    assert parsed["theme"] == ("numerique", "sante")
    assert parsed["max_records"] == 12


def test_scrapyd_job_argument_is_accepted():
    assert parse_arguments(PARAMS, {"_job": "abc123", "_version": "1"})["q"] is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"Theme": "sante"}, "argument -a Theme: unknown argument. Did you mean -a theme=…?"),
        ({"max_record": "3"}, "Did you mean -a max_records=…?"),
        ({"zzz": "1"}, "unknown argument. Valid arguments: theme, max_records, q"),
        ({"theme": "informatique"}, "unknown value 'informatique'. Valid values: numerique, sante"),
        ({"theme": "sante,,numerique"}, "empty item"),
        ({"max_records": "abc"}, "'abc' is not a whole number. Expected an integer from 1 to 1000"),
        ({"max_records": "0"}, "0 is out of range"),
        ({"max_records": "1e3"}, "is not a whole number"),
        ({"q": "   "}, "argument -a q: empty value. Expected words"),
        ({"q": "x" * 21}, "too long (21 characters). At most 20"),
        ({"q": "a\nb"}, "control character"),
    ],
)
def test_errors_are_one_line_and_name_the_argument(raw, fragment):
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(PARAMS, raw)
    message = str(exc.value)
    assert fragment in message
    assert "\n" not in message
    assert message.startswith("argument -a ")


def test_huge_values_are_shortened_in_messages():
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(PARAMS, {"theme": "x" * 5000})
    assert len(str(exc.value)) < 300
