"""The shape of the house, checked on the source (conventions: "Dependencies run one way").

* ``canonjson`` is a leaf: it imports none of the project's packages, so ``forms`` and ``sync``
  can both use it;
* ``forms`` and ``sync`` are pure: no Flask, no SQL, no ``server``; ``sync`` needs nothing from
  ``forms`` and ``forms`` nothing from ``sync``;
* services do not read the request (``flask.g``, ``request``, ``session``,
  ``has_request_context``): the HTTP layer passes what they need; and the engine
  (``server/db.py``) does not read the request either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUEST_STATE = {"g", "request", "session", "has_request_context"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the file, at any depth (name None for ``import x``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(("package", "forbidden"), [
    ("canonjson", {"forms", "sync", "server", "flask", "sqlalchemy"}),
    ("sync", {"forms", "server", "flask", "flask_sqlalchemy", "sqlalchemy"}),
    ("forms", {"sync", "server", "flask", "flask_sqlalchemy", "sqlalchemy"}),
])
def test_pure_packages_depend_only_one_way(package, forbidden):
    offending = [f"{path.relative_to(ROOT)}: {module}"
                 for path in _modules(package) for module, _name in _imports(path) if _top(module) in forbidden]
    assert not offending


def _reads_request(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = [f"from flask import {alias.name}" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module == "flask"
             for alias in node.names if alias.name in REQUEST_STATE]
    found += [f"flask.{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "flask" and node.attr in REQUEST_STATE]
    return found


@pytest.mark.parametrize("path", [*_modules("server/services"), ROOT / "server" / "db.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_services_and_engine_do_not_read_the_request(path):
    assert not _reads_request(path)
