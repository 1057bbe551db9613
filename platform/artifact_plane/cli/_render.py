"""Rich renderings shared by commands: artifact tables and lineage trees."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from artifact_plane.models import ArtifactRecord, LineageGraph, LineageNode, NodeKind

REALM_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "red")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def artifacts_table(records: Iterable[ArtifactRecord], *, title: str | None = None) -> Table:
    """One row per artifact."""
    table = Table(title=title)
    for column in ("id", "type", "realm", "status", "uri", "version", "size", "created"):
        table.add_column(column, no_wrap=column in {"id", "uri"})
    for r in records:
        table.add_row(
            r.artifact_id,
            r.artifact_type,
            r.realm,
            r.status.value,
            escape(r.uri or ""),
            r.version or "",
            human_size(r.size_bytes),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def record_table(record: ArtifactRecord) -> Table:
    """Every field of one artifact, one per row."""
    table = Table(show_header=False, title=f"artifact {record.artifact_id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in record.model_dump(mode="json", exclude={"payload_key", "version_key"}).items():
        if value in (None, [], {}, ()):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(name, escape(shown))
    return table


def _label(node: LineageNode, realm_styles: dict[str, str]) -> str:
    if node.redacted:
        return f"[dim]{node.kind.value} (redacted)[/dim]"
    realm = node.realm or ""
    style = realm_styles.setdefault(realm, REALM_STYLES[len(realm_styles) % len(REALM_STYLES)])
    realm_tag = f" [{style}]@{escape(realm)}[/{style}]" if realm else ""
    if node.kind is NodeKind.EXECUTION:
        intent = f" {escape(node.intent)}" if node.intent else ""
        return f"[italic]execution{intent}[/italic] {escape(node.id)}{realm_tag}"
    name = f" {escape(node.uri)}" if node.uri else ""
    status = f" [dim]({escape(node.status)})[/dim]" if node.status and node.status != "ready" else ""
    return (
        f"[bold]{escape(node.artifact_type or 'artifact')}[/bold] {escape(node.id)}{realm_tag}{name}{status}"
    )


def lineage_tree(graph: LineageGraph, direction: str) -> Tree:
    """The graph as a tree from its root; a node reached twice is shown once and referred to after."""
    nodes = {node.id: node for node in graph.nodes}
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        children[edge.source_id].append(edge.target_id)
        parents[edge.target_id].append(edge.source_id)
    styles: dict[str, str] = {}
    root_node = nodes.get(graph.root, LineageNode(id=graph.root, kind=NodeKind.ARTIFACT))
    tree = Tree(_label(root_node, styles))
    ways = {"downstream": [children], "upstream": [parents], "both": [parents, children]}[direction]
    for links in ways:
        branch = tree if len(ways) == 1 else tree.add("upstream" if links is parents else "downstream")
        seen = {graph.root}
        stack = [(branch, child) for child in reversed(links.get(graph.root, []))]
        while stack:
            parent, node_id = stack.pop()
            node = nodes.get(node_id, LineageNode(id=node_id, kind=NodeKind.ARTIFACT))
            if node_id in seen:
                parent.add(f"{_label(node, styles)} [dim](shown above)[/dim]")
                continue
            seen.add(node_id)
            sub = parent.add(_label(node, styles))
            stack.extend((sub, child) for child in reversed(links.get(node_id, [])))
    if graph.is_partial:
        cut = ", ".join(graph.truncated_by) or "a limit"
        tree.add(f"[yellow]… partial answer: cut short by {escape(cut)}[/yellow]")
    return tree
