"""`ShopifyClient`: one store, one httpx client, paced, retried, recorded.

The send loop (`_send`) is the only place that talks HTTP. It paces by the bucket, retries
what is safe to retry, refuses to resend a non-idempotent mutation whose fate is unknown,
and records one `api_calls` row per logical call.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from resources.shopify import bulk, pagination, versions
from resources.shopify import errors as e
from resources.shopify.auth import EnvTokenSource
from resources.shopify.operations import Operation, load_operation
from resources.shopify.recorder import ApiCall, CallRecorder
from resources.shopify.responses import CallState, StoreContext, classify
from resources.shopify.throttle import Clock, Throttle, ThrottleStatus
from resources.shopify.transport import HttpResult, RetryPolicy, Transport, TransportFailure
from resources.shopify.versions import VERSION_WATCH, VersionWatch

if TYPE_CHECKING:
    from resources.shopify.auth import TokenSource

logger = logging.getLogger(__name__)


class ShopifyClient:
    """Talks to one store. Build it with `ShopifyResource.get_client(store_key)`."""

    def __init__(
        self,
        store: StoreContext,
        *,
        url: str,
        api_version: str,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        run_id: str | None = None,
        recorder: CallRecorder | None = None,
        clock: Clock | None = None,
        throttle: Throttle | None = None,
        http_transport: httpx.BaseTransport | None = None,
        bulk_settings: bulk.BulkSettings | None = None,
        sku_query_max_chars: int = pagination.SKU_QUERY_MAX_CHARS,
        version_watch: VersionWatch = VERSION_WATCH,
        rng: random.Random | None = None,
        token_source: TokenSource | None = None,
    ) -> None:
        self.store = store
        #: Where each request's token comes from (default: the env var `store.token_env`).
        self.token_source = token_source or EnvTokenSource(store.key, store.token_env)
        self.api_version = api_version
        self.retry = retry or RetryPolicy()
        self.run_id = run_id
        #: Which flow step and retailer the next calls are for (recorded in `api_calls`).
        self.step: str | None = None
        self.on_behalf_of: str | None = None
        self.recorder = recorder
        self.throttle = throttle or Throttle(clock)
        self.bulk_settings = bulk_settings or bulk.BulkSettings()
        self.sku_query_max_chars = sku_query_max_chars
        self._version_watch = version_watch
        self._rng = rng or random.Random()
        self._learned_cost: dict[tuple, int] = {}
        self.transport = Transport(
            url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            http_transport=http_transport,
        )

    def __repr__(self) -> str:
        return (
            f"ShopifyClient(store={self.store.key!r}, shop={self.store.shop_domain!r}, "
            f"api_version={self.api_version!r})"
        )

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()
        self.token_source.close()
        if self.recorder is not None:
            self.recorder.flush()

    @property
    def throttle_status(self) -> ThrottleStatus | None:
        """The bucket as the server last reported it."""
        return self.throttle.status

    @property
    def clock(self) -> Clock:
        return self.throttle.clock

    # -- public API -------------------------------------------------------------------

    def execute(self, operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the document `graphql/<operation>.graphql` and return its `data`."""
        return self._send(load_operation(operation), dict(variables or {}))

    def mutate(self, operation: str, variables: dict[str, Any] | None = None) -> e.MutationResult:
        """Run a mutation; `userErrors` come back typed in the result, never raised."""
        op = load_operation(operation)
        if not op.is_mutation:
            raise ValueError(f"{operation} is a query; use execute()")
        return e.MutationResult.from_data(operation, self._send(op, dict(variables or {})))

    def paginate(
        self,
        operation: str,
        variables: dict[str, Any] | None,
        connection_path: tuple[str, ...],
    ) -> Iterator[dict[str, Any]]:
        """Every node of a connection, page by page (`first` = the operation's page size)."""
        return pagination.paginate(self, operation, variables or {}, connection_path)

    def variants_by_sku(self, skus: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Variants per SKU (exact match), batched as `sku:A OR sku:B …`; [] when not found."""
        return pagination.variants_by_sku(self, skus, self.sku_query_max_chars)

    def set_inventory(
        self,
        entries: list[versions.InventorySet],
        *,
        idempotency_key: str,
        reason: str = "correction",
        reference_document_uri: str | None = None,
    ) -> e.MutationResult:
        """Absolute compare-and-set of `available`, in this API version's dialect (≤250 entries).

        `idempotency_key` must identify this write (see `versions.stable_key`): a retry, here
        or in a later run, must send the same key. Stale entries come back as user errors
        (COMPARE_QUANTITY_STALE / CHANGE_FROM_QUANTITY_STALE) for the caller to re-read.
        """
        variables = versions.inventory_set_variables(
            self.api_version,
            entries,
            idempotency_key=idempotency_key,
            reason=reason,
            reference_document_uri=reference_document_uri,
        )
        return self.mutate(versions.inventory_set_operation(self.api_version), variables)

    def bulk_query(self, inner_query: str, child_keys: dict[str, str] | None = None):
        """Run a bulk query and yield root records with their children nested (see bulk.py)."""
        return bulk.run_bulk_query(self, inner_query, child_keys or {}, self.bulk_settings)

    # -- the send loop ----------------------------------------------------------------

    def _cost_key(self, op: Operation, variables: dict[str, Any]) -> tuple:
        ids = variables.get("ids")
        return (op.name, variables.get("first"), len(ids) if isinstance(ids, list) else None)

    def requested_cost(self, op: Operation, variables: dict[str, Any]) -> int:
        """What the next call will request: learned from Shopify, else estimated statically."""
        learned = self._learned_cost.get(self._cost_key(op, variables))
        return learned if learned is not None else op.estimate_cost(variables)

    def _send(self, op: Operation, variables: dict[str, Any]) -> dict[str, Any]:
        if op.page_size is not None:
            variables.setdefault("first", op.page_size)
        ids = variables.get("ids")
        if op.max_ids is not None and isinstance(ids, list) and len(ids) > op.max_ids:
            raise ValueError(f"{op.name} takes at most {op.max_ids} ids per call, got {len(ids)}")
        clock, policy = self.clock, self.retry
        started = clock.monotonic()
        deadline = started + policy.deadline_seconds
        state = CallState()
        try:
            while True:
                cost = self.requested_cost(op, variables)
                self.throttle.acquire(cost)
                if state.first_attempt is None:  # duration excludes the initial pacing wait
                    state.first_attempt = clock.monotonic()
                wait = self._attempt(op, variables, state, cost)
                if wait is None:
                    return state.data
                if clock.monotonic() + wait > deadline:
                    state.raise_transient(self.store.key, op.name, "deadline exceeded")
                clock.sleep(wait)
                state.retries += 1
        except e.ShopifyError as exc:
            state.error_code = state.error_code or exc.code
            raise
        finally:
            self._record(op, state, started)

    def _attempt(self, op: Operation, variables: dict, state: CallState, cost: int) -> float | None:
        """One HTTP exchange. Returns None on success, else seconds to wait before retrying."""
        token = self._token(op)
        try:
            result = self.transport.post(op.document, variables, op.operation_name, token)
        except TransportFailure as failure:
            state.reset_response(code=failure.kind)
            self._log_failure(op, state, str(failure))
            if failure.maybe_sent and not op.idempotent:
                self._raise_ambiguous(op, state, str(failure))
            return self._backoff(op, state, str(failure))
        self._absorb(op, variables, result, state)
        outcome = classify(result.status, result.body, self.store)
        if outcome.kind == "ok":
            state.error_code = None
            state.data = (result.body or {}).get("data") or {}
            return None
        state.error_code = outcome.code
        self._log_failure(op, state, outcome.message or outcome.code or "")
        if result.status == 401 and self._renewed_after(op, state, token):
            return 0.0
        if outcome.kind == "throttled":
            return self._throttled_wait(op, state, result, cost)
        if outcome.kind == "transient":
            if not op.idempotent:
                self._raise_ambiguous(op, state, outcome.message)
            return self._backoff(op, state, outcome.message)
        raise outcome.error(
            outcome.message,
            store=self.store.key,
            operation=op.name,
            request_id=state.request_id,
            http_status=state.http_status,
            code=outcome.code,
        )

    def _absorb(self, op: Operation, variables: dict, result: HttpResult, state: CallState) -> None:
        """Take everything the response teaches: bucket, cost, version, request id."""
        state.http_status, state.request_id = result.status, result.request_id
        self._version_watch.check(self.store.key, self.api_version, result.api_version)
        extensions = (result.body or {}).get("extensions") or {}
        self.throttle.update(ThrottleStatus.from_extensions(extensions))
        cost = extensions.get("cost") or {}
        state.requested_cost = _int_or_none(cost.get("requestedQueryCost"))
        state.actual_cost = _int_or_none(cost.get("actualQueryCost"))
        if state.requested_cost is not None:
            self._learned_cost[self._cost_key(op, variables)] = state.requested_cost

    def _throttled_wait(self, op: Operation, state: CallState, result: HttpResult, cost: int):
        state.throttled = True
        state.throttled_retries += 1
        if state.throttled_retries > self.retry.max_throttled_retries:
            state.raise_transient(
                self.store.key, op.name, "still throttled after the maximum number of waits"
            )
        if result.retry_after is not None:
            return result.retry_after
        requested = state.requested_cost or cost
        status = ThrottleStatus.from_extensions((result.body or {}).get("extensions"))
        if status is None:
            return self.retry.backoff(state.retries, self._rng)
        return self.throttle.throttled_wait(requested, status)

    def _backoff(self, op: Operation, state: CallState, reason: str) -> float:
        state.transient_retries += 1
        if state.transient_retries > self.retry.max_retries:
            gave_up = f"{reason}; gave up after {self.retry.max_retries} retries"
            state.raise_transient(self.store.key, op.name, gave_up)
        return self.retry.backoff(state.transient_retries - 1, self._rng)

    def _raise_ambiguous(self, op: Operation, state: CallState, reason: str):
        raise e.ShopifyAmbiguousWriteError(
            f"{reason} after sending a non-idempotent mutation; it may have been applied. "
            f"Reconcile (look the object up by its key) before writing again.",
            store=self.store.key,
            operation=op.name,
            request_id=state.request_id,
            http_status=state.http_status,
            code="AMBIGUOUS_WRITE",
        )

    def _renewed_after(self, op: Operation, state: CallState, rejected: str) -> bool:
        """A 401: ask the token source once per call for a new token (an OAuth store's
        token may have expired early or been replaced); a legacy token cannot renew."""
        if state.token_renewed:
            return False
        state.token_renewed = True
        try:
            return self.token_source.renew_after_rejection(rejected)
        except e.ShopifyAuthError as exc:
            raise type(exc)(exc.detail, store=self.store.key, operation=op.name,
                            code=exc.code) from None  # fmt: skip

    def _token(self, op: Operation) -> str:
        try:
            return self.token_source.token()
        except e.ShopifyAuthError as exc:  # named for the call it stopped
            raise type(exc)(exc.detail, store=self.store.key, operation=op.name,
                            code=exc.code) from None  # fmt: skip

    def _log_failure(self, op: Operation, state: CallState, reason: str) -> None:
        logger.warning(
            "shopify store=%s operation=%s status=%s request_id=%s retries=%d: %s",
            self.store.key,
            op.name,
            state.http_status,
            state.request_id,
            state.retries,
            reason,
        )

    def _record(self, op: Operation, state: CallState, started: float) -> None:
        if self.recorder is None:
            return
        call = ApiCall(
            called_at=ApiCall.now(),
            store=self.store.key,
            operation=op.name,
            requested_cost=state.requested_cost,
            actual_cost=state.actual_cost,
            duration_ms=(self.clock.monotonic() - (state.first_attempt or started)) * 1000,
            http_status=state.http_status,
            throttled=state.throttled,
            retries=state.retries,
            run_id=self.run_id,
            request_id=state.request_id,
            error_code=state.error_code,
            step=self.step,
            retailer=self.on_behalf_of,
        )
        try:
            self.recorder.record(call)
        except Exception:  # metrics must never break a sync
            logger.exception("could not record api call for store %s", self.store.key)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
