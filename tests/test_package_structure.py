"""The house rules, read from the source: no import cycle among graphinfo's modules, no module
importing another module's private names, and a CLI that names no model."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphinfo"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(module: str, name: str | None) -> str:
    """The graphinfo module an import refers to: ``from module import name`` names a
    submodule when one exists, else ``module`` itself."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported graphinfo module, imported name or None, line) for every import of
    ``module``, at module level or inside functions (a deferred import is still a
    dependency)."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "graphinfo"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: resolved against this module's package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "graphinfo":
                continue
            found += [(_resolve(base, alias.name), alias.name, node.lineno)
                      for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    return {module: {target for target, _, _ in _imports(module)
                     if target in MODULES and target != module} for module in MODULES}


def test_the_package_is_read_whole():
    assert {"graphinfo.train", "graphinfo.sources", "graphinfo.models.base", "graphinfo.cli",
            "graphinfo.transforms.diffusion", "graphinfo.nn.encoders"} <= set(MODULES)
    assert "graphinfo.models.base" in _graph()["graphinfo.sources"]


def test_no_import_cycle():
    graph = _graph()
    # Depth-first search; a back edge closes a cycle.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_another_modules_private_names():
    violations = []
    for module in MODULES:
        for target, name, line in _imports(module):
            if name is not None and _is_private(name) and target != module:
                violations.append(f"{module}:{line} imports {name} from {target}")
        # ... nor reaches into an imported module for one (module._name).
        tree = ast.parse(MODULES[module].read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("graphinfo") and alias.asname:
                        aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "graphinfo"):
                for alias in node.names:
                    target = _resolve(node.module, alias.name)
                    if target != node.module:   # a submodule bound to a name
                        aliases[alias.asname or alias.name] = target
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and _is_private(node.attr):
                violations.append(f"{module}:{node.lineno} uses "
                                  f"{aliases[node.value.id]}.{node.attr}")
    assert not violations, "\n".join(violations)


def test_the_cli_names_no_model():
    from graphinfo.models import MODELS

    names = set(MODELS) | {cls.__name__ for cls in MODELS.values()}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b", re.IGNORECASE)
    source = (PACKAGE / "cli.py").read_text()
    assert not pattern.findall(source), pattern.findall(source)
    # The check would see one: a sentence naming a model is caught.
    assert pattern.findall("train DGI on cora")


def test_the_checks_catch_what_they_look_for(tmp_path, monkeypatch):
    """A planted cycle and a planted private import are found (so the tests above can fail)."""
    monkeypatch.setitem(MODULES, "graphinfo._probe_a", tmp_path / "a.py")
    monkeypatch.setitem(MODULES, "graphinfo._probe_b", tmp_path / "b.py")
    (tmp_path / "a.py").write_text("from graphinfo._probe_b import _hidden\n")
    (tmp_path / "b.py").write_text("def f():\n    import graphinfo._probe_a\n")
    graph = _graph()
    assert "graphinfo._probe_b" in graph["graphinfo._probe_a"]
    assert "graphinfo._probe_a" in graph["graphinfo._probe_b"]
    assert [("graphinfo._probe_b", "_hidden", 1)] == _imports("graphinfo._probe_a")


def test_the_help_and_the_package_root_import_no_torch():
    # `graphinfo --help` answers before torch is imported (seconds on a cold start).
    import subprocess
    import sys

    script = ("import sys\n"
              "from graphinfo.cli import main\n"
              "for argv in (['--help'], ['pretrain', '--help'], ['--version']):\n"
              "    try:\n"
              "        main(argv)\n"
              "    except SystemExit:\n"
              "        pass\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n"
              "import graphinfo\n"
              "assert 'torch' not in sys.modules\n"
              "assert graphinfo.DGI.__module__ == 'graphinfo.models.dgi'\n"
              "assert graphinfo.estimators.__name__ == 'graphinfo.estimators'\n"
              "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr


def test_the_catalog_names_the_registered_models():
    from graphinfo.catalog import BUILTIN_MODELS, DEFAULT_MODEL
    from graphinfo.models import MODELS

    builtin = [name for name, cls in MODELS.items() if cls.__module__.startswith("graphinfo.")]
    assert list(BUILTIN_MODELS) == builtin and DEFAULT_MODEL in BUILTIN_MODELS


@pytest.mark.parametrize("module", ["graphinfo.sources", "graphinfo.minibatch", "graphinfo.train",
                                    "graphinfo.distributed", "graphinfo.experiment",
                                    "graphinfo.models.mvgrl"])
def test_each_entry_module_imports_first_in_a_fresh_interpreter(module):
    # A spawned worker process imports the engine's modules in whatever order its target
    # needs; an import cycle then fails there and nowhere else.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
