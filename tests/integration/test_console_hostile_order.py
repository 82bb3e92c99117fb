"""A hostile order, end to end: its name, note and SKU come from a store we do not control.

The order is placed in the simulated retailer store, imported by a real `orders_job`
(quarantined: the hub does not sell its SKU), listed by the real `exception_queue`
asset and escalated by the real escalation step; a Shopify error code as hostile feeds
a real health refresh. Every email those queue and every markdown table the UI shows is
then parsed as a mail client and a trusting markdown renderer would (the unit suite
`tests/unit/test_console_escaping.py` does the same for each producer alone).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import dagster as dg
import psycopg
import pytest
from flow_builders import Line, RetailerShop, add_variant

from assets.run_history import RetailerRun
from flows.exceptions import escalate, open_queue
from flows.health import HealthInputs, health_markdown, refresh_health
from pipelines.exceptions import EXCEPTION_ASSETS, EXCEPTION_JOBS
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import registry_path
from simulator.store import utcnow
from sync.exceptions import TABLE_COLUMNS
from tests.fixtures.flows import RETAILERS

markdown_it = pytest.importorskip("markdown_it")
pytestmark = pytest.mark.integration

KEY = "botanical-interests"
SCRIPT = "<script>alert(1)</script>"
MARKDOWN = "| ** [x](javascript:alert(1)) __u__"
NAME = f"#1001 {SCRIPT} {MARKDOWN}"
NOTE = f"leave at door {SCRIPT} <img src=x onerror=alert(2)> {MARKDOWN}"
SKU = f"EVIL-{SCRIPT}|**[x](javascript:alert(3))"
NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}
MAIL_ELEMENTS = {"html", "head", "meta", "title", "body", "h2", "h3", "p", "pre", "table",
                 "tr", "th", "td", "a"}  # fmt: skip
MARKDOWN_ELEMENTS = {"table", "thead", "tbody", "tr", "th", "td", "p", "h3", "strong"}


class Page(HTMLParser):
    """Elements, link targets, event handlers, tables (rows of cells) and visible text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements, self.hrefs, self.handlers = set(), [], []
        self.counts: Counter[str] = Counter()
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.add(tag)
        self.counts[tag] += 1
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)

    @property
    def cells(self) -> set[str]:
        return {cell for table in self.tables for row in table for cell in row}


def assert_inert_mail(html: str, text: str, *shown: str) -> None:
    page = Page(html)
    assert page.elements <= MAIL_ELEMENTS, page.elements - MAIL_ELEMENTS
    assert page.handlers == [] and all(u.startswith(("http://", "https://")) for u in page.hrefs)
    for value in shown:  # the reader sees the store's characters, escaped exactly once
        assert value in page.visible and value in text, value
    assert SCRIPT not in html and NOTE not in html + text  # the note is never mailed at all


def assert_inert_markdown(markdown: str, bold: int = 0) -> Page:
    """`bold`: the `**…**` the producer writes itself (the health report's heading)."""
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True  # a renderer that would follow javascript: links
    page = Page(md.render(markdown))
    assert page.elements <= MARKDOWN_ELEMENTS, page.elements - MARKDOWN_ELEMENTS
    assert page.hrefs == [] and page.handlers == [] and page.counts["strong"] == bold
    for table in page.tables:  # no cell ended early, no row split
        assert len({len(row) for row in table}) == 1, table
    return page


def mails(url: str, kind: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT html, text FROM shopsync.email_outbox WHERE kind = %s ORDER BY id", (kind,)
        ).fetchall()


def queue_metadata(flow) -> dict[str, object]:
    defs = dg.Definitions(assets=EXCEPTION_ASSETS, jobs=EXCEPTION_JOBS,
                          resources=build_resources(str(registry_path())))  # fmt: skip
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("exception_queue_job").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )  # fmt: skip
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_hostile_order_is_inert_in_its_digest_the_queue_and_its_escalation(flow):
    shop = RetailerShop(flow, KEY)
    (good,) = shop.skus(1)
    add_variant(shop.store, SKU, title="Evil")  # the hub does not sell it: quarantined
    order = shop.order(Line(good, 1), Line(SKU, 2), note=NOTE)
    with shop.store.lock:
        order.name = NAME
        shop.store.touch(order, "order", utcnow())
    result = flow.run_job("orders_job", KEY, datetime.now(UTC), ops=NO_HOLD)
    assert result.success  # a quarantined order needs a person; the run itself is fine

    [(html, text)] = mails(flow.db_url, "order_issues")
    assert_inert_mail(html, text, NAME, SKU)

    table = queue_metadata(flow)["queue"]
    page = assert_inert_markdown(table)
    assert len(page.tables) == 1 and len(page.tables[0][0]) == len(TABLE_COLUMNS)
    assert NAME in page.cells and any(SKU in cell for cell in page.cells)
    assert NOTE not in page.visible

    email = EmailResource(postgres=PostgresResource(url=flow.db_url), outbox_only=True)
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        (item,) = open_queue(conn, flow.registry, datetime.now(UTC))
        later = item.waiting_since + timedelta(hours=5)
        items = open_queue(conn, flow.registry, later)
        assert escalate(conn, email, flow.registry, items, later) == items
    [(html, text)] = mails(flow.db_url, "exception_escalation")
    assert_inert_mail(html, text, NAME, SKU)


CALLS = ("INSERT INTO shopsync.api_calls (called_at, store, operation, duration_ms, http_status,"
         " throttled, run_id, error_code, step, retailer) VALUES (%s, %s, 'orders_updated', 300,"
         " %s, false, %s, %s, 'retailer_orders', %s)")  # fmt: skip


def test_a_hostile_error_code_is_inert_in_the_health_alert_and_report(flow):
    """Error codes come from Shopify's responses: one as hostile as the order above makes
    the error rate cross; its alert and the health table show it, inert."""
    now = datetime.now(UTC).replace(microsecond=0)
    runs = [
        RetailerRun(flow="orders", retailer=r, run_id=f"run-{r}", job="orders_job",
                    status="success", retailer_ok=True, started_at=now - timedelta(minutes=40),
                    ended_at=now - timedelta(minutes=39), scheduled_for=None, partitions=r,
                    created_at=now - timedelta(minutes=40))
        for r in RETAILERS
    ]  # fmt: skip
    rows = []
    for run in runs:
        for i in range(20):
            failed = run.retailer == KEY and i < 5  # 25 % of its calls: past the 5 % line
            rows.append((now - timedelta(minutes=30, seconds=i), run.retailer,
                         400 if failed else 200, run.run_id, SKU if failed else None,
                         run.retailer))  # fmt: skip
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        conn.cursor().executemany(CALLS, rows)
        email = EmailResource(postgres=PostgresResource(url=flow.db_url), outbox_only=True)
        report = refresh_health(conn, email, HealthInputs(flow.registry, runs, {}, now))
    assert report.crossed == {("error_rate", f"{KEY}/orders")}
    [(html, text)] = mails(flow.db_url, "health_alert")
    assert_inert_mail(html, text, SKU)
    page = assert_inert_markdown(health_markdown(report), bold=1)
    assert SKU in page.cells
