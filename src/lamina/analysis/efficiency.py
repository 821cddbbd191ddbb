"""dive's image efficiency, wasted bytes and inefficient files, with dive's exact definitions.

For every path, every layer that names it as a leaf (a file, a link, an empty directory, a
whiteout) adds a sized reference to it: a file counts its size; a whiteout counts 0 when it
removes a file and, when it removes a directory, the sizes of everything below that directory
in the layers beneath. A path referenced twice or more is an inefficient file; its wasted bytes
are the sum of all its references (the surviving copy included, as dive counts). Efficiency is
the sum over paths of the smallest reference divided by the sum of all references (1 for an
image with no bytes at all).

dive's own quirks are kept because its numbers are the oracle: a whiteout whose target no
lower layer has ends that layer's walk (dive returns an error from its visitor there), after the
path's record was made with a smallest size of -1; the lower tree seen by the first layer's
whiteouts is that layer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.analysis.tree import IMPLIED, WHITEOUT_PREFIX, FileNode, FileTree

__all__ = ["PathRecord", "Efficiency", "LayerChanges", "measure"]


@dataclass(slots=True)
class PathRecord:
    """All references to one path across the layers (dive's EfficiencyData)."""

    path: str
    references: int = 0
    cumulative_size: int = 0
    smallest: int = -1


@dataclass(slots=True)
class LayerChanges:
    """What one layer did to the filesystem below it."""

    added: int = 0
    modified: int = 0
    removed: int = 0


@dataclass(slots=True)
class Efficiency:
    score: float
    wasted_bytes: int
    #: paths referenced by two or more layers, largest cumulative size first (dive's export order)
    inefficient: list[PathRecord] = field(default_factory=list)
    changes: list[LayerChanges] = field(default_factory=list)
    #: stacking problems (a whiteout of a path no lower layer has), as "layer N: path"
    path_errors: list[str] = field(default_factory=list)


def measure(trees: list[FileTree]) -> Efficiency:
    """dive's Efficiency over the layers' trees (base first), plus each layer's changes."""
    records: dict[str, PathRecord] = {}
    matches: list[PathRecord] = []
    changes: list[LayerChanges] = []
    errors: list[str] = []
    merged = FileTree()  # layers 0..index-1 stacked, as dive's StackTreeRange makes it
    for index, tree in enumerate(trees):
        lower = trees[0] if index == 0 else merged
        _visit_leaves(tree, lower, records, matches, errors, index)
        changes.append(_changes(tree, merged if index else FileTree()))
        if index == 0:
            merged = tree.copy()
        errors.extend(f"layer {index}: cannot remove {path} (not in the layers below)" for path in merged.stack(tree))
    smallest_total = sum(record.smallest for record in records.values())
    discovered_total = sum(record.cumulative_size for record in records.values())
    score = 1.0 if discovered_total == 0 else smallest_total / discovered_total
    # dive sorts by cumulative size (Go's sort.Sort, an insertion sort for short lists: stable),
    # then exports the list from the end
    matches.sort(key=lambda record: record.cumulative_size)
    matches.reverse()
    wasted = sum(record.cumulative_size for record in matches)
    return Efficiency(score=score, wasted_bytes=wasted, inefficient=matches, changes=changes, path_errors=errors)


def _visit_leaves(tree: FileTree, lower: FileTree, records: dict[str, PathRecord], matches: list[PathRecord],
                  errors: list[str], index: int) -> None:
    for node, path in tree.leaves():
        record = records.get(path)
        if record is None:
            record = records[path] = PathRecord(path)
        if node.is_whiteout:
            previous = lower.get(path)
            if previous is None:
                errors.append(f"layer {index}: whiteout of {path}, which no lower layer has (the rest of the layer "
                              "is not counted, as dive does)")
                return
            size = previous.subtree_size() if previous.info.is_dir else 0
        else:
            size = node.info.size
        record.cumulative_size += size
        if record.smallest < 0 or size < record.smallest:
            record.smallest = size
        record.references += 1
        if record.references == 2:
            matches.append(record)


def _changes(tree: FileTree, below: FileTree) -> LayerChanges:
    """Paths the layer adds, modifies (type, contents, mode or owner) or removes (with all below),
    walking the layer's tree beside the tree of the layers below it."""
    counted = LayerChanges()
    pending: list[tuple[FileNode, FileNode | None]] = [(tree.root, below.root)]
    while pending:
        node, lower = pending.pop()
        for child in (node.children or {}).values():
            if child.is_whiteout:
                target_name = child.name[len(WHITEOUT_PREFIX):]
                target = lower.children.get(target_name) if lower is not None and lower.children else None
                if target is not None:
                    counted.removed += sum(1 for _ in target.walk_child_first())
                continue
            counterpart = lower.children.get(child.name) if lower is not None and lower.children else None
            if child.info is not IMPLIED:
                if counterpart is None:
                    counted.added += 1
                elif not counterpart.info.same_as(child.info):
                    counted.modified += 1
            if child.children:
                pending.append((child, counterpart))
    return counted
