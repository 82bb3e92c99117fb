"""HTML and text mail rendered from Jinja2 templates (`resources/mail/templates/`).

The HTML environment autoescapes every value: alert content is attacker-influenced
(order names, notes, SKUs and error messages come from stores we do not control).
The text part is rendered without HTML escaping but through `clean_text`, so a
control character can never reach a mail client. Subjects are one header-safe line.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from resources.email_templates import SUBJECT_PREFIX, RenderedEmail, clean_subject, clean_text

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,  # noqa: S701 - only the text part (never HTML) is unescaped
        undefined=jinja2.StrictUndefined,  # a missing figure fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = clean_text
    return env


def render_mail(name: str, subject: str, **context: object) -> RenderedEmail:
    """`templates/{name}.html` (autoescaped) and `templates/{name}.txt` with `context`."""
    html = _environment(True).get_template(f"{name}.html").render(subject=subject, **context)
    text = _environment(False).get_template(f"{name}.txt").render(subject=subject, **context)
    return RenderedEmail(clean_subject(f"{SUBJECT_PREFIX} {subject}"), html, clean_text(text))
