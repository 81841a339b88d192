"""Run mypy on the ``capgate`` package as it installs.

contracts/, workers/, adapters/, audit/ ... sit at the top of the repository
and install as ``capgate.contracts`` and so on (``[tool.setuptools.package-dir]``
in pyproject.toml). mypy cannot follow setuptools' editable-install import
hook, so this script lays the package out as installed, with symlinks, in
``.typecheck/`` and runs mypy there, printing paths as they are in the
repository. Usage: ``python scripts/typecheck.py [extra mypy args]``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".typecheck"


def package_dirs() -> dict[str, str]:
    """The package -> folder mapping from pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


def build_tree(mapping: dict[str, str]) -> None:
    """Recreate .typecheck/ with the installed layout, made of symlinks."""
    shutil.rmtree(TREE, ignore_errors=True)
    top = TREE / "capgate"
    top.mkdir(parents=True)
    for entry in (ROOT / mapping["capgate"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in mapping.items():
        if package == "capgate":
            continue
        (TREE / package.replace(".", "/")).symlink_to(ROOT / folder, target_is_directory=True)


def main() -> int:
    mapping = package_dirs()
    build_tree(mapping)
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "-p",
        "capgate",
        *sys.argv[1:],
    ]
    result = subprocess.run(command, cwd=TREE, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    # Longest package first so capgate.contracts wins over capgate.
    for package in sorted(mapping, key=len, reverse=True):
        output = output.replace(package.replace(".", "/") + "/", mapping[package] + "/")
    sys.stdout.write(output)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
