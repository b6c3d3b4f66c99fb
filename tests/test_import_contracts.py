"""The import contracts of docs/design.md ("Layers"): one-way layers, no cycles, no torch at
module level in the render packages."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.helpers import REPO

#: Libraries of the training install that the render packages must not import at module level.
TRAINING_LIBRARIES = ("torch", "torchvision", "timm", "matplotlib", "sklearn", "librosa")


def test_import_linter_contracts_are_kept():
    """``lint-imports`` with the contracts in pyproject.toml; a broken one names the import."""
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--no-cache", "--no-logo"], cwd=REPO, capture_output=True, text=True)
    report = result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in report, f"import contracts broken:\n{report}"
    assert result.returncode == 0, report


def module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """``(line, module)`` of every import that runs when the module is imported: anything not
    inside a function body (class bodies and ``if``/``try`` blocks at module level count)."""
    found = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found += [(child.lineno, alias.name) for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.lineno, child.module))
            stack.append(child)
    return found


def test_module_level_imports_of_the_render_packages_need_no_training_install():
    bad = []
    for package in ("generators", "shaders"):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, module in module_level_imports(ast.parse(path.read_text(), str(path))):
                if module.split(".")[0] in TRAINING_LIBRARIES:
                    bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not bad, "import these lazily, inside the function that needs them:\n" + "\n".join(bad)


def test_the_module_level_check_sees_imports_in_blocks_but_not_in_functions():
    tree = ast.parse("import numpy\ntry:\n    import torch\nexcept ImportError:\n    pass\n"
                     "class A:\n    from timm import x\n"
                     "def f():\n    import torchvision\n")
    assert sorted(module_level_imports(tree)) == [(1, "numpy"), (3, "torch"), (7, "timm")]
