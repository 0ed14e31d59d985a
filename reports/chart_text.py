"""Text that goes into a plotly figure, shown as text.

plotly renders a subset of HTML in titles, axis labels, legend names, point text and hover text
(``<a href>``, ``<b>``, ``<br>``, ``<span style>``...), so a customer named ``<a href="https://x">`` would
become a live link in the report. Every chart passes each piece of ledger or run text through
:func:`chart_text` (``&``, ``<`` and ``>`` become entities, which plotly shows as the characters) and
adds its own ``<br>`` between pieces afterwards.
"""

from __future__ import annotations


def chart_text(value) -> str:
    """``value`` as text plotly shows literally (no markup); None becomes ''."""
    if value is None:
        return ""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chart_texts(values) -> list[str]:
    return [chart_text(v) for v in values]
