"""``lamina analyze -i``: dive's two panes in a terminal — the layers, and the file tree as of the
selected layer with what that layer added (A), modified (M) and removed (D) marked.

Keys: Up/Down or k/j move; Tab switches pane; Space, Enter or Left/Right fold and unfold the
directory under the cursor; a shows only what the selected layer changed (and again: everything);
q or Esc leaves. Built on the standard library's curses, so it needs no other package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.analysis.report import AnalysisReport, go_percent, human_bytes
from lamina.analysis.tree import IMPLIED, WHITEOUT_PREFIX, FileNode, FileTree

__all__ = ["run_interactive", "LayerView", "layer_view"]


@dataclass(slots=True)
class Row:
    """One line of the tree pane."""

    path: str
    name: str
    depth: int
    is_dir: bool
    mark: str  # "A", "M", "D" or " "
    size: int


@dataclass(slots=True)
class LayerView:
    """The filesystem as of one layer, with that layer's changes marked."""

    root: _ViewNode
    collapsed: set[str] = field(default_factory=set)
    changes_only: bool = False

    def rows(self) -> list[Row]:
        rows: list[Row] = []
        stack = [(child, 0) for child in reversed(self.root.sorted())]
        while stack:
            node, depth = stack.pop()
            if self.changes_only and not node.changed:
                continue
            rows.append(Row(node.path, node.name, depth, node.is_dir, node.mark, node.size))
            if node.children and node.path not in self.collapsed:
                stack.extend((child, depth + 1) for child in reversed(node.sorted()))
        return rows


@dataclass(slots=True)
class _ViewNode:
    name: str
    path: str
    is_dir: bool = False
    size: int = 0
    mark: str = " "
    changed: bool = False  # this node or one below it is marked
    children: dict[str, _ViewNode] = field(default_factory=dict)

    def sorted(self) -> list[_ViewNode]:
        return [self.children[name] for name in sorted(self.children)]


def layer_view(report: AnalysisReport, index: int) -> LayerView:
    """The tree of layers 0..index stacked, marks from layer ``index`` against the layers below."""
    below = FileTree()
    for layer in report.layers[:index]:
        below.stack(layer.tree)
    current = below.copy()
    upper = report.layers[index].tree
    current.stack(upper)
    root = _ViewNode("", "", is_dir=True)
    _copy_into(current.root, root)
    _mark(upper.root, below.root, root)
    return LayerView(root)


def _copy_into(source: FileNode, target: _ViewNode) -> None:
    pending = [(source, target)]
    while pending:
        node, view = pending.pop()
        for name, child in (node.children or {}).items():
            twin = _ViewNode(name, f"{view.path}/{name}", is_dir=child.info.is_dir or bool(child.children),
                             size=child.info.size)
            view.children[name] = twin
            pending.append((child, twin))


def _mark(upper: FileNode, lower: FileNode | None, view: _ViewNode) -> bool:
    """Mark what ``upper`` (a layer's directory) changed against ``lower``; True when anything was."""
    changed = False
    for name, child in (upper.children or {}).items():
        if name.startswith(WHITEOUT_PREFIX):
            target = name[len(WHITEOUT_PREFIX):]
            gone = lower.children.get(target) if lower is not None and lower.children else None
            if gone is not None:  # shown where it was, marked removed
                view.children[target] = _ViewNode(target, f"{view.path}/{target}", is_dir=gone.info.is_dir,
                                                  size=gone.subtree_size(), mark="D", changed=True)
                changed = True
            continue
        counterpart = lower.children.get(name) if lower is not None and lower.children else None
        twin = view.children.get(name)
        if twin is None:
            continue
        if child.info is not IMPLIED:
            if counterpart is None:
                twin.mark = "A"
            elif not counterpart.info.same_as(child.info):
                twin.mark = "M"
        below_changed = _mark(child, counterpart, twin) if child.children else False
        twin.changed = twin.mark != " " or below_changed
        changed = changed or twin.changed
    return changed


def run_interactive(report: AnalysisReport) -> None:
    """Show the report in the terminal until the user leaves."""
    import curses

    curses.wrapper(lambda screen: _Screen(screen, report).loop())


class _Screen:
    def __init__(self, screen, report: AnalysisReport):
        import curses

        self.curses = curses
        self.screen = screen
        self.report = report
        self.layer = 0
        self.focus = "layers"
        self.cursor = 0
        self.top = 0
        self.view = layer_view(report, 0)
        curses.curs_set(0)
        screen.keypad(True)

    def loop(self) -> None:
        while True:
            self.draw()
            key = self.screen.getch()
            if key in (ord("q"), 27):
                return
            self.handle(key)

    def handle(self, key: int) -> None:
        curses = self.curses
        rows = self.view.rows()
        if key == ord("\t"):
            self.focus = "tree" if self.focus == "layers" else "layers"
        elif key in (curses.KEY_DOWN, ord("j")):
            if self.focus == "layers":
                self._select(min(self.layer + 1, len(self.report.layers) - 1))
            else:
                self.cursor = min(self.cursor + 1, max(len(rows) - 1, 0))
        elif key in (curses.KEY_UP, ord("k")):
            if self.focus == "layers":
                self._select(max(self.layer - 1, 0))
            else:
                self.cursor = max(self.cursor - 1, 0)
        elif key == ord("a"):
            self.view.changes_only = not self.view.changes_only
            self.cursor = self.top = 0
        elif self.focus == "tree" and rows and key in (ord(" "), 10, 13, curses.KEY_LEFT, curses.KEY_RIGHT):
            row = rows[min(self.cursor, len(rows) - 1)]
            if row.is_dir:
                if key == curses.KEY_LEFT:
                    self.view.collapsed.add(row.path)
                elif key == curses.KEY_RIGHT:
                    self.view.collapsed.discard(row.path)
                else:
                    self.view.collapsed.symmetric_difference_update({row.path})

    def _select(self, index: int) -> None:
        if index != self.layer:
            changes_only = self.view.changes_only
            self.layer = index
            self.view = layer_view(self.report, index)
            self.view.changes_only = changes_only
            self.cursor = self.top = 0

    def draw(self) -> None:
        curses = self.curses
        screen = self.screen
        screen.erase()
        height, width = screen.getmaxyx()
        split = max(min(width * 2 // 5, 70), 20)
        report = self.report
        title = (f" {report.image}  efficiency {go_percent(report.efficiency)} %  wasted "
                 f"{human_bytes(report.wasted_bytes)}  user wasted {go_percent(report.user_wasted_percent)} %")
        self._put(0, 0, title[: width - 1], curses.A_BOLD)
        self._put(1, 0, "Layers"[: split - 1], curses.A_UNDERLINE if self.focus == "layers" else 0)
        for offset, layer in enumerate(report.layers[: height - 3]):
            line = f"{layer.index:>3} {human_bytes(layer.size_bytes):>8}  {layer.command.replace(chr(10), ' ')}"
            attribute = curses.A_REVERSE if layer.index == self.layer else 0
            self._put(2 + offset, 0, line[: split - 1].ljust(split - 1), attribute)
        rows = self.view.rows()
        mode = "changes of this layer" if self.view.changes_only else "all files"
        self._put(1, split, f"Files as of layer {self.layer} ({mode})"[: width - split - 1],
                  curses.A_UNDERLINE if self.focus == "tree" else 0)
        visible = height - 3
        self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + visible:
            self.top = self.cursor - visible + 1
        for offset, row in enumerate(rows[self.top: self.top + visible]):
            folded = "+" if row.path in self.view.collapsed else "-"
            name = row.name + ("/" if row.is_dir else "")
            size = "" if row.is_dir and row.mark != "D" else human_bytes(row.size)
            line = f"{row.mark} {size:>8}  {'  ' * row.depth}{folded if row.is_dir else ' '} {name}"
            attribute = curses.A_REVERSE if self.focus == "tree" and self.top + offset == self.cursor else 0
            self._put(2 + offset, split, line[: width - split - 1], attribute)
        self._put(height - 1, 0, " Tab: switch pane  Up/Down: move  Space: fold  a: changes only  q: quit"[: width - 1],
                  curses.A_DIM)
        screen.refresh()

    def _put(self, y: int, x: int, text: str, attribute: int = 0) -> None:
        try:
            self.screen.addstr(y, x, text, attribute)
        except self.curses.error:  # the bottom-right cell cannot be written; a tiny terminal
            pass
