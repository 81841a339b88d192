"""The distribution ships every package, and contracts need only pydantic."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found: set[str] = set()
    for package, folder in setuptools["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            found.add(".".join((package, *relative)))
    # A package that is not listed would be missing from the wheel.
    assert found - listed == set()


def test_contracts_import_without_worker_dependencies() -> None:
    # Every module of contracts/ (catalog, operation models, schema export...).
    modules = sorted(path.stem for path in (ROOT / "contracts").glob("*.py"))
    assert {"catalog", "email", "users", "toggles", "storage", "schema"} <= set(modules)
    imports = ", ".join(f"capgate.contracts.{name}" for name in modules if name != "__init__")
    code = (
        f"import sys, capgate.contracts, {imports};"
        "heavy = {'celery', 'kombu', 'sqlalchemy', 'redis', 'alembic', 'click'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
