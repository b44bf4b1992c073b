"""Pure functions that turn raw API values into clean, analysis-ready cells."""

from __future__ import annotations

import html
import math
import re
import unicodedata

# Characters that look like a space; all become U+0020.
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2000\u2001\u2002\u2003\u2004"), " ")
_SPACES.update(dict.fromkeys(map(ord, "\u2005\u2006\u2008\u2009\u200a\u205f\u3000\t\v\f"), " "))
# Invisible characters that only confuse spreadsheets.
_SPACES.update(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None))
# C0 control characters other than \n (handled separately) are dropped.
_SPACES.update(dict.fromkeys([*range(9), *range(14, 32), 127], None))


def _windows_1252(code: int) -> str | None:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:
        return None  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: no letter there


#: C1 control characters (U+0080 to U+009F) in real offers are Windows-1252 bytes decoded
#: as Latin-1 upstream: U+0092 is the ’ of "l’international", U+009C the œ of "mise en
#: œuvre". Each becomes the Windows-1252 letter it stands for (’ œ € … – —); the five
#: bytes Windows-1252 leaves undefined are dropped.
C1_LETTERS: dict[int, str | None] = {c: _windows_1252(c) for c in range(0x80, 0xA0)}
_SPACES.update(C1_LETTERS)


def _char_class(codes: list[int]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(codes)) + "]")


# The same mapping as regular expressions: scanning a long text for a few characters in C
# is several times faster than str.translate's per-character lookup on non-ASCII text.
_SPACE_LIKE = _char_class([c for c, v in _SPACES.items() if v == " "])
_INVISIBLE = _char_class([c for c, v in _SPACES.items() if v is None])
_C1 = _char_class([c for c, v in C1_LETTERS.items() if v is not None])

# Any of them, or a CR or Unicode line break: texts without one skip those substitutions.
_ODD_CHARS = _char_class([*_SPACES, 0x0D, 0x2028, 0x2029])

_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|<!--")
_RUNS_OF_SPACES = re.compile(r" {2,}")
# (U+0085 is no line break here: it is the "…" of Windows-1252, see C1_LETTERS.)
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")
_ODD_BREAKS = ("\u2028", "\u2029")

_BLOCK = (
    "address|article|aside|blockquote|dd|div|dl|dt|fieldset|figcaption|figure|footer|form|"
    "h[1-6]|header|hr|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul"
)
_HIDDEN = re.compile(
    r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_BREAK = re.compile(rf"<br\b[^>]*>|</?(?:{_BLOCK})\b[^>]*>", re.IGNORECASE)
_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
#: What an HTML list item starts with once converted: a bullet no spreadsheet runs as a
#: formula (a leading "- " would be, so the CSV formula guard had to prefix it with ').
BULLET = "\u2022 "
_EMPTY_ITEMS = ("-", BULLET.strip())
_ANY_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_CASELESS = (_HIDDEN, _ITEM, _BREAK)
_LOWER_CASE = tuple(re.compile(p.pattern, p.flags & ~re.IGNORECASE) for p in _CASELESS)
# A "<" or "</" whose name is not made of lower-case ASCII letters and digits only (an
# upper-case letter; a letter that matches one without case, such as the long s "ſ" for
# "s"; "<!--"): only then may the patterns without case find more than their twins.
_UNUSUAL_TAG = re.compile(r"</?[a-z0-9]*[^a-z0-9\s/>]")

#: Tags whose "<" real offers lose upstream, glued to the word before them:
#: "procéduresp>Pré-requis", "sécuritébr />", "expérience/p>". A block tag's fragment
#: becomes a line break (a block group), an inline one nothing. The name comes after a
#: letter, a digit, a space, punctuation or the start, with ">" right after it (or " />"):
#: "a > b", "plan b > plan a" and "->" are left alone. A one-letter name is the end of
#: many a word ("mini>3", "emploi>", "Top>»"): it is a fragment only as a closing tag
#: ("/p>", "/b>"), or as "p>" before a capital letter (the next paragraph's start).
_FRAGMENT = re.compile(
    r"(?:(?<=[^\W_])|(?<=[\s.,;:!?)\]»\"'’])|^)"
    r"(?:/(?:(br|p|li|ul|ol|div|h[1-6]|tr|td|table)|strong|span|em|b|i|u)"
    r"|(?:(br|li|ul|ol|div|h[1-6]|tr|td|table)|strong|span|em)"
    r"|(p)(?=\s*/?>[A-ZÀ-ÖØ-Þ]))(?:\s*/)?>"
)
#: Rounds of entity decoding at most: "rattach&amp;eacute;(e)" needs two.
_ENTITY_ROUNDS = 4

# Every character the cleaning of a text may change or remove: tags, their fragments and
# entities, line breaks, the characters mapped above, and whatever else str.strip() takes
# off a line end (all Unicode white space is below U+3001).
_CHANGEABLE = _char_class(
    sorted(
        {ord("<"), ord(">"), ord("&"), 0x0A, 0x0D, 0x2028, 0x2029, *_SPACES}
        | {c for c in range(0x3001) if chr(c).isspace() and c != 0x20}
    )
)
# What clean_code may change in a text: the characters mapped above and any white space.
_CODE_CHANGEABLE = _char_class(
    sorted(set(_SPACES) | {c for c in range(0x3001) if chr(c).isspace()})
)
#: Texts that clean to nothing (an empty list item is dropped as an empty line).
_BLANK = ("", *_EMPTY_ITEMS)


def is_clean(value: str) -> bool:
    """True if :func:`clean_text` and :func:`clean_longtext` would return ``value`` itself:
    no tag or entity, no character to map, no line break, no space at an end or doubled."""
    return not (
        _CHANGEABLE.search(value)
        or "  " in value
        or value[:1] == " "
        or value[-1:] == " "
        or value in _BLANK
        or not unicodedata.is_normalized("NFC", value)
    )


def decode_entities(value: str) -> str:
    """Decode HTML entities until none is left to decode: a double-encoded
    ``&amp;eacute;`` is an ``é``, as its author meant."""
    for _ in range(_ENTITY_ROUNDS):
        if "&" not in value:
            break
        decoded = html.unescape(value)
        if decoded == value:
            break
        value = decoded
    return value


def _block_or_nothing(match: re.Match[str]) -> str:
    return "\n" if match.lastindex else ""  # only the block names are groups


def drop_fragments(value: str) -> str:
    """Tag fragments whose ``<`` was lost (see :data:`_FRAGMENT`) taken out of the text."""
    return _FRAGMENT.sub(_block_or_nothing, value) if ">" in value else value


def html_to_text(value: str) -> str:
    """Strip tags and decode entities, keeping block elements on their own lines.

    Entities are decoded first, until stable (:func:`decode_entities`): HTML sent
    escaped (``&lt;br&gt;``) is HTML too. Then tags, then the fragments of tags whose
    ``<`` was lost (:func:`drop_fragments`).

    Regular expressions rather than an HTML parser: the texts are short
    fragments, and this runs once per cell on hundreds of thousands of rows.
    """
    if "&" in value:
        value = decode_entities(value)
    if not _TAG.search(value):
        return drop_fragments(value)
    # Line breaks in HTML source are just spaces; only tags make lines. (The same as
    # _NEWLINES.sub(" ", value), at a tenth of its cost: most texts have none of them.)
    if "\r" in value:
        value = value.replace("\r\n", " ").replace("\r", " ")
    for odd_break in _ODD_BREAKS:
        if odd_break in value:
            value = value.replace(odd_break, " ")
    value = value.replace("\n", " ")
    # Tag names in lower case (most texts): the case-sensitive twins of the patterns find
    # the same tags, at half the cost.
    hidden, item, block = _CASELESS if _UNUSUAL_TAG.search(value) else _LOWER_CASE
    value = hidden.sub(" ", value)
    value = item.sub("\n" + BULLET, value)
    value = block.sub("\n", value)
    value = _ANY_TAG.sub("", value)
    return drop_fragments(value)


def _c1_letter(match: re.Match[str]) -> str:
    return C1_LETTERS[ord(match.group())] or ""


def normalize_lines(value: str) -> str:
    """Normalise spaces inside lines; drop empty lines (and empty list items: a lone
    bullet, or a lone ``-``); compose accents (NFC: an ``e`` and a combining acute accent
    become one ``é``, as a search or a join expects). Returns '' for blank text."""
    if _ODD_CHARS.search(value):  # most texts have none of the characters mapped above
        value = _INVISIBLE.sub("", _SPACE_LIKE.sub(" ", _NEWLINES.sub("\n", value)))
        if _C1.search(value):
            value = _C1.sub(_c1_letter, value)
    if not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    # Runs of spaces never cross a line break: collapsing them in the whole text at once
    # is the same as line by line.
    if "  " in value:
        value = _RUNS_OF_SPACES.sub(" ", value)
    lines = [line.strip() for line in value.split("\n")]
    return "\n".join([line for line in lines if line and line not in _EMPTY_ITEMS])


def clean_longtext(value: object) -> str | None:
    """HTML or plain text → readable plain text, one paragraph or list item per line."""
    if value is None:
        return None
    text = value if type(value) is str else str(value)
    if is_clean(text):
        return text
    return normalize_lines(html_to_text(text)) or None


def clean_text(value: object) -> str | None:
    """Any text → one line with single spaces (tags removed, entities decoded)."""
    if value is None:
        return None
    text = value if type(value) is str else str(value)
    if is_clean(text):  # most values: a name, a label
        return text
    return " ".join(normalize_lines(html_to_text(text)).split("\n")) or None


def clean_code(value: object) -> str | None:
    """A code is text: ``1.0`` from a numeric API field becomes ``1``, ``01`` stays ``01``."""
    if type(value) is str and value and not _CODE_CHANGEABLE.search(value):
        return value  # most codes: nothing to change
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = " ".join(str(value).translate(_SPACES).split())
    return text or None


class BadNumber(ValueError):
    pass


def clean_number(value: object, kind: str) -> int | float | None:
    """Parse a number (JSON number or numeric text, French comma allowed).

    ``int`` fields keep a fractional value as a float rather than losing it.
    Raises :class:`BadNumber` for text that is not a number.
    """
    if type(value) is int:  # most numbers: JSON integers
        return float(value) if kind == "float" else value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadNumber(repr(value))
    if isinstance(value, int):
        number: int | float = value
    elif isinstance(value, float):
        number = value
    else:
        text = str(value).translate(_SPACES).replace(" ", "").replace(",", ".")
        if not text:
            return None
        try:
            number = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise BadNumber(repr(value)) from None
    if isinstance(number, float):
        if not math.isfinite(number):
            raise BadNumber(repr(value))
        if kind == "int" and number.is_integer():
            return int(number)
    return float(number) if kind == "float" else number


_TRUE = frozenset({"true", "1", "oui", "yes", "o", "y"})
_FALSE = frozenset({"false", "0", "non", "no", "n"})


def clean_bool(value: object) -> bool | None:
    """True or false (a JSON boolean, or its text); raises :class:`BadNumber` otherwise."""
    if type(value) is bool:
        return value
    if value is None or value == "":
        return None
    if type(value) is int and value in (0, 1):
        return bool(value)
    folded = str(value).strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise BadNumber(repr(value))


def clean_date(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


CLEANERS = {
    "text": clean_text,
    "longtext": clean_longtext,
    "code": clean_code,
    "date": clean_date,
}
