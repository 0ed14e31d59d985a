"""Plotly chart of one Benford digit test: observed proportions as bars, the expected law as a line."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from audit.methods.benford import LAST_TWO, Z_CRITICAL_95, BenfordTest
from reports.chart_text import chart_text

OBSERVED_COLOR = "#33658a"
EXPECTED_COLOR = "#d1495b"
FLAGGED_COLOR = "#9c3848"


def benford_figure(test: BenfordTest) -> go.Figure:
    """Bars of the observed digit proportions with the expected proportions as a line.

    The title carries the test, n, MAD with Nigrini's level (last two digits: no Nigrini table) and the
    sample-size-aware verdict (excess MAD, flagged or not). Hovering a bar shows its count, both
    proportions and Nigrini's Z; bars with Z > 1.96 and more amounts than expected are drawn darker,
    since those digits are where an auditor starts sampling invoices.
    """
    # Last two digits read as "00".."99"; other tests as plain numbers. Strings keep the axis categorical.
    labels = [f"{d:02d}" if test.test == LAST_TWO else str(d) for d in test.digits]
    observed = np.nan_to_num(test.observed, nan=0.0)
    over_represented = (test.z > Z_CRITICAL_95) & (test.observed > test.expected)
    bar_colors = np.where(over_represented, FLAGGED_COLOR, OBSERVED_COLOR)
    hover_data = np.column_stack([test.counts, test.expected, test.z])

    figure = go.Figure()
    figure.add_trace(go.Bar(
        name="observed",
        x=labels,
        y=observed,
        marker_color=list(bar_colors),
        customdata=hover_data,
        hovertemplate=(
            "digit %{x}<br>count %{customdata[0]:,}<br>observed %{y:.4f}<br>"
            "expected %{customdata[1]:.4f}<br>Z %{customdata[2]:.2f}<extra></extra>"
        ),
    ))
    figure.add_trace(go.Scatter(
        name="expected",
        x=labels,
        y=test.expected,
        mode="lines+markers" if len(labels) <= 10 else "lines",
        line={"color": EXPECTED_COLOR, "width": 2},
        hovertemplate="digit %{x}<br>expected %{y:.4f}<extra></extra>",
    ))
    level = test.level if test.level is not None else "no Nigrini table"
    if test.n == 0:
        verdict = "no usable amounts"
    else:
        verdict = (
            f"excess MAD {test.excess_mad:.6f}: {'FLAGGED' if test.flagged else 'not flagged'}"
        )
    title = f"{chart_text(test.title)} (n = {test.n:,}): MAD {test.mad:.6f}, {chart_text(level)}<br><sup>{verdict}"
    if test.warning:
        title += f"; small sample (< {test.minimum_sample:,})"
    title += "</sup>"
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": "digit"}, "type": "category"},
        yaxis={"title": {"text": "proportion of amounts"}, "tickformat": ".0%"},
        bargap=0.15,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return figure
