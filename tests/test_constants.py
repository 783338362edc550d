"""Requirement: no two module-level constants of the package share a name with different meanings."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hscl"
# Names defined in several modules on purpose, or left to the owners of those modules.
SHARED = {
    "T": "a TypeVar, the same meaning everywhere",
}


def test_module_constants_have_one_definition() -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id.lstrip("_").isupper():
                    defined[target.id].append(str(path.relative_to(PACKAGE)))
    repeated = {name: files for name, files in defined.items() if len(files) > 1 and name not in SHARED}
    assert not repeated, f"constants defined in several modules: {repeated}"
