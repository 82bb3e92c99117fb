"""orderCancel in the simulator: an asynchronous job, irreversible, refused while a payment
authorization is pending or a return is active; restock, refunds, closed fulfillment orders,
the staff note; the lagging search sees the change; fault injection applies to it as to every
mutation (FACTS §10.4, FAULTS O12/O15), so the product can prove exactly-once against it."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_order_fixtures import (
    JOB,
    ORDER_CREATE,
    fast_spec,
    hub_order,
    order_named,
    quantities,
    schema_errors,
    send_losing_the_answer,
    wait_job_done,
)

from simulator.store import utcnow
from tests.fixtures.sim import HUB, RETAILER_A, wait_for

CANCEL = """mutation($id: ID!, $refund: Boolean!, $restock: Boolean!, $note: String,
  $notify: Boolean) {
  orderCancel(orderId: $id, refund: $refund, restock: $restock, reason: CUSTOMER,
    notifyCustomer: $notify, staffNote: $note) {
    job { id done } orderCancelUserErrors { code field message } userErrors { field message } } }"""
CANCEL_2025_10 = """mutation($id: ID!, $method: OrderCancelRefundMethodInput) {
  orderCancel(orderId: $id, refundMethod: $method, restock: true, reason: STAFF) {
    job { id done } orderCancelUserErrors { code field message } } }"""
ORDER = """query($id: ID!) { order(id: $id) { id updatedAt cancelledAt cancelReason
  cancellation { staffNote } displayFinancialStatus returnStatus
  totalRefundedSet { shopMoney { amount } } refunds(first: 5) { id note createdAt
    totalRefundedSet { shopMoney { amount currencyCode } } }
  fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 10) {
    nodes { sku totalQuantity remainingQuantity } } } } } }"""
JOB_QUERY = """query($id: ID!, $order: ID!) { job(id: $id) { id done
  query { order(id: $order) { cancelledAt } } } }"""
UPDATED_SINCE = """query($q: String!) { orders(first: 50, query: $q) { nodes { id } } }"""
FULFILL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id } userErrors { field message } } }"""
DOCUMENTS = {
    "cancel": (CANCEL, "2025-01"),
    "cancel_2025_10": (CANCEL_2025_10, "2025-10"),
    "order": (ORDER, "2025-01"),
    "job_query": (JOB_QUERY, "2025-01"),
    "job": (JOB, "2025-01"),
    "updated_since": (UPDATED_SINCE, "2025-01"),
    "fulfill": (FULFILL, "2025-01"),
    "order_create": (ORDER_CREATE, "2025-01"),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_validate_against_the_real_schema(name):
    document, version = DOCUMENTS[name]
    assert schema_errors(document, version) == []


def test_refund_method_is_a_2025_07_addition():
    """2025-01 requires `refund` and has no `refundMethod`; the patch adds one, frees the other."""
    errors = schema_errors(CANCEL_2025_10, "2025-01")
    assert any("refundMethod" in e for e in errors) and any("refund" in e for e in errors)


@pytest.fixture
def sim(sim_factory):
    return sim_factory(fast_spec())


def _cancel(call, order_id, *, refund=True, restock=True, note=None, notify=False):
    variables = {"id": order_id, "refund": refund, "restock": restock, "note": note}
    return call(CANCEL, {**variables, "notify": notify})["data"]["orderCancel"]


def test_cancel_is_a_job_and_the_order_changes_when_it_is_done(sim_factory, gql):
    sim = sim_factory(fast_spec(cancel_job_seconds=1.0))  # long enough to look before it runs
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    before = quantities(sim, "PLT-MONS-04")
    assert before["committed"] == 2
    payload = _cancel(call, order.id, note="retailer cancelled #1001")
    assert payload["orderCancelUserErrors"] == [] and payload["userErrors"] == []
    job = payload["job"]
    assert job["done"] is False and job["id"].startswith("gid://shopify/Job/")
    early = call(JOB_QUERY, {"id": job["id"], "order": order.id})["data"]["job"]
    assert early == {"id": job["id"], "done": False, "query": None}
    assert call(ORDER, {"id": order.id})["data"]["order"]["cancelledAt"] is None  # not yet
    wait_job_done(call, job["id"])
    done = call(JOB_QUERY, {"id": job["id"], "order": order.id})["data"]["job"]
    assert done["query"]["order"]["cancelledAt"] is not None
    after = call(ORDER, {"id": order.id})["data"]["order"]
    assert after["cancelReason"] == "CUSTOMER"
    assert after["cancellation"] == {"staffNote": "retailer cancelled #1001"}
    assert after["updatedAt"] == after["cancelledAt"]
    (fo,) = after["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "CLOSED"
    assert {li["remainingQuantity"] for li in fo["lineItems"]["nodes"]} == {0}
    assert quantities(sim, "PLT-MONS-04") == {**before, "available": 40, "committed": 0}
    assert sim.run_warehouse()["fulfillments"] == []  # nothing left to ship


def test_the_job_delay_honours_the_time_scale(sim_factory, gql):
    sim = sim_factory(fast_spec(cancel_job_seconds=20), time_scale=100)  # 20 s → 0.2 s
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    started = time.monotonic()
    job = _cancel(call, order.id)["job"]
    assert job["done"] is False
    wait_job_done(call, job["id"], timeout=3)
    assert time.monotonic() - started < 3
    assert order.cancelled_at is not None


def test_cancel_is_irreversible_a_second_one_is_refused(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    job = _cancel(call, order.id)["job"]
    running = _cancel(call, order.id)
    assert running["job"] is None
    assert running["orderCancelUserErrors"][0]["code"] == "INVALID"
    assert running["userErrors"][0]["field"] == ["orderId"]  # the deprecated mirror
    wait_job_done(call, job["id"])
    again = _cancel(call, order.id)
    assert again["orderCancelUserErrors"] == [
        {"code": "INVALID", "field": ["orderId"], "message": "Order has already been cancelled."}
    ]
    assert len(sim.store(HUB).jobs) == 1


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"pending_authorization": True}, "pending payment authorization"),
        ({"return_status": "RETURN_REQUESTED"}, "active return"),
        ({"return_status": "IN_PROGRESS"}, "active return"),
    ],
)
def test_cancel_refused_while_authorization_pending_or_return_active(sim, gql, fields, words):
    call = gql(sim, RETAILER_A)
    order = order_named(sim, RETAILER_A, "#1001")
    sim.set_order(RETAILER_A, order.id, **fields)
    refused = _cancel(call, order.id)
    assert refused["job"] is None
    assert refused["orderCancelUserErrors"][0]["code"] == "INVALID"
    assert words in refused["orderCancelUserErrors"][0]["message"]
    assert order.cancel_job_id is None and order.cancelled_at is None
    sim.set_order(RETAILER_A, order.id, pending_authorization=False, return_status="RETURNED")
    assert _cancel(call, order.id)["job"] is not None  # a finished return does not block


def test_unknown_order_and_overlong_staff_note(sim, gql):
    call = gql(sim, HUB)
    missing = _cancel(call, "gid://shopify/Order/1")
    assert missing["orderCancelUserErrors"][0]["code"] == "NOT_FOUND"
    order = hub_order(sim, call)
    long_note = _cancel(call, order.id, note="x" * 256)
    assert long_note["orderCancelUserErrors"][0]["field"] == ["staffNote"]


def test_without_restock_committed_units_leave_on_hand(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call, (("SEED-BASIL-PK", 10),))
    wait_job_done(call, _cancel(call, order.id, restock=False)["job"]["id"])
    assert quantities(sim, "SEED-BASIL-PK") == {"available": 290, "committed": 0, "on_hand": 290}


def test_after_a_partial_shipment_only_the_unfulfilled_units_are_restocked(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    monstera = next(li for li in fo.line_items_list if li.sku == "PLT-MONS-04")
    group = {
        "fulfillmentOrderId": fo.id,
        "fulfillmentOrderLineItems": [{"id": monstera.id, "quantity": 2}],
    }
    shipped = call(FULFILL, {"f": {"lineItemsByFulfillmentOrder": [group]}})
    assert shipped["data"]["fulfillmentCreate"]["userErrors"] == []
    wait_job_done(call, _cancel(call, order.id)["job"]["id"])
    assert quantities(sim, "PLT-SNAK-04")["available"] == 25  # the unshipped unit came back
    assert quantities(sim, "PLT-MONS-04")["available"] == 38  # the shipped ones did not
    after = call(ORDER, {"id": order.id})["data"]["order"]
    assert after["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"


@pytest.mark.parametrize(
    ("status", "refund", "expected", "refunded"),
    [
        ("PAID", True, "REFUNDED", "58.0"),
        ("PAID", False, "PAID", "0.0"),
        ("AUTHORIZED", False, "VOIDED", "0.0"),
        ("PENDING", True, "PENDING", "0.0"),
    ],
)
def test_payment_after_cancel(sim, gql, status, refund, expected, refunded):
    call = gql(sim, RETAILER_A)
    order = order_named(sim, RETAILER_A, "#1001")  # 2 x 14.00 + 3 x 10.00
    sim.set_order(RETAILER_A, order.id, financial_status=status)
    wait_job_done(call, _cancel(call, order.id, refund=refund)["job"]["id"])
    after = call(ORDER, {"id": order.id})["data"]["order"]
    assert after["displayFinancialStatus"] == expected
    assert after["totalRefundedSet"]["shopMoney"]["amount"] == refunded
    assert len(after["refunds"]) == (1 if refunded != "0.0" else 0)


def test_refund_method_to_store_credit_from_2025_07(sim, gql):
    call = gql(sim, RETAILER_A, "2025-10")
    order = order_named(sim, RETAILER_A, "#1001")
    variables = {"id": order.id, "method": {"storeCreditRefund": {}}}
    job = call(CANCEL_2025_10, variables)["data"]["orderCancel"]["job"]
    wait_job_done(call, job["id"])
    after = call(ORDER, {"id": order.id})["data"]["order"]
    assert after["displayFinancialStatus"] == "REFUNDED"
    assert after["refunds"][0]["note"] == "Refunded to store credit"
    old = gql(sim, RETAILER_A, "2025-01")(CANCEL_2025_10, variables)
    messages = " ".join(e["message"] for e in old["errors"])
    assert "OrderCancelRefundMethodInput" in messages and "'refund'" in messages  # 2025-01


def test_notify_customer_counts_one_email(sim, gql):
    call = gql(sim, HUB)
    quiet, loud = hub_order(sim, call), hub_order(sim, call)
    for order, notify in ((quiet, False), (loud, True)):
        wait_job_done(call, _cancel(call, order.id, notify=notify)["job"]["id"])
    views = {o["id"]: o for o in sim.state(HUB)["orders"]}
    assert (views[quiet.id]["notifications"], views[loud.id]["notifications"]) == (0, 1)


def test_a_cancelled_order_shows_in_updated_at_search_after_the_lag(sim_factory, gql):
    sim = sim_factory(fast_spec(), search_lag_seconds=0.5)
    call = gql(sim, RETAILER_A)
    order = order_named(sim, RETAILER_A, "#1002")
    since = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    wait_job_done(call, _cancel(call, order.id)["job"]["id"])

    def found():
        body = call(UPDATED_SINCE, {"q": f"updated_at:>='{since}'"})
        return [n["id"] for n in body["data"]["orders"]["nodes"]]

    assert order.id not in found()  # the index still has the old updatedAt
    assert wait_for(lambda: order.id in found(), timeout=3)


# -- fault injection ----------------------------------------------------------------------------


def test_lost_response_after_commit_cancel_happens_and_a_retry_is_refused(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    sim.set_faults(HUB, lose_response_after_commit=1.0, only_fields=["orderCancel"])
    variables = {"id": order.id, "refund": True, "restock": True, "note": None}
    send_losing_the_answer(call, CANCEL, variables)
    sim.clear_faults(HUB)
    retry = _cancel(call, order.id)
    assert retry["orderCancelUserErrors"][0]["code"] == "INVALID"  # it did happen
    wait_for(lambda: sim.state(HUB) and order.cancelled_at is not None)
    assert sim.counters(HUB)["faults"] == {"lose_response_after_commit": 1}


@pytest.mark.parametrize("kind", ["http_500", "http_503", "http_429", "reset", "timeout"])
def test_a_fault_before_execution_cancels_nothing(sim, gql, kind):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    sim.set_faults(HUB, **{kind: 1.0}, only_fields=["orderCancel"], timeout_seconds=0.2)
    variables = {"id": order.id, "refund": True, "restock": True, "note": None}
    try:
        assert call.raw(CANCEL, variables).status_code >= 429
    except httpx.TransportError:
        assert kind == "reset"
    assert sim.store(HUB).jobs == {} and order.cancel_job_id is None
    assert call.raw(ORDER, {"id": order.id}).status_code == 200  # other fields unaffected


def test_a_throttled_cancel_runs_nothing(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    sim.store(HUB).bucket.reset(0)
    body = call(CANCEL, {"id": order.id, "refund": True, "restock": True})
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in body
    assert sim.store(HUB).jobs == {} and order.cancel_job_id is None
