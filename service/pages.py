"""The few HTML pages a merchant or operator sees, rendered with autoescaping: the shop
name and every message may come from a query string, so nothing reaches the page raw."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.responses import HTMLResponse

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · shopsync</title></head>
<body><h1>{{ title }}</h1>{% block body %}{% endblock %}</body></html>
"""

_ERROR = """{% extends "layout.html" %}{% block body %}
<p>{{ message }}</p>
{% if hint %}<p>{{ hint }}</p>{% endif %}
{% endblock %}
"""

_INSTALLED = """{% extends "layout.html" %}{% block body %}
<p>shopsync is now authorized for <strong>{{ shop }}</strong> (store <code>{{ key }}</code>),
with the scopes: {{ scopes or "none reported" }}.</p>
<p>Next steps for the operator:</p>
<ol>
  <li>Check the connection: <code>shopsync doctor --retailer {{ key }}</code></li>
  <li>Enable the store's flows in the registry (<code>flows:</code> of <code>{{ key }}</code>).</li>
</ol>
{% endblock %}
"""

_ENV = Environment(
    loader=DictLoader({"layout.html": _LAYOUT, "error.html": _ERROR, "installed.html": _INSTALLED}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def error_page(status: int, title: str, message: str, hint: str | None = None) -> HTMLResponse:
    html = _ENV.get_template("error.html").render(title=title, message=message, hint=hint)
    return HTMLResponse(html, status_code=status)


def installed_page(key: str, shop: str, scopes: str) -> HTMLResponse:
    html = _ENV.get_template("installed.html").render(
        title="Installed", key=key, shop=shop, scopes=scopes
    )
    return HTMLResponse(html)
