"""Entity-link graphs (shared phone, address, bank account, ... between customers, salespeople and
employees) as networkx graphs and plotly network drawings.

The analysis that finds links publishes them as the ``entity_links`` view: one row per link with at
least ``source``, ``target`` and ``kind``; optional ``source_type`` / ``target_type`` name the node types
(otherwise a node written ``customer:C1`` has type ``customer``), and any other column is shown on hover.
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd

from reports.chart_text import chart_text

# No reds: red outlines mark the entities named in a finding.
PALETTE = ["#33658a", "#f6ae2d", "#2f9c5a", "#9b5de5", "#86bbd8", "#758e4f", "#55dde0", "#6c757d", "#b07d62",
           "#2a9d8f"]
NODE_COLOURS = {"customer": "#4f7cac", "salesperson": "#f6ae2d", "employee": "#2f9c5a"}
FLAG_COLOUR = "#d1495b"
LAYOUT_SEED = 7  # fixed, so the same links are drawn the same way in every report
LABEL_CHARS = 18  # a node's name is shortened to this beside the node (whole on hover)
LABEL_ALL_UP_TO = 150  # nodes; above, only those named in a finding and the most linked are labelled
LABEL_MOST_LINKED = 60


def short_label(text: str, chars: int = LABEL_CHARS) -> str:
    """``text`` cut to ``chars`` characters at a word boundary when one is near, with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= chars:
        return text
    cut = text[:chars - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= len(cut) - 4 else cut).rstrip(" ,;-") + "…"


def node_names(frames: dict) -> dict[str, str]:
    """``type:id`` -> name for the customers, salespeople and employees of a run's tables (those present)."""
    names = {}
    for table, node_type in (("customers", "customer"), ("salespeople", "salesperson"), ("employees", "employee")):
        frame = frames.get(table)
        key = f"{node_type}_id"
        if not isinstance(frame, pd.DataFrame) or key not in frame or "name" not in frame:
            continue
        for entity_id, name in zip(frame[key], frame["name"], strict=True):
            if isinstance(name, str) and name.strip():
                names[f"{node_type}:{entity_id}"] = name.strip()
    return names


def _node_type(node: str, given) -> str:
    if isinstance(given, str) and given:
        return given
    prefix, sep, _ = str(node).partition(":")
    return prefix if sep else "entity"


def link_graph(links: pd.DataFrame) -> nx.Graph:
    """An undirected graph of ``links``; parallel links between two nodes are merged, their kinds kept."""
    graph = nx.Graph()
    extra = [c for c in links.columns if c not in {"source", "target", "kind", "source_type", "target_type"}]
    for row in links.to_dict(orient="records"):
        source, target = str(row["source"]), str(row["target"])
        if source == target or not source or not target:
            continue
        for node, given in ((source, row.get("source_type")), (target, row.get("target_type"))):
            if node not in graph:
                graph.add_node(node, type=_node_type(node, given))
        kind = str(row.get("kind") or "link")
        detail = "; ".join(f"{c}={row[c]}" for c in extra if pd.notna(row.get(c)) and str(row[c]) != "")
        detail = detail if len(detail) <= 200 else detail[:199] + "…"  # hover text, not the record
        if graph.has_edge(source, target):
            data = graph.edges[source, target]
            data["kinds"] = sorted(set(data["kinds"]) | {kind})
            if detail:
                data["details"].append(detail)
        else:
            graph.add_edge(source, target, kinds=[kind], details=[detail] if detail else [])
    return graph


def findings_graph(exceptions: pd.DataFrame) -> nx.Graph:
    """Each finding's entity linked to every record it rests on (edge kind: the pattern).

    Records shared by several findings join them up, so a cluster is a group of findings about the
    same people and documents. Used when the ledger has no ``entity_links`` view.
    """
    rows = []
    for entity_type, entity_id, pattern, related in exceptions[
            ["entity_type", "entity_id", "pattern", "related"]].itertuples(index=False):
        source = f"{entity_type}:{entity_id}"
        items = related if isinstance(related, list) else []
        rows.extend({"source": source, "target": str(item), "kind": pattern} for item in items
                    if str(item) != source)
    return link_graph(pd.DataFrame(rows, columns=["source", "target", "kind"]))


def _capped(graph: nx.Graph, flagged: set[str], max_nodes: int) -> nx.Graph:
    # Whole components only, those touching a finding first, then the largest: a cut component would
    # show links that are not there.
    components = sorted(nx.connected_components(graph),
                        key=lambda c: (not (c & flagged), -len(c), min(c)))
    keep: set[str] = set()
    for component in components:
        if keep and len(keep) + len(component) > max_nodes:
            continue
        keep |= component
    # In the graph's own node order: nx.subgraph would follow the set's order, which changes with each
    # process's string hashing and with it the layout, so the same run would be drawn differently.
    kept = nx.Graph()
    kept.add_nodes_from((node, dict(data)) for node, data in graph.nodes(data=True) if node in keep)
    kept.add_edges_from((a, b, dict(data)) for a, b, data in graph.edges(data=True) if a in keep)
    return kept


def _layout(graph: nx.Graph) -> dict[str, tuple[float, float]]:
    """Node positions: each connected component laid out on its own (spring layout, fixed seed) in a cell
    of a grid, the largest first, a cell's size growing with its component's, so that small groups do not
    pile up in one ring and their names stay legible."""
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c[0]))
    columns = max(1, math.ceil(math.sqrt(len(components))))
    position, x, y, row_height = {}, 0.0, 0.0, 0.0
    for index, nodes in enumerate(components):
        if index and index % columns == 0:
            x, y, row_height = 0.0, y - row_height, 0.0
        size = 1.0 + 0.35 * math.sqrt(len(nodes) - 1)
        part = nx.Graph()
        part.add_nodes_from(nodes)
        part.add_edges_from((a, b) for a, b in graph.edges(nodes) if a in part and b in part)
        placed = nx.spring_layout(part, seed=LAYOUT_SEED, scale=size * 0.4,
                                  k=1.5 / max(len(nodes), 1) ** 0.5) if len(nodes) > 1 else {nodes[0]: (0.0, 0.0)}
        for node in nodes:
            px, py = placed[node]
            position[node] = (x + size / 2 + float(px), y - size / 2 + float(py))
        x += size
        row_height = max(row_height, size)
    return position


def network_figure(graph: nx.Graph, flagged: set[str] | None = None, max_nodes: int = 400,
                   title: str = "", names: dict[str, str] | None = None) -> dict:
    """A plotly figure (dict) of ``graph``: links coloured by kind, nodes by type and sized by degree,
    nodes named in a finding outlined in red, each node labelled with its name (``names``, by node; else
    its id) shortened. At most ``max_nodes`` nodes (whole components); above ``LABEL_ALL_UP_TO`` nodes only
    those named in a finding and the ``LABEL_MOST_LINKED`` most linked carry a label (every node's hover
    names it)."""
    flagged = flagged or set()
    names = names or {}
    shown = _capped(graph, flagged, max_nodes) if graph.number_of_nodes() > max_nodes else graph
    if shown.number_of_nodes() == 0:
        return {"data": [], "layout": {"title": {"text": chart_text(title or "no links")}, "height": 200}}
    position = _layout(shown)
    traces = []
    kinds = sorted({k for _, _, d in shown.edges(data=True) for k in d["kinds"]})
    for index, kind in enumerate(kinds):
        xs, ys, mx, my, text = [], [], [], [], []
        for a, b, data in shown.edges(data=True):
            if data["kinds"][0] != kind:  # each link drawn once, in its first kind's colour
                continue
            (x0, y0), (x1, y1) = position[a], position[b]
            xs += [round(float(x0), 4), round(float(x1), 4), None]
            ys += [round(float(y0), 4), round(float(y1), 4), None]
            mx.append(round(float(x0 + x1) / 2, 4))
            my.append(round(float(y0 + y1) / 2, 4))
            text.append(f"{chart_text(a)} — {chart_text(b)}<br>{chart_text(', '.join(data['kinds']))}"
                        + "".join(f"<br>{chart_text(d)}" for d in data["details"][:3]))
        colour = PALETTE[index % len(PALETTE)]
        traces.append({"type": "scatter", "mode": "lines", "name": chart_text(kind), "x": xs, "y": ys,
                       "line": {"color": colour, "width": 1.5}, "hoverinfo": "skip", "legendgroup": chart_text(kind)})
        traces.append({"type": "scatter", "mode": "markers", "x": mx, "y": my, "text": text, "hoverinfo": "text",
                       "marker": {"size": 6, "color": colour, "opacity": 0.3}, "showlegend": False,
                       "legendgroup": chart_text(kind)})
    types = sorted({d["type"] for _, d in shown.nodes(data=True)})
    if shown.number_of_nodes() <= LABEL_ALL_UP_TO:
        labelled = set(shown.nodes)
    else:  # legible: the flagged and the most linked (ties by name, so the choice does not vary)
        by_degree = sorted(shown.nodes, key=lambda n: (-shown.degree(n), n))
        labelled = (flagged & set(shown.nodes)) | set(by_degree[:LABEL_MOST_LINKED])
    for index, node_type in enumerate(types):
        nodes = sorted(n for n, d in shown.nodes(data=True) if d["type"] == node_type)
        degree = [shown.degree(n) for n in nodes]
        label = {n: names.get(n) or n.partition(":")[2] or n for n in nodes}
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": chart_text(node_type),
            "x": [round(float(position[n][0]), 4) for n in nodes],
            "y": [round(float(position[n][1]), 4) for n in nodes],
            "hovertext": [(f"{chart_text(names[n])}<br>" if n in names else "") + f"{chart_text(n)}<br>{d} link(s)"
                          + ("<br>named in a finding" if n in flagged else "")
                          for n, d in zip(nodes, degree, strict=True)],
            "text": [chart_text(short_label(label[n])) if n in labelled else "" for n in nodes],
            "textposition": "top center", "textfont": {"size": 10},
            "hoverinfo": "text",
            "marker": {"size": [min(8 + 3 * d, 30) for d in degree],
                       "color": NODE_COLOURS.get(node_type, PALETTE[(index + 3) % len(PALETTE)]),
                       "symbol": "circle",
                       "line": {"color": [FLAG_COLOUR if n in flagged else "#ffffff" for n in nodes],
                                "width": [3 if n in flagged else 1 for n in nodes]}}})
    hidden = graph.number_of_nodes() - shown.number_of_nodes()
    note = f" ({hidden:,} more nodes in smaller components not drawn)" if hidden else ""
    layout = {"height": 620, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "hovermode": "closest",
              "xaxis": {"visible": False}, "yaxis": {"visible": False, "scaleanchor": "x"},
              "legend": {"orientation": "h", "y": -0.02}, "plot_bgcolor": "#ffffff",
              "title": {"text": chart_text((title or "Entity links") + note), "font": {"size": 14}}}
    return {"data": traces, "layout": layout}
