"""The dependency rule of docs/architecture.md, checked over the import graph of src/lamina.

Every ``import`` counts, also those inside functions (a lazy import is still a dependency);
imports under ``if TYPE_CHECKING:`` do not (they never run), and neither does
``from lamina import TYPE_CHECKING`` (the package's constant; it loads nothing). Two rules:
no cycle between modules, and no import from a layer to a higher one or to a sibling feature
that is not declared below.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"

# Lower number = lower layer. A module belongs to the longest prefix listed.
LAYERS: dict[str, int] = {
    "lamina.errors": 0, "lamina.oci": 0, "lamina.procstat": 0,
    "lamina.layer": 1,
    "lamina.store": 2,
    # the registry's transport and the archive readers/writers: what image sources and sinks use
    "lamina.registry.config": 3, "lamina.registry.credentials": 3, "lamina.registry.auth": 3,
    "lamina.registry.client": 3, "lamina.registry.transport": 3, "lamina.registry.distribution": 3,
    "lamina.registry.transfer_events": 3, "lamina.registry.locations": 3,
    "lamina.archive": 3,
    "lamina.image": 4,
    # features
    "lamina.registry": 5, "lamina.runtime": 5, "lamina.build": 5, "lamina.security": 5,
    "lamina.analysis": 5,
    "lamina.diskusage": 6, "lamina.sysinfo": 6,
    "lamina.remote": 6,  # the ssh transport, contexts, image scp
    "lamina.remote.client": 7,  # Client(host="ssh://…"): a client over that transport
    "lamina.client": 7, "lamina.api": 7, "lamina.api_records": 7, "lamina.api_filters": 7,
    "lamina": 7,  # the package itself: the public surface (Client and every public type, lazily)
    # the shells over the public surface (remote's forwarding of a command line is the CLI's)
    "lamina.cli": 8, "lamina.service": 8, "lamina.__main__": 8,
    "lamina.remote.forward": 8, "lamina.remote.buildupload": 8,
}
FEATURE = 5
# Sideways imports between features that the architecture declares.
SIDEWAYS = {
    ("lamina.build", "lamina.runtime"),  # RUN steps are containers
    ("lamina.security", "lamina.build"),  # lint reads Dockerfiles with the build's own parser
    ("lamina.registry", "lamina.registry"),
    ("lamina.runtime", "lamina.runtime"),
    ("lamina.build", "lamina.build"),
    ("lamina.security", "lamina.security"),
    ("lamina.analysis", "lamina.analysis"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "lamina").rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> list[tuple[str, list[str]]]:
    """(module, names) of every import that runs, skipping TYPE_CHECKING blocks."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for module, names in _imports(ast.parse(path.read_text()), package):
            if not module.startswith("lamina"):
                continue
            if module == "lamina" and all(n in ("TYPE_CHECKING", "__version__") for n in names):
                continue
            targets = [resolve(f"{module}.{n}") if f"{module}.{n}" in modules else resolve(module) for n in names] \
                if names else [resolve(module)]
            graph[name].update(t for t in targets if t and t != name)
    return graph


def layer_of(module: str) -> tuple[str, int]:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return best, LAYERS[best]


def _feature(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_import_cycles() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def connect(start: str) -> None:  # Tarjan's, iterative (the graph is deep)
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))

    for module in sorted(_modules()):
        if module not in index:
            connect(module)
    assert cycles == [], "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_imports_point_downwards() -> None:
    wrong = []
    for module, targets in sorted(import_graph().items()):
        _, rank = layer_of(module)
        for target in sorted(targets):
            _, target_rank = layer_of(target)
            if target_rank > rank:
                wrong.append(f"{module} → {target} (up)")
            elif target_rank == rank == FEATURE and (_feature(module), _feature(target)) not in SIDEWAYS:
                wrong.append(f"{module} → {target} (sideways, undeclared)")
    assert wrong == [], "\n".join(wrong)


def test_the_checker_sees_lazy_imports() -> None:
    """The graph must contain an import made inside a function (the run door's lazy ones)."""
    graph = import_graph()
    assert "lamina.runtime.isolation" in graph["lamina.runtime.runconfig"]
