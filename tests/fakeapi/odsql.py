"""The subset of ODSQL (Explore v2.1) and of the v1 ``q`` language that clients of
the CPF dataset send (docs/api-opendatasoft.md, « ODSQL utilisé »), compiled to Python
predicates.

Error texts follow the live ones: ``ODSQL query is malformed: Unknown field: X.
Clause(s) containing the error(s): where.``
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Row = tuple
Pred = Callable[[Row], bool]
Getter = Callable[[Row], Any]


class ODSQLError(ValueError):
    """400 ``{"error_code": "ODSQLError", "message": str(self)}``."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<date>date'[^']*')
    |(?P<num>\d+(?:\.\d+)?)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<ident>`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>\.\.|<=|>=|!=|<>|=|<|>|\(|\)|\[|\]|,|\*|-)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "like", "is", "null", "as", "asc", "desc", "true", "false"}


@dataclass
class Tok:
    kind: str
    value: Any
    text: str


def tokenize(source: str, clause: str) -> list[Tok]:
    tokens, pos = [], 0
    source = source.rstrip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise ODSQLError(
                f"ODSQL query is malformed: {source[pos : pos + 30].strip()} "
                f"Clause(s) containing the error(s): {clause}."
            )
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "str":
            value: Any = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "num":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "date":
            value = raw[5:-1]
        elif kind == "ident":
            value = raw.strip("`")
            if raw[0] != "`" and value.lower() in KEYWORDS:
                kind, value = "kw", value.lower()
        else:
            value = raw
        tokens.append(Tok(kind, value, raw))
    return tokens


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", fold(text)))


def fulltext_match(values: Sequence[Any], query: str) -> bool:
    """Every query word is a prefix of some word of the values (last one: prefix)."""
    terms = words(query)
    if not terms:
        return True
    found = [w for v in values if v is not None for w in words(str(v))]
    return all(any(w.startswith(t) for w in found) for t in terms)


class Schema:
    def __init__(self, fields: Sequence[str], types: dict[str, str], text_fields: Sequence[str]):
        self.index = {name: i for i, name in enumerate(fields)}
        self.types = types
        self.text_fields = [self.index[f] for f in text_fields if f in self.index]

    def getter(self, name: str, clause: str) -> Getter:
        if name not in self.index:
            raise ODSQLError(
                f"ODSQL query is malformed: Unknown field: {name}. "
                f"Clause(s) containing the error(s): {clause}."
            )
        i = self.index[name]
        return lambda row: row[i]


def _coerce(literal: Any, ftype: str) -> Any:
    """Compare codes quoted or not: "326" = 326 on a text field, "39775" = 39775 on int."""
    if literal is None:
        return None
    if ftype == "text":
        if isinstance(literal, float) and literal.is_integer():
            return str(int(literal))
        return str(literal)
    if ftype in ("int", "double") and isinstance(literal, str):
        try:
            return float(literal) if "." in literal else int(literal)
        except ValueError:
            return literal
    return literal


class _Parser:
    def __init__(self, source: str, schema: Schema, clause: str):
        self.tokens = tokenize(source, clause)
        self.pos = 0
        self.schema = schema
        self.clause = clause
        self.source = source

    # -- helpers
    def peek(self, offset: int = 0) -> Tok | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of query")
        self.pos += 1
        return tok

    def accept(self, kind: str, value: Any = None) -> Tok | None:
        tok = self.peek()
        if tok and tok.kind == kind and (value is None or tok.value == value):
            self.pos += 1
            return tok
        return None

    def expect(self, kind: str, value: Any = None) -> Tok:
        tok = self.accept(kind, value)
        if tok is None:
            near = self.peek()
            raise self.error(near.text if near else "unexpected end of query")
        return tok

    def error(self, near: str) -> ODSQLError:
        return ODSQLError(
            f"ODSQL query is malformed: {near} Clause(s) containing the error(s): {self.clause}."
        )

    def done(self) -> None:
        tok = self.peek()
        if tok is not None:
            raise self.error(tok.text)

    # -- boolean expressions
    def parse_bool(self) -> Pred:
        pred = self.parse_and()
        while self.accept("kw", "or"):
            left, right = pred, self.parse_and()
            pred = lambda r, a=left, b=right: a(r) or b(r)
        return pred

    def parse_and(self) -> Pred:
        pred = self.parse_not()
        while self.accept("kw", "and"):
            left, right = pred, self.parse_not()
            pred = lambda r, a=left, b=right: a(r) and b(r)
        return pred

    def parse_not(self) -> Pred:
        if self.accept("kw", "not"):
            inner = self.parse_not()
            return lambda r: not inner(r)
        return self.parse_predicate()

    def parse_predicate(self) -> Pred:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of query")
        if tok.kind == "op" and tok.value == "(":
            self.take()
            pred = self.parse_bool()
            self.expect("op", ")")
            return pred
        if tok.kind == "str":
            self.take()
            return self._fulltext(None, tok.value)
        if tok.kind == "ident" and (nxt := self.peek(1)) and nxt.text == "(":
            name = tok.value.lower()
            if name in ("search", "suggest", "startswith"):
                return self.parse_text_function(name)
        getter, ftype = self.parse_operand()
        return self.parse_comparison(getter, ftype)

    def parse_text_function(self, name: str) -> Pred:
        self.take()
        self.expect("op", "(")
        fields: list[int] = []
        while True:
            tok = self.take()
            if tok.kind == "str":
                query = tok.value
                self.expect("op", ")")
                break
            if tok.kind == "op" and tok.value == "*":
                fields = list(self.schema.text_fields)
            elif tok.kind == "ident":
                self.schema.getter(tok.value, self.clause)
                fields.append(self.schema.index[tok.value])
            else:
                raise self.error(tok.text)
            self.expect("op", ",")
        if name == "startswith":
            if len(fields) != 1:
                raise self.error("startswith()")
            i = fields[0]
            return lambda r: isinstance(r[i], str) and r[i].startswith(query)
        if name == "suggest":
            terms = words(query)
            idx = fields or self.schema.text_fields
            return lambda r: all(
                any(w.startswith(t) for i in idx if r[i] is not None for w in words(str(r[i])))
                for t in terms
            )
        return self._fulltext(fields or None, query)

    def _fulltext(self, fields: list[int] | None, query: str) -> Pred:
        idx = fields or self.schema.text_fields
        return lambda r: fulltext_match([r[i] for i in idx], query)

    def parse_operand(self) -> tuple[Getter, str]:
        tok = self.take()
        if tok.kind == "ident":
            nxt = self.peek()
            if nxt and nxt.text == "(" and tok.value.lower() == "lower":
                self.take()
                getter, _ = self.parse_operand()
                self.expect("op", ")")
                return (lambda r: None if getter(r) is None else str(getter(r)).lower()), "text"
            if nxt and nxt.text == "(":
                raise self.error(f"{tok.value}()")
            getter = self.schema.getter(tok.value, self.clause)
            return getter, self.schema.types.get(tok.value, "text")
        raise self.error(tok.text)

    def parse_literal(self) -> Any:
        tok = self.take()
        if tok.kind in ("str", "num", "date"):
            return tok.value
        if tok.kind == "op" and tok.value == "-":
            num = self.expect("num")
            return -num.value
        if tok.kind == "kw" and tok.value in ("true", "false"):
            return tok.value == "true"
        if tok.kind == "kw" and tok.value == "null":
            return None
        raise self.error(tok.text)

    def parse_comparison(self, getter: Getter, ftype: str) -> Pred:
        tok = self.peek()
        if tok is None:
            raise self.error("a field alone is not a condition")
        if tok.kind == "kw" and tok.value == "is":
            self.take()
            negate = bool(self.accept("kw", "not"))
            self.expect("kw", "null")
            if negate:
                return lambda r: getter(r) is not None
            return lambda r: getter(r) is None
        negate = False
        if tok.kind == "kw" and tok.value == "not":
            self.take()
            negate = True
            tok = self.peek()
        if tok is not None and tok.kind == "kw" and tok.value == "in":
            self.take()
            pred = self.parse_in(getter, ftype)
            return (lambda r: not pred(r)) if negate else pred
        if tok is not None and tok.kind == "kw" and tok.value == "like":
            self.take()
            pattern = self.expect("str").value
            terms = words(pattern.replace("*", ""))

            def like(r: Row) -> bool:
                value = getter(r)
                if value is None:
                    return False
                found = words(str(value))
                return all(any(w.startswith(t) for w in found) for t in terms)

            return (lambda r: not like(r)) if negate else like
        if negate:
            raise self.error("not")
        op = self.take()
        if op.kind != "op" or op.value not in ("=", "!=", "<>", "<", ">", "<=", ">="):
            raise self.error(op.text)
        literal = _coerce(self.parse_literal(), ftype)
        return _compare(getter, op.value, literal)

    def parse_in(self, getter: Getter, ftype: str) -> Pred:
        if self.accept("op", "("):
            values = set()
            while True:
                values.add(_coerce(self.parse_literal(), ftype))
                if self.accept("op", ")"):
                    break
                self.expect("op", ",")
            return lambda r: getter(r) in values
        self.expect("op", "[")
        low = _coerce(self.parse_literal(), ftype)
        self.expect("op", "..")
        high = _coerce(self.parse_literal(), ftype)
        self.expect("op", "]")

        def between(r: Row) -> bool:
            value = getter(r)
            try:
                return value is not None and low <= value <= high
            except TypeError:
                return False

        return between


def _compare(getter: Getter, op: str, literal: Any) -> Pred:
    if op == "=":
        return lambda r: getter(r) == literal
    if op in ("!=", "<>"):
        return lambda r: getter(r) is not None and getter(r) != literal

    def ordered(r: Row) -> bool:
        value = getter(r)
        if value is None or literal is None:
            return False
        try:
            if op == "<":
                return value < literal
            if op == ">":
                return value > literal
            if op == "<=":
                return value <= literal
            return value >= literal
        except TypeError:
            return False

    return ordered


def compile_where(clauses: Sequence[str], schema: Schema) -> Pred:
    """AND of every ``where=`` parameter; empty → match all."""
    preds = []
    for clause in clauses:
        if not clause.strip():
            continue
        parser = _Parser(clause, schema, "where")
        preds.append(parser.parse_bool())
        parser.done()
    if not preds:
        return lambda r: True
    return lambda r: all(p(r) for p in preds)


# ------------------------------------------------------------------ select / group_by


@dataclass
class SelectItem:
    label: str
    field: str | None  # plain field
    func: str | None = None  # aggregate function name
    arg: str | None = None  # aggregate argument field ('*' for count(*))


AGGREGATES = ("count", "avg", "sum", "min", "max", "median")


def parse_select(source: str, schema: Schema, available: Sequence[str]) -> list[SelectItem]:
    if not source.strip():
        return [SelectItem(name, name) for name in available]
    parser = _Parser(source, schema, "select")
    items: list[SelectItem] = []
    while True:
        tok = parser.take()
        if tok.kind == "op" and tok.value == "*":
            items.extend(SelectItem(name, name) for name in available)
        elif tok.kind == "ident" and parser.peek() and parser.peek().text == "(":
            func = tok.value.lower()
            if func not in AGGREGATES:
                raise parser.error(f"{tok.value}()")
            parser.take()
            if parser.accept("op", "*"):
                if func != "count":
                    raise parser.error(f"{func}(*)")
                arg = "*"
            else:
                arg = parser.expect("ident").value
                schema.getter(arg, "select")
                if func != "count" and schema.types.get(arg) not in ("int", "double", "date"):
                    raise ODSQLError(
                        "ODSQL query is malformed: StatAggregation only supports numeric or "
                        "date expression."
                    )
            parser.expect("op", ")")
            label = f"{func}({arg})"
            if parser.accept("kw", "as"):
                label = parser.expect("ident").value
            items.append(SelectItem(label, None, func, arg))
        elif tok.kind == "ident":
            schema.getter(tok.value, "select")
            label = tok.value
            if parser.accept("kw", "as"):
                label = parser.expect("ident").value
            items.append(SelectItem(label, tok.value))
        else:
            raise parser.error(tok.text)
        if not parser.accept("op", ","):
            break
    parser.done()
    return items


def parse_group_by(source: str, schema: Schema) -> list[tuple[str, str]]:
    """``[(field, label), …]``."""
    parser = _Parser(source, schema, "group_by")
    keys = []
    while True:
        name = parser.expect("ident").value
        schema.getter(name, "group_by")
        label = name
        if parser.accept("kw", "as"):
            label = parser.expect("ident").value
        keys.append((name, label))
        if not parser.accept("op", ","):
            break
    parser.done()
    return keys


def parse_order_by(source: str, schema: Schema, labels: Sequence[str]) -> list[tuple[str, bool]]:
    """``[(field or label, descending), …]``; ascending by default."""
    parser = _Parser(source, schema, "order_by")
    order = []
    while True:
        tok = parser.take()
        if tok.kind != "ident":
            raise parser.error(tok.text)
        name = tok.value
        if name not in labels:
            schema.getter(name, "order_by")
        desc = False
        if parser.accept("kw", "desc"):
            desc = True
        else:
            parser.accept("kw", "asc")
        order.append((name, desc))
        if not parser.accept("op", ","):
            break
    parser.done()
    return order


def aggregate(func: str, arg: str, rows: list[Row], schema: Schema) -> Any:
    if arg == "*":
        return len(rows)
    i = schema.index[arg]
    values = [r[i] for r in rows if r[i] is not None]
    if func == "count":
        return len(values)
    if not values:
        return None
    if func == "sum":
        return sum(values)
    if func == "avg":
        return sum(values) / len(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    return statistics.median(values)


# ------------------------------------------------------------------ v1 q language


_V1_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<phrase>"[^"]*")|'
    r"(?P<cmp>[A-Za-z_][A-Za-z0-9_]*(?:>=|<=|==|:|>|<)(?:\"[^\"]*\"|[^\s()]+))|(?P<word>[^\s()]+))"
)


def compile_v1_query(q: str, schema: Schema) -> Pred:
    """v1 ``q``: words (full text, AND), ``"phrases"``, ``field:value``, ``field>=n``,
    AND / OR / NOT and parentheses (the v1 Search API's query language)."""
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _V1_TOKEN.finditer(q)]
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def parse_or() -> Pred:
        nonlocal pos
        pred = parse_and()
        while (t := peek()) and t[0] == "word" and t[1] == "OR":
            pos += 1
            a, b = pred, parse_and()
            pred = lambda r, a=a, b=b: a(r) or b(r)
        return pred

    def parse_and() -> Pred:
        nonlocal pos
        preds = [parse_not()]
        while (t := peek()) and not (t[0] == "rp" or (t[0] == "word" and t[1] == "OR")):
            if t[0] == "word" and t[1] == "AND":
                pos += 1
            preds.append(parse_not())
        return lambda r: all(p(r) for p in preds)

    def parse_not() -> Pred:
        nonlocal pos
        t = peek()
        if t and t[0] == "word" and t[1] == "NOT":
            pos += 1
            inner = parse_not()
            return lambda r: not inner(r)
        return parse_atom()

    def parse_atom() -> Pred:
        nonlocal pos
        t = peek()
        if t is None:
            raise ODSQLError("Malformed query: unexpected end")
        pos += 1
        kind, text = t
        if kind == "lp":
            pred = parse_or()
            if peek() and peek()[0] == "rp":
                pos += 1
            return pred
        if kind == "cmp":
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(>=|<=|==|:|>|<)(.*)", text)
            name, op, raw = m.group(1), m.group(2), m.group(3).strip('"')
            if name not in schema.index:
                raise ODSQLError(f"Unknown field: {name}")
            getter = schema.getter(name, "q")
            ftype = schema.types.get(name, "text")
            if op in (":", "=="):
                want = fold(raw)
                return lambda r: getter(r) is not None and fold(str(getter(r))) == want
            return _compare(getter, op, _coerce(raw, ftype))
        phrase = text.strip('"')
        return lambda r: fulltext_match([r[i] for i in schema.text_fields], phrase)

    if not q.strip():
        return lambda r: True
    return parse_or()
