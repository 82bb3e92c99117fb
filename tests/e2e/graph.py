"""The asset graph as the UI draws it: which asset nodes, which edges between them.

Lineage is drawn, not written, so it is read from the graph's SVG: each asset node is a
`foreignObject` holding the asset's name, each edge a `path` that starts at the middle of
its upstream node's right side and ends, arrow first, at the downstream node's left side.
The overview page's "Upstream assets" list says the same in words.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.e2e.ui import open_page

NODE_NAMES = '[class*="AssetNode_assetName"] [data-tooltip]'

_GRAPH_JS = """
() => {
  const svg = document.querySelector('[data-svg-viewport] svg');
  if (!svg) return null;
  const nodes = [];
  for (const fo of svg.querySelectorAll('foreignObject')) {
    const name = fo.querySelector('[class*="AssetNode_assetName"] [data-tooltip]');
    if (!name) continue;
    const [x, y, w, h] = ['x', 'y', 'width', 'height'].map(a => +fo.getAttribute(a));
    nodes.push({name: name.getAttribute('data-tooltip'), x, y, w, h});
  }
  const edges = [];
  for (const path of svg.querySelectorAll('path[marker-end]')) {
    const n = (path.getAttribute('d').match(/-?[0-9.]+/g) || []).map(Number);
    if (n.length >= 4) edges.push([n[0], n[1], n[n.length - 2], n[n.length - 1]]);
  }
  const minimal = svg.querySelectorAll('[class*="minimalName"]').length;
  return {nodes, edges, minimal};
}
"""


def _nearest(nodes: list[dict], x: float, y: float, side: str) -> str | None:
    """The node whose right (`out`) or left (`in`) middle is at (x, y), within 25 px."""
    best, best_d = None, 25.0
    for n in nodes:
        nx = n["x"] + n["w"] if side == "out" else n["x"]
        d = abs(nx - x) + abs(n["y"] + n["h"] / 2 - y)
        if d < best_d:
            best, best_d = n["name"], d
    return best


def _graph_once(page: Page) -> tuple[set[str], set[tuple[str, str]]]:
    graph = page.evaluate(_GRAPH_JS)
    assert graph, "no asset graph on the page"
    assert not graph["minimal"], "the graph is zoomed out to unnamed minimal nodes"
    nodes = graph["nodes"]
    edges = set()
    for x1, y1, x2, y2 in graph["edges"]:
        source, target = _nearest(nodes, x1, y1, "out"), _nearest(nodes, x2, y2, "in")
        assert source and target, f"an edge ({x1},{y1})→({x2},{y2}) joins no two asset nodes"
        edges.add((source, target))
    return {n["name"] for n in nodes}, edges


def read_asset_graph(page: Page, settle_s: float = 20.0) -> tuple[set[str], set[tuple[str, str]]]:
    """The asset nodes the graph draws and its edges (upstream, downstream): an edge starts
    at the middle of its upstream node's right side and ends at the downstream's left.
    Read until two reads agree: after "Expand all groups" the layout is redrawn."""
    deadline = time.monotonic() + settle_s
    previous = None
    while True:
        try:
            current = _graph_once(page)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            current = None
        if current is not None and current == previous:
            return current
        if time.monotonic() > deadline and current is not None:
            return current
        previous = current
        page.wait_for_timeout(500)


def show_whole_graph(page: Page, base: str) -> None:
    """Global lineage with every group expanded, zoomed to fit. Below a zoom of about 0.6
    the UI draws unnamed "minimal" nodes, and zooming in culls nodes off screen, so the
    page is made big (room for 15 assets in five groups at zoom ~0.9) and the side panels
    closed."""
    page.set_viewport_size({"width": 2400, "height": 2400})
    open_page(page, base, "/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    hide = page.get_by_text("Hide navigation", exact=True)
    if hide.is_visible():
        hide.click()
    page.get_by_label("panel_show_right").first.click()  # close the asset tree panel
    page.get_by_label("settings").last.click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    page.mouse.move(5, 5)
    expect(page.locator(NODE_NAMES).first).to_be_visible()


def upstream_on_overview(page: Page, base: str, asset: str) -> set[str]:
    """The 'Upstream assets' an asset's overview page lists."""
    open_page(page, base, f"/assets/{asset}")
    heading = page.get_by_text("Upstream assets", exact=True)
    expect(heading).to_be_visible()
    links = heading.locator("xpath=following-sibling::div[1]//a")
    expect(links.first).to_be_visible()  # the list renders after its heading
    hrefs = links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return {href.removeprefix("/assets/") for href in hrefs}
