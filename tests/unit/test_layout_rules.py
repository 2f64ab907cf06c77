"""The package's shape: no import cycle (deferred imports count), no oversized module, the
service never loads the bench tools, and the README's layout section matches the tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "inbox_ocr"
MAX_LINES = 650


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return {m for m in found if m in known} - {module_name(path)}


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports_of(path, known) for name, path in modules().items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    assert edges.get("inbox_ocr.pipeline")  # the reader works
    assert find_cycle(edges) is None


def test_stages_do_not_import_the_layers_above_them() -> None:
    """Imports run down: lifecycle -> pipeline -> document path -> stages -> records."""
    above = {"inbox_ocr.cli", "inbox_ocr.service", "inbox_ocr.pipeline", "inbox_ocr.reload"}
    for name, deps in graph().items():
        if name.startswith(("inbox_ocr.intake", "inbox_ocr.ocr", "inbox_ocr.correct",
                            "inbox_ocr.fields", "inbox_ocr.outbox", "inbox_ocr.ops")):
            assert not deps & above, (name, deps & above)
            assert not any(d.startswith("inbox_ocr.bench") for d in deps), name
    assert not any(d.startswith("inbox_ocr.bench")
                   for name, deps in graph().items() if not name.startswith("inbox_ocr.bench")
                   and name != "inbox_ocr.cli" for d in deps)


def test_no_module_is_oversized() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert max(sizes.values()) <= MAX_LINES, max(sizes.items(), key=lambda kv: kv[1])


def test_the_service_does_not_load_the_bench_modules(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from inbox_ocr import cli\n"
            "from inbox_ocr.config import load_settings\n"
            "from inbox_ocr.service import Service\n"
            "from inbox_ocr.ops import audit\n"
            "import asyncio, io\n"
            "audit.configure('warning', 'json', None, io.StringIO())\n"
            f"settings = load_settings(__import__('pathlib').Path({str(tmp_path / 'c.toml')!r}))\n"
            "asyncio.run(Service(settings, oneshot=True).serve())\n"
            "print(sorted(m for m in sys.modules if m.startswith('inbox_ocr.bench')))\n")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "c.toml").write_text(
        '[paths]\ninbox = "inbox"\noutbox = "out"\narchive = "arc"\nfailed = "bad"\n'
        'state = "state"\n[ocr]\nengine = "tesseract"\nworkers = 1\n[llm]\nenabled = false\n')
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_readme_layout_section_matches_the_tree() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("Layout:"):readme.index("Beside it:")]
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name == "__init__.py" and rel.parent == Path():
            continue
        name = str(rel.parent) + "/" if rel.name == "__init__.py" else rel.name
        assert f"`{name}`" in section, f"README layout section does not name {rel}"
