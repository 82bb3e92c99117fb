"""Records every Shopify call for `shopsync.api_calls`, buffered and written in batches.

A recorder must never make a sync fail: a failed flush is logged and the rows are kept for
the next try (bounded, so a dead database cannot eat the worker's memory).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiCall:
    """One logical call (all its retries). Field order = the `api_calls` column order."""

    called_at: datetime
    store: str
    operation: str
    requested_cost: int | None
    actual_cost: int | None
    duration_ms: float
    http_status: int | None
    throttled: bool
    retries: int
    run_id: str | None
    request_id: str | None
    error_code: str | None
    step: str | None = None  # the flow step that made the call, e.g. "hub_orders"
    retailer: str | None = None  # the retailer the call was made for (hub calls too)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


API_CALL_COLUMNS = tuple(f.name for f in fields(ApiCall))


class CallRecorder(Protocol):
    def record(self, call: ApiCall) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class MemoryCallRecorder:
    """Keeps calls in a list: for tests, benchmarks and runs without a database."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self._lock = threading.Lock()

    def record(self, call: ApiCall) -> None:
        with self._lock:
            self.calls.append(call)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


ConnectionFactory = Callable[[], contextlib.AbstractContextManager[Any]]


class PostgresCallRecorder:
    """Buffers calls and inserts them `batch_size` at a time with one executemany.

    `connect` is a context-manager factory yielding a psycopg 3 connection that commits on
    clean exit, e.g. `PostgresResource.get_connection`.
    """

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        batch_size: int = 200,
        table: str = "shopsync.api_calls",
        max_buffer: int = 100_000,
    ) -> None:
        self._connect = connect
        self.batch_size = batch_size
        self.table = table
        self.max_buffer = max_buffer
        self._buffer: list[ApiCall] = []
        self._lock = threading.Lock()
        self.flushed = 0

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> PostgresCallRecorder:
        """A recorder opening its own short connection per batch (scripts, benchmarks)."""
        import psycopg

        @contextlib.contextmanager
        def connect() -> Iterator[Any]:
            with psycopg.connect(url) as conn:
                yield conn

        return cls(connect, **kwargs)

    def record(self, call: ApiCall) -> None:
        with self._lock:
            self._buffer.append(call)
            full = len(self._buffer) >= self.batch_size
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
        if not rows:
            return
        placeholders = ", ".join(["%s"] * len(API_CALL_COLUMNS))
        sql = f"INSERT INTO {self.table} ({', '.join(API_CALL_COLUMNS)}) VALUES ({placeholders})"
        try:
            with self._connect() as conn, conn.cursor() as cur:
                cur.executemany(sql, [astuple(r) for r in rows])
            self.flushed += len(rows)
        except Exception as exc:  # never fail the sync because metrics could not be written
            logger.warning("could not write %d api_calls rows: %s", len(rows), type(exc).__name__)
            with self._lock:
                self._buffer = (rows + self._buffer)[-self.max_buffer :]

    def close(self) -> None:
        """Flush; a failed write is tried once more (the pool reconnects after a database
        restart, FAULTS P9), and rows that still cannot be written are said, not hidden."""
        self.flush()
        if self._buffer:
            self.flush()
        if self._buffer:
            logger.error(
                "dropping %d api_calls rows: the database refused them twice", len(self._buffer)
            )
            self._buffer = []

    def __enter__(self) -> PostgresCallRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
