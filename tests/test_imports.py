"""The engine's shape, read from its source: no import cycle, backend names compared only
where backends are defined, and no SQLAlchemy or Alembic on a no-op run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO, URL_FIXTURES, run_gmg

PACKAGE = "gmg_dbupdate"
ENGINE = REPO / "entrypoint" / PACKAGE
BACKEND_NAMES = ("sqlite", "postgresql")


def _modules() -> dict[str, Path]:
    """Dotted name of every module of the engine, packages included."""
    found = {}
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ENGINE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported engine module, line) for every import: at module level, inside a function
    (it runs when called) or under ``if TYPE_CHECKING:`` (two modules that need each other's
    types are as entangled as two that call each other)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            targets = [base_name] + [f"{base_name}.{alias.name}" for alias in node.names]
        for target in targets:
            # the deepest engine module the name reaches (``a.b.c`` may be a function of ``a.b``)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module and target.startswith(PACKAGE + "."):
                edges.append((target, node.lineno))
    return sorted(set(edges), key=lambda edge: edge[1])


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_engine_has_no_import_cycle():
    modules = _modules()
    edges = {m: _imports(m, p, set(modules)) for m, p in modules.items()}
    graph = {m: {target for target, _line in e} for m, e in edges.items()}
    cycles = [g for g in _strongly_connected(graph) if len(g) > 1]
    assert modules and any(graph.values())  # the scan sees the engine and its imports
    report = []
    for group in cycles:
        report.append("cycle: " + " <-> ".join(group))
        for module in group:
            rel = modules[module].relative_to(REPO)
            for target, line in edges[module]:
                if target in group:
                    report.append(f"  {rel}:{line} imports {target}")
    assert not cycles, "\n".join(report)


def _literal(node: ast.AST, constants: dict[str, ast.AST]) -> list[str]:
    """The strings a node stands for: a constant, a tuple/list/set of them, or a module-level
    name bound to one of those."""
    if isinstance(node, ast.Name) and node.id in constants:
        node = constants[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _literal(element, {})]
    return []


def _names_a_backend(strings: list[str]) -> bool:
    return any(s.lower().startswith(("sqlite", "postgres", "mysql", "mariadb")) for s in strings)


def _backend_comparisons(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):  # ==, !=, in, not in, is
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("startswith", "endswith", "removeprefix", "removesuffix"):
                operands = list(node.args)
        elif isinstance(node, ast.match_case):
            operands = [n.value for n in ast.walk(node.pattern) if isinstance(n, ast.MatchValue)]
        if any(_names_a_backend(_literal(op, constants)) for op in operands):
            line = node.pattern.lineno if isinstance(node, ast.match_case) else node.lineno
            found.append((line, ast.unparse(node)))
    return sorted(found)


def test_backend_names_are_compared_only_in_backends_and_config():
    """A third database must not add a branch to every module: backends are told apart only
    inside ``backends/`` and the URL parser in ``config.py``."""
    offending = []
    scanned = 0
    for path in _modules().values():
        rel = path.relative_to(ENGINE)
        if rel.parts[0] == "backends" or rel == Path("config.py"):
            continue
        scanned += 1
        for line, text in _backend_comparisons(path):
            offending.append(f"{path.relative_to(REPO)}:{line}: {text.splitlines()[0][:100]}")
    assert scanned > 10
    assert not offending, "backend names compared outside backends/ and config.py:\n" + "\n".join(
        offending
    )


def test_the_backend_scan_sees_each_kind_of_comparison(tmp_path):
    """The scan above can fail: each form of comparison it must catch, and one it must not."""
    source = tmp_path / "sample.py"
    source.write_text(
        "SCHEMES = ('postgresql', 'postgres')\n"
        "a = backend == 'sqlite'\n"
        "b = url.startswith('postgresql://')\n"
        "c = scheme in SCHEMES\n"
        "match name:\n"
        "    case 'sqlite':\n"
        "        pass\n"
        "d = quoted['sqlite']\n",  # a lookup, not a comparison
        encoding="utf-8",
    )
    assert [line for line, _text in _backend_comparisons(source)] == [2, 3, 4, 6]


@pytest.mark.slow  # three processes each; test_fastpath's keeps one no-op in the fast loop
@pytest.mark.parametrize(
    "verb", [("dbupdate",), ("dbupdate", "--check"), ("dbcheck",)], ids=" ".join
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # the shipped bundle's backends
def test_a_noop_imports_neither_sqlalchemy_nor_alembic(backend, verb, request):
    """What each pod start pays for: the no-op run of each read or update verb (the shipped
    bundle, a current database) loads neither SQLAlchemy nor Alembic."""
    db_url = request.getfixturevalue(URL_FIXTURES[backend])
    shipped = ("--migrations", str(REPO / "migrations"), "--database-url", db_url)
    assert run_gmg("dbupdate", *shipped).code == 0
    noop = run_gmg(
        *verb, *shipped, env={"PYTHONPROFILEIMPORTTIME": "1"}, process=True, json_logs=False
    )
    assert noop.code == 0, noop
    lines = noop.stderr.splitlines()
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    assert "gmg_dbupdate.cli" in imported  # the trace is there to be read
    events = [line for line in lines if line.startswith("{")]
    assert '"event": "dbupdate.done"' in events[-1], noop
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "alembic")}
