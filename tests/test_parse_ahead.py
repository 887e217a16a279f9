"""The import's parse-ahead helper: every row once, in order, only while the writer lets it run."""

import sys
import threading
import time

import pytest

from crm_tui.importing.parse_ahead import ParseAhead


def numbered(n):
    for i in range(n):
        yield i, f"row {i}"


def test_every_row_arrives_once_in_order_in_batches():
    ahead = ParseAhead(numbered(25), lambda line, row: (line, row.upper()), batch_size=10)
    try:
        batches = list(ahead)
    finally:
        ahead.close()
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [item for b in batches for item in b] == [(i, f"ROW {i}") for i in range(25)]


def test_the_helper_waits_while_the_gate_is_closed_and_runs_in_a_window():
    parsed = []
    ahead = ParseAhead(numbered(1000), lambda line, row: parsed.append(line) or line, batch_size=100)
    try:
        first = next(ahead)  # taking a batch closes the gate
        assert first == list(range(100))
        before = len(parsed)
        time.sleep(0.05)
        assert len(parsed) == before  # nothing read behind the writer's back
        with ahead.window():
            deadline = time.monotonic() + 5
            while len(parsed) < 200 and time.monotonic() < deadline:
                time.sleep(0.005)
        assert len(parsed) >= 200  # the next batch was read during the window
        after = len(parsed)
        time.sleep(0.05)
        assert len(parsed) == after
    finally:
        ahead.close()


def test_a_parse_error_reaches_the_writer_after_the_batches_before_it():
    def parse(line, row):
        if line == 15:
            raise ValueError("bad cell on line 15")
        return line

    ahead = ParseAhead(numbered(30), parse, batch_size=10)
    try:
        assert next(ahead) == list(range(10))
        with pytest.raises(ValueError, match="line 15"):
            next(ahead)
    finally:
        ahead.close()


def test_closing_early_stops_the_helper_and_closes_the_rows():
    closed = threading.Event()
    exits = []

    def rows():
        try:
            yield from numbered(10_000)
        finally:
            closed.set()

    saved = sys.getswitchinterval()
    ahead = ParseAhead(rows(), lambda line, row: line, batch_size=100, on_exit=lambda: exits.append(1))
    assert sys.getswitchinterval() <= saved
    next(ahead)
    ahead.close()
    assert not ahead._thread.is_alive()
    assert closed.is_set() and exits == [1]
    assert sys.getswitchinterval() == saved


def test_a_smaller_first_batch_then_full_ones():
    ahead = ParseAhead(numbered(25), lambda line, row: line, batch_size=10, first_batch_size=3)
    try:
        assert [len(b) for b in ahead] == [3, 10, 10, 2]
    finally:
        ahead.close()
