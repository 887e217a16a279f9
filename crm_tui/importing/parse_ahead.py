"""Read and check the next batch of an import while SQLite writes the current one.

An import spends about a third of its time in SQLite calls that run no Python at all (the
full-text index of a batch, the history derived from its links, the commit) and a fifth reading and
checking cells, which needs no database. A helper thread does the reading and checking during those
calls, so the two overlap on a second core.

The helper runs only while the writer holds the gate open. Python threads share one interpreter lock:
a helper left running while the writer makes many short SQLite calls (an executemany releases and
takes the lock back for every row) makes the writer wait for the lock each time, which is far
slower than not overlapping at all. So the writer opens the gate only around long calls, and closing
it waits until the helper has stopped at its next pause (at most PAUSE_EVERY rows later).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from itertools import islice
from typing import Any

PAUSE_EVERY = 50  # rows the helper reads between looks at the gate
# While the helper lives, the writer gets the interpreter back this soon after a long SQLite call
# returns (the default 5 ms, paid after every statement and commit, cost more than it saved;
# measured: 0.1 ms beat 0.5 ms).
SWITCH_INTERVAL = 0.0001


class ParseAhead:
    """Batches of `parse(line, row)` results for `rows` (or `finish(results)` of each batch), produced
    one batch ahead by a helper thread.

    Iterate it in the writer; wrap the writer's long SQLite calls in `window()`; `close()` at the end
    (also on errors) stops the helper.
    """

    def __init__(self, rows: Iterable[tuple[int, Any]], parse: Callable[[int, Any], Any], batch_size: int,
                 on_exit: Callable[[], None] | None = None, first_batch_size: int | None = None,
                 finish: Callable[[list], Any] | None = None,
                 parse_chunk: Callable[[list], list] | None = None):
        self._rows = rows
        self._parse = parse
        # parse_chunk([(line, row), ...]) -> [parse(line, row), ...] for up to PAUSE_EVERY rows at a
        # time (a wide file is checked a column at a time); used instead of `parse` when given
        self._parse_chunk = parse_chunk
        self._finish = finish  # turns a list of parse results into what the writer gets (in the helper)
        self._batch_size = batch_size
        # a smaller first batch lets the writer start while the helper reads the rest of it
        self._first_batch_size = first_batch_size or batch_size
        self._on_exit = on_exit
        self._cv = threading.Condition()
        self._open = False  # the helper may run
        self._parked = True  # the helper is waiting (on the gate or the hand-off), not running Python
        self._stop = False
        self._slot: list | None = None  # the batch handed over, not yet taken
        self._done = False  # the helper has read every row
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="import-parse-ahead", daemon=True)
        self._saved_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._saved_interval))
        self._thread.start()

    # -- the writer's side

    def __iter__(self):
        return self

    def __next__(self) -> list:
        with self._cv:
            self._open = True  # nothing to do but wait: let the helper run
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._slot is not None or self._done or self._error is not None)
            if self._slot is None:
                if self._error is not None:
                    raise self._error
                raise StopIteration
            batch, self._slot = self._slot, None
            self._cv.notify_all()
        self._close_gate()
        return batch

    @contextmanager
    def window(self):
        """Around a call that runs no Python (one long statement, a commit): the helper may run."""
        with self._cv:
            self._open = True
            self._cv.notify_all()
        try:
            yield
        finally:
            self._close_gate()

    def open_gate(self) -> None:
        """Let the helper run until the next batch is taken (the writer is about to commit)."""
        with self._cv:
            self._open = True
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join()
        sys.setswitchinterval(self._saved_interval)

    def _close_gate(self) -> None:
        with self._cv:
            self._open = False
            self._cv.wait_for(lambda: self._parked)

    # -- the helper's side

    def _pause(self) -> None:
        if self._open and not self._stop:
            return
        with self._cv:
            self._parked = True
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._open or self._stop)
            self._parked = False
            if self._stop:
                raise _Stopped

    def _hand_over(self, batch: list) -> None:
        if self._finish is not None:
            batch = self._finish(batch)
        with self._cv:
            self._parked = True
            self._cv.notify_all()
            self._cv.wait_for(lambda: (self._slot is None and self._open) or self._stop)
            self._parked = False
            if self._stop:
                raise _Stopped
            self._slot = batch
            self._cv.notify_all()

    def _work(self) -> None:
        try:
            self._pause()
            if self._parse_chunk is not None:
                self._work_in_chunks()
                return
            batch: list = []
            since_pause = 0
            parse, size = self._parse, self._first_batch_size
            for line, row in self._rows:
                batch.append(parse(line, row))
                since_pause += 1
                if len(batch) >= size:
                    self._hand_over(batch)
                    batch, since_pause, size = [], 0, self._batch_size
                elif since_pause >= PAUSE_EVERY:
                    self._pause()
                    since_pause = 0
            if batch:
                self._hand_over(batch)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the writer, which raises it
            with self._cv:
                self._error = exc
        finally:
            close = getattr(self._rows, "close", None)
            if close is not None:  # a generator stopped early: close its file now
                close()
            if self._on_exit is not None:
                self._on_exit()
            with self._cv:
                self._done = True
                self._parked = True
                self._cv.notify_all()


    def _work_in_chunks(self) -> None:
        rows = iter(self._rows)
        batch: list = []
        size = self._first_batch_size
        while True:
            chunk = list(islice(rows, min(PAUSE_EVERY, size - len(batch))))
            if not chunk:
                break
            batch += self._parse_chunk(chunk)
            if len(batch) >= size:
                self._hand_over(batch)
                batch, size = [], self._batch_size
            else:
                self._pause()
        if batch:
            self._hand_over(batch)


class _Stopped(Exception):
    pass
