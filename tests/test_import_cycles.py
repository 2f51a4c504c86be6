"""No import cycle between the modules of a package (a cycle hides which module owns what), except the
two documented Celery kicks: a worker module asks its own Celery task to run, and the task module
imports that worker (import-linter's contracts in pyproject.toml check the layers; this checks cycles)."""

import grimp
import pytest

ALLOWED = {
    ("notifications.outbox", "notifications.tasks"),
    ("workflow.deadlines.services", "workflow.tasks"),
}


def _cycles(graph: grimp.ImportGraph, package: str, allowed: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), without the allowed imports."""
    modules = sorted(mod for mod in graph.modules if mod == package or mod.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in modules or (v, w) in allowed:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("cases", "notifications", "workflow", "config")


@pytest.mark.parametrize("package", ["cases", "notifications", "workflow"])
def test_no_import_cycle_inside_the_package(graph, package):
    assert _cycles(graph, package, ALLOWED) == []


def test_the_check_finds_a_cycle(graph):
    # Without the allowances the Celery kicks are cycles: the check is not blind.
    assert _cycles(graph, "notifications", set()) == [
        ["notifications.outbox", "notifications.services", "notifications.tasks"]
    ]
