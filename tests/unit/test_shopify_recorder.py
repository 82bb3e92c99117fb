"""api_calls buffering: batches, flush on close, never failing the caller."""

from __future__ import annotations

import contextlib

from resources.shopify.recorder import API_CALL_COLUMNS, ApiCall, PostgresCallRecorder


def call(n: int) -> ApiCall:
    return ApiCall(ApiCall.now(), "s", f"op{n}", 10, 5, 1.5, 200, False, 0, "run", f"r{n}", None)


class FakeConnection:
    """Stands in for psycopg (not our code): remembers executemany batches."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[tuple[str, list]] = []
        self.fail = fail

    @contextlib.contextmanager
    def connect(self):
        yield self

    @contextlib.contextmanager
    def cursor(self):
        yield self

    def executemany(self, sql: str, rows: list) -> None:
        if self.fail:
            raise RuntimeError("db down")
        self.batches.append((sql, rows))


def test_rows_are_written_in_batches_and_the_rest_on_close() -> None:
    db = FakeConnection()
    recorder = PostgresCallRecorder(db.connect, batch_size=3)
    for n in range(7):
        recorder.record(call(n))
    assert [len(rows) for _, rows in db.batches] == [3, 3]
    recorder.close()
    assert [len(rows) for _, rows in db.batches] == [3, 3, 1]
    sql, rows = db.batches[0]
    assert sql.startswith("INSERT INTO shopsync.api_calls (" + ", ".join(API_CALL_COLUMNS))
    assert rows[0][2] == "op0" and len(rows[0]) == len(API_CALL_COLUMNS)


def test_a_failed_flush_keeps_the_rows_and_does_not_raise(caplog) -> None:
    db = FakeConnection(fail=True)
    recorder = PostgresCallRecorder(db.connect, batch_size=2)
    recorder.record(call(1))
    recorder.record(call(2))  # flush fails, logged
    assert "could not write 2 api_calls rows" in caplog.text
    db.fail = False
    recorder.close()
    assert [row[2] for row in db.batches[0][1]] == ["op1", "op2"]


class FlakyConnection(FakeConnection):
    """Refuses the first `failures` writes (a database restarting), then accepts."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def executemany(self, sql: str, rows: list) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("server closed the connection")
        super().executemany(sql, rows)


def test_close_tries_a_failed_write_once_more(caplog) -> None:
    """FAULTS P9: the first write after a restart fails, the pool reconnects, none lost."""
    db = FlakyConnection(failures=1)
    recorder = PostgresCallRecorder(db.connect, batch_size=100)
    for n in range(4):
        recorder.record(call(n))
    recorder.close()
    assert [len(rows) for _, rows in db.batches] == [4]


def test_rows_refused_twice_on_close_are_dropped_and_said(caplog) -> None:
    db = FlakyConnection(failures=2)
    recorder = PostgresCallRecorder(db.connect, batch_size=100)
    recorder.record(call(1))
    recorder.close()
    assert db.batches == []
    assert "dropping 1 api_calls rows" in caplog.text
