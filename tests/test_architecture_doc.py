"""docs/ARCHITECTURE.md stays true: its layers are the import contract's, its tree the package's.

The layers list and the tree are marked blocks of the document; the import
contract is ``[tool.importlinter]`` in pyproject.toml, which ``make test``
runs. A package added, moved or renamed, a layer reordered, or a capability
protocol added without a word in the document fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from alfred_tui.backends import capabilities

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
PACKAGE = ROOT / "alfred_tui"


def _block(name: str) -> str:
    match = re.search(rf"<!-- {name}:.*?-->(.*?)<!-- /{name} -->", DOC, re.S)
    assert match, f"docs/ARCHITECTURE.md has no <!-- {name}: --> block"
    return match.group(1)


def _contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c.get("id") == contract_id)


def test_the_documented_layers_are_the_import_contract() -> None:
    documented = re.findall(r"^- `([^`]+)`:", _block("layers"), re.M)
    assert documented == _contract("layers")["layers"]


def test_the_documented_tree_is_the_package() -> None:
    tree = _block("tree")
    named = set(re.findall(r"^  (\w+)(?:/|\.py)\s", tree, re.M))
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert named == packages | modules


def test_every_engine_and_every_capability_is_documented() -> None:
    engines = {p.parent.name for p in (PACKAGE / "backends").glob("*/backend.py")}
    assert engines == {"local", "docker", "kubernetes"}
    assert engines == {m.rsplit(".", 1)[1] for m in _contract("engines")["modules"]}
    for engine in engines:
        assert f"  {engine}/" in DOC, f"backends/{engine}/ is not in the engines' tree"
    protocols = {p.__name__ for p in capabilities.PROTOCOLS.values()} | {
        "PostgresDataAccess",
        "ServiceLimits",
    }
    for name in protocols:
        assert hasattr(capabilities, name)
        assert f"| `{name}` |" in DOC, f"the capability {name} is not in the table"
