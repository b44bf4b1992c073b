"""What the cpf spider does after each export and count: the pure tracker, without Scrapy."""

import logging
import subprocess
import sys

import pytest

from cpfft.cpf.exports import (
    Ask,
    Exports,
    Fetch,
    Over,
    Step,
    count_lines,
    ends_on_whole_row,
    export_rows,
    figures,
    plan_lines,
    resume_line,
)
from cpfft.cpf.plan import Group, Partition
from cpfft.items import Formation

WARNING, ERROR = logging.WARNING, logging.ERROR
NAME = "partition 1 (départements 75)"
DESCRIBED = "partition 1 (départements 75; 100 rows)"


def tracker(max_attempts: int = 3, *partitions: Partition) -> Exports:
    """Partition 1: département 75, 100 rows counted (unless others are given)."""
    exports = Exports(max_attempts)
    exports.plan(partitions or [Partition(1, [Group(("75",), 100)])])
    exports.queries = {n: f"q{n}" for n in exports.partitions}
    exports.queue(exports.partitions.values())
    while exports.may_start():
        exports.start()
    return exports


def finish(exports: Exports, step: Step) -> None:
    assert isinstance(step.then, Over)
    exports.over(step.then)


def test_body_helpers():
    assert count_lines(b"") == 0
    assert count_lines(b"{}\n{}\n") == 2
    assert count_lines(b"{}\r\n{}") == 2
    assert ends_on_whole_row(b"")
    assert ends_on_whole_row(b'{"a": 1}\n{"a": 2}\n')
    assert not ends_on_whole_row(b'{"a": 1}\n{"a": ')
    assert figures([600]) == "600"
    assert figures([600, 1200, 900]) == "600, 1 200 and 900"


def test_plan_slots_and_calls():
    exports = Exports(3)
    partitions = [Partition(n, [Group((f"0{n}",), 10 * n)]) for n in (1, 2, 3)]
    partitions[2].limit = 5
    partitions[2].recount(30)
    assert exports.plan(partitions) == 10 + 20 + 5
    exports.queries = {1: "w1", 2: "w2", 3: "w3"}
    exports.queue(partitions)
    assert exports.start() == Fetch(Ask.EXPORT, 1)
    assert exports.start() == Fetch(Ask.EXPORT, 2)
    assert not exports.may_start()  # two exports in flight at most
    exports.over(Over(1))
    assert exports.may_start()
    third = exports.start()
    assert third == Fetch(Ask.EXPORT, 3)
    assert not exports.may_start()  # nothing waits
    assert exports.call(Fetch(Ask.EXPORT, 2)) == ("/exports/jsonl", {"where": "w2", "limit": -1})
    assert exports.call(third) == ("/exports/jsonl", {"where": "w3", "limit": 5})
    count = ("/records", {"select": "count(*) as n", "where": "w2", "limit": 1})
    assert exports.call(Fetch(Ask.RECOUNT, 2, 2)) == count
    assert exports.call(Fetch(Ask.VERIFY, 2, 1, 25)) == count
    assert exports.step_name(Fetch(Ask.EXPORT, 2)) == "partition 2 (départements 02; 20 rows)"
    assert (
        exports.step_name(Fetch(Ask.RECOUNT, 2)) == "partition 2 (départements 02; 20 rows) recount"
    )
    assert exports.step_name(Fetch(Ask.VERIFY, 2)) == "partition 2 (départements 02) fresh count"


def test_exact_export_is_written_and_done():
    exports = tracker()
    step = exports.exported(1, 1, whole=True, received=100)
    assert step == Step(Over(1), write=True)
    finish(exports, step)
    assert exports.done == {1}
    assert exports.in_flight == 0
    assert exports.missing() == []
    assert exports.summary_warnings() == []


def test_cut_mid_row_is_fetched_again_then_given_up():
    exports = tracker(max_attempts=2)
    step = exports.exported(1, 1, whole=False, received=0)
    line = f"{DESCRIBED}: export cut off mid-row; fetching it again"
    assert step == Step(Fetch(Ask.EXPORT, 1, 2), log=(WARNING, line), retry=True)
    step = exports.exported(1, 2, whole=False, received=0)
    failure = "export cut off mid-row (gave up after 2 attempts)"
    line = f"{DESCRIBED}: export cut off mid-row; gave up after 2 attempts"
    assert step == Step(Over(1, failure), log=(ERROR, line), retry=True)
    finish(exports, step)
    assert exports.cut_exports[1] == 2
    # Nothing written: the line keeps the counted rows, which are the rows missing.
    assert exports.missing() == [f"{DESCRIBED}: {failure}"]


def test_malformed_row_is_fetched_again_then_given_up():
    exports = tracker(max_attempts=2)
    line = f"{DESCRIBED}: malformed row in export; fetching it again"
    assert exports.malformed(1, 1) == Step(Fetch(Ask.EXPORT, 1, 2), log=(WARNING, line), retry=True)
    step = exports.malformed(1, 2)
    assert step.then == Over(1, "malformed row in export (gave up after 2 attempts)")
    assert step.log == (ERROR, f"{DESCRIBED}: malformed row in export; gave up after 2 attempts")


def test_short_then_recount_agrees():
    exports = tracker()
    step = exports.exported(1, 1, whole=True, received=90)
    line = f"{DESCRIBED}: export gave 90 rows, 100 counted; fetching it again"
    assert step == Step(Fetch(Ask.RECOUNT, 1, 2), log=(WARNING, line), retry=True)
    step = exports.counted(step.then, 100)
    assert step == Step(Fetch(Ask.EXPORT, 1, 2))  # same count: no line, total unchanged
    step = exports.exported(1, 2, whole=True, received=100)
    assert step == Step(Over(1), write=True)
    finish(exports, step)
    assert exports.missing() == []


def test_recount_that_changes_moves_the_total():
    exports = tracker()
    exports.exported(1, 1, whole=True, received=90)
    step = exports.counted(Fetch(Ask.RECOUNT, 1, 2), 90)
    line = (
        "partition 1 (départements 75; 90 rows): the catalogue changed during the run "
        "(90 rows now, 100 before)"
    )
    assert step == Step(Fetch(Ask.EXPORT, 1, 2), log=(WARNING, line), total_change=-10)
    assert exports.exported(1, 2, whole=True, received=90) == Step(Over(1), write=True)


def test_an_export_body_is_read_as_whole_rows_or_cut_mid_row():
    rows = b"".join(b'{"numero_formation": "%d"}\n' % i for i in range(100))
    assert tracker().answered(Fetch(Ask.EXPORT, 1), rows) == Step(Over(1), write=True)
    assert tracker().answered(Fetch(Ask.EXPORT, 1), rows + b"\r\n\n") == Step(Over(1), write=True)
    cut = tracker().answered(Fetch(Ask.EXPORT, 1), rows + b'{"numero_for')
    assert cut.then == Fetch(Ask.EXPORT, 1, 2)
    assert cut.log == (WARNING, f"{DESCRIBED}: export cut off mid-row; fetching it again")
    short = tracker().answered(Fetch(Ask.EXPORT, 1), rows[: rows.index(b"\n") + 1])
    assert short.then == Fetch(Ask.RECOUNT, 1, 2)
    assert short.log == (
        WARNING,
        f"{DESCRIBED}: export gave 1 rows, 100 counted; fetching it again",
    )


def test_a_recount_answer_is_read_or_the_partition_given_up():
    exports = tracker()
    exports.exported(1, 1, whole=True, received=90)
    answer = {"total_count": 1, "results": [{"n": 100}]}
    assert exports.recounted(Fetch(Ask.RECOUNT, 1, 2), lambda: answer) == Step(
        Fetch(Ask.EXPORT, 1, 2)
    )
    step = exports.recounted(Fetch(Ask.RECOUNT, 1, 2), lambda: {"results": "?"})
    assert step == Step(
        Over(1, "cannot read its row count: the count answer has no 'results' list")
    )

    def not_json():
        raise ValueError("Expecting value: line 1 column 1 (char 0)")

    step = tracker().recounted(Fetch(Ask.RECOUNT, 1, 2), not_json)
    assert step == Step(
        Over(1, "cannot read its row count: Expecting value: line 1 column 1 (char 0)")
    )


def test_recount_unreadable_gives_the_partition_up():
    exports = tracker()
    step = exports.counted(Fetch(Ask.RECOUNT, 1, 2), None, "no 'results' list")
    assert step == Step(Over(1, "cannot read its row count: no 'results' list"))
    finish(exports, step)
    assert exports.missing() == [f"{DESCRIBED}: cannot read its row count: no 'results' list"]


def test_short_for_good_with_the_same_rows_each_time_is_written():
    exports = tracker(2, Partition(1, [Group(("75",), 1200)]))
    step = exports.exported(1, 1, whole=True, received=1090)
    exports.counted(step.then, 1150)  # the count moves: 1 150 now
    step = exports.exported(1, 2, whole=True, received=1090)
    failure = (
        "the counts said 1 200, then 1 150 rows, every export gave 1 090 (the portal may be "
        "reindexing; run again later); those 1 090 rows are written"
    )
    assert step == Step(
        Over(1, failure, written=True), write=True, log=(ERROR, f"{NAME}: {failure}")
    )
    finish(exports, step)
    # Its rows are written: the line names no counted rows, its reason gives the numbers.
    assert exports.missing() == [f"{NAME}: {failure}"]


def test_short_for_good_after_a_cut_export():
    exports = tracker(max_attempts=3)
    exports.exported(1, 1, whole=True, received=90)
    exports.counted(Fetch(Ask.RECOUNT, 1, 2), 100)
    exports.exported(1, 2, whole=False, received=0)
    step = exports.exported(1, 3, whole=True, received=90)
    failure = (
        "the count says 100 rows, every whole export gave 90; 1 more were cut mid-row (the "
        "portal may be reindexing; run again later); those 90 rows are written"
    )
    assert step.then == Over(1, failure, written=True)
    assert step.write


def test_short_for_good_with_different_rows_is_not_written():
    exports = tracker(max_attempts=2)
    exports.exported(1, 1, whole=True, received=90)
    exports.counted(Fetch(Ask.RECOUNT, 1, 2), 100)
    step = exports.exported(1, 2, whole=True, received=80)
    failure = (
        "the count says 100 rows, the 2 whole exports gave 90 and 80 rows (cut short, or the "
        "portal is reindexing; run again later); none written"
    )
    assert step == Step(Over(1, failure), log=(ERROR, f"{DESCRIBED}: {failure}"))
    finish(exports, step)
    assert exports.missing() == [f"{DESCRIBED}: {failure}"]


def test_longer_export_is_written_then_a_fresh_count_agrees():
    exports = tracker()
    step = exports.exported(1, 1, whole=True, received=1100)
    line = f"{NAME}: export gave 1100 rows, 100 counted; writing them and counting again"
    assert step == Step(Fetch(Ask.VERIFY, 1, 1, 1100), write=True, log=(WARNING, line))
    step = exports.counted(step.then, 1100)
    warning = (
        f"{NAME}: the count said 100 rows, the export gave 1 100, all written; a fresh count "
        "agrees (1 100)"
    )
    assert step == Step(Over(1), log=(WARNING, warning), total_change=1000)
    finish(exports, step)
    assert exports.partitions[1].expected == 1100
    assert exports.missing() == []
    assert exports.summary_warnings() == [f"  warning:            {warning}"]


@pytest.mark.parametrize(
    ("fresh", "says"), [(100, "still says 100"), (105, "says 105"), (2000, "says 2 000")]
)
def test_longer_export_whose_fresh_count_disagrees(fresh, says):
    exports = tracker()
    step = exports.exported(1, 1, whole=True, received=110)
    step = exports.counted(step.then, fresh)
    failure = (
        f"the count says 100 rows, the export gave 110, all written; a fresh count {says} "
        "(the portal may be reindexing; run again later)"
    )
    assert step == Step(Over(1, failure, written=True), log=(ERROR, f"{NAME}: {failure}"))
    finish(exports, step)
    assert exports.missing() == [f"{NAME}: {failure}"]
    assert exports.summary_warnings() == []


def test_fresh_count_is_capped_by_the_partition_limit():
    # max_records: the export holds the first 50 rows at most; 40 rows counted.
    exports = tracker(3, Partition(1, [Group(("75",), 40)], limit=50))
    step = exports.exported(1, 1, whole=True, received=50)
    assert step.then == Fetch(Ask.VERIFY, 1, 1, 50)
    step = exports.counted(step.then, 70)  # 70 rows match now: the export's 50 are right
    assert step.then == Over(1)
    assert step.total_change == 10
    assert exports.partitions[1].expected == 50
    exports = tracker(3, Partition(1, [Group(("75",), 40)], limit=50))
    step = exports.exported(1, 1, whole=True, received=45)
    step = exports.counted(step.then, 70)
    assert step.then.failure == (
        "the count says 40 rows, the export gave 45, all written; a fresh count says 50 "
        "(the portal may be reindexing; run again later)"
    )


def test_fresh_count_unreadable_or_failed():
    exports = tracker()
    step = exports.counted(Fetch(Ask.VERIFY, 1, 1, 110), None, "a count result is not an object")
    failure = (
        "the count said 100 rows, the export gave 110, all written; its fresh count cannot "
        "be read: a count result is not an object"
    )
    assert step == Step(Over(1, failure, written=True), log=(ERROR, f"{NAME}: {failure}"))
    step = exports.request_failed(Fetch(Ask.VERIFY, 1, 1, 110), "HTTP 503")
    failure = (
        "the count said 100 rows, the export gave 110, all written; its fresh count failed: "
        "HTTP 503"
    )
    assert step == Step(Over(1, failure, written=True))


def test_failed_export_or_recount_gives_the_partition_up():
    exports = tracker()
    assert exports.request_failed(Fetch(Ask.EXPORT, 1), "HTTP 500") == Step(Over(1, "HTTP 500"))
    assert exports.request_failed(Fetch(Ask.RECOUNT, 1, 2), "X") == Step(Over(1, "X"))


def test_missing_lines_in_partition_order():
    partitions = [
        Partition(1, [Group(("75",), 100)]),
        Partition(2, [Group(("13",), 50), Group((None,), 5)]),
        Partition(3, [Group(("33",), 20)]),
    ]
    exports = tracker(3, *partitions)
    exports.over(Over(3, "HTTP 500"))
    exports.over(Over(1))
    assert exports.missing() == [
        "partition 2 (départements 13, sans département; 55 rows): not fetched (run stopped)",
        "partition 3 (départements 33; 20 rows): HTTP 500",
    ]


def test_resume_keeps_only_partitions_not_all_written():
    partitions = [
        Partition(1, [Group(("75",), 2)]),  # complete in the file
        Partition(2, [Group(("13",), 2)]),  # one row missing
        Partition(3, [Group(("33", "326"), 1), Group((None,), 1)]),  # complete
        Partition(4, [Group(("69",), 1)], limit=1),  # limited: always fetched again
        Partition(5, [Group(("33", None), 1)]),  # no row
        # Split down to the Formacode: complete, then one row short.
        Partition(6, [Group(("971", "326", "31026"), 2), Group(("971", "326", None), 1)]),
        Partition(7, [Group(("971", "326", "31054"), 2)]),
    ]
    exports = Exports(3)
    exports.plan(partitions)
    written = [
        ("75", "326", "31026"), ("75", "", ""), ("13", "100", "31026"), ("33", "326", ""),
        ("", "200", "31026"), ("69", "", "15254"),
        ("971", "326", "31026"), ("971", "326", "31026"), ("971", "326", ""),
        ("971", "326", "31054"),
    ]  # fmt: skip
    left, kept_rows = exports.not_written_yet(partitions, written)
    assert [p.number for p in left] == [2, 4, 5, 7]
    assert kept_rows == 7
    assert exports.done == {1, 3, 6}
    exports.queue(left)
    assert [exports.start().number, exports.start().number] == [2, 4]


def test_two_snapshots_are_told_once():
    exports = Exports(3)
    assert exports.new_snapshot("2026-12-01") is None
    assert exports.new_snapshot("2026-11-30") == (
        "The catalogue was refreshed during the run (date_extract 2026-11-30 and "
        "2026-12-01): rows come from more than one daily snapshot"
    )
    assert exports.new_snapshot("2026-12-02") is None
    assert exports.new_snapshot("2026-11-30") is None  # seen before: not told again


def test_plan_lines_say_the_plan_and_warn_when_the_quota_is_short():
    assert plan_lines(0, [], 500, 3) == [
        (logging.INFO, "No row matches the filters: the CSV will hold the header only")
    ]
    parts = [Partition(n, [Group((f"0{n}",), 400)]) for n in (1, 2, 3)]
    plan = "Plan: 1200 rows in 3 partition(s) of at most 500 rows, one export call each"
    assert plan_lines(1200, parts, 500, None) == [(logging.INFO, plan)]
    assert plan_lines(1200, parts, 500, 3) == [(logging.INFO, plan)]
    assert plan_lines(1200, parts, 500, 2) == [
        (logging.INFO, plan),
        (WARNING, "Only 2 API calls left in today's quota for 3 exports: the run may stop early"),
    ]
    # Groups no finer count could split: the line does not claim "at most 500".
    parts += [
        Partition(4, [Group((None, "326", "31026"), 900)]),
        Partition(5, [Group(("75",), 600)]),
    ]
    assert plan_lines(2700, parts, 500, None) == [
        (
            logging.INFO,
            (
                "Plan: 2700 rows in 5 partition(s) of at most 500 rows, one export call each, "
                "except 2 that no finer count could split (the biggest: 900 rows)"
            ),
        )
    ]


def test_resume_line_says_what_is_kept_and_what_is_fetched():
    assert resume_line(5, 2, "formations.csv") == (
        "Resuming: 3 of 5 partitions are complete in formations.csv already; fetching the other 2"
    )


def read_all(body: bytes, rename: dict[str, str], size: int = 2):
    """Every batch export_rows gives, the snapshots it reported, and its return value."""
    snapshots: list[str] = []
    reader = export_rows(body, rename, snapshots.append, tuple, size)
    batches = []
    while True:
        try:
            batches.append(next(reader))
        except StopIteration as end:
            return batches, snapshots, end.value


SAME = {"numero_formation": "numero_formation", "date_extract": "date_extract"}


def test_export_rows_come_in_batches_made_by_the_caller():
    body = b"".join(
        b'{"numero_formation": "%d", "date_extract": "2026-12-01"}\n' % i for i in range(5)
    )
    batches, snapshots, whole = read_all(body + b"\n\n", SAME)
    assert whole is True
    assert [len(b) for b in batches] == [2, 2, 1]
    assert all(isinstance(b, tuple) for b in batches)  # the caller's envelope
    assert [r.numero_formation for b in batches for r in b] == ["0", "1", "2", "3", "4"]
    assert all(isinstance(r, Formation) for b in batches for r in b)
    assert snapshots == ["2026-12-01"]  # once per value, not once per row


def test_export_rows_map_renamed_fields_back_and_leave_unknown_fields_out():
    rename = {"numero_formation": "numero_formation", "date_chargement": "date_extract"}
    body = b'{"numero_formation": "7", "date_chargement": "2026-11-30", "nouveau": 1}\n'
    batches, snapshots, whole = read_all(body, rename)
    (row,) = batches[0]
    assert (row.numero_formation, row.date_extract, whole) == ("7", "2026-11-30", True)
    assert snapshots == ["2026-11-30"]
    # Same names, but a field the output does not know: the row is still built by name.
    batches, _, _ = read_all(b'{"numero_formation": "8", "nouveau": 1}\n', SAME)
    assert batches[0][0].numero_formation == "8"


def test_export_rows_stop_at_a_malformed_line_after_giving_the_rows_before_it():
    body = b'{"numero_formation": "1"}\n{"numero_formation": "2"}\n{"numero_\n{"numero_formation": "3"}\n'
    batches, _, whole = read_all(body, SAME, size=500)
    assert whole is False
    assert [r.numero_formation for b in batches for r in b] == ["1", "2"]
    assert read_all(b"{broken\n", SAME) == ([], [], False)


def test_planners_do_not_import_scrapy():
    code = (
        "import sys, cpfft.cpf.counts, cpfft.cpf.exports, cpfft.cpf.plan; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
