"""Validate docker-compose.yml against the Compose specification's JSON Schema.

No Docker engine runs here, so ``docker compose config`` is not available.
The schema Compose itself validates with ships inside the ``docker-compose``
package on PyPI (``compose/config/compose_spec.json``); this script takes it
from a downloaded wheel and checks the file with ``jsonschema``, after
filling ``${VAR}`` from ``.env.example`` as Compose would.

Usage: python scripts/validate_compose.py PATH/TO/docker_compose-*.whl
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def env_example() -> dict[str, str]:
    """Variables from .env.example."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Replace ${VAR} (with or without a default) in every string."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), "x"), value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def main() -> int:
    with zipfile.ZipFile(sys.argv[1]) as wheel:
        schema = json.loads(wheel.read("compose/config/compose_spec.json"))
    # The current Compose Specification allows a top-level project `name`;
    # the copy in docker-compose 1.29.2 predates it. Everything else is as shipped.
    schema["properties"].setdefault("name", {"type": "string"})
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    document = interpolate(document, env_example())
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path)
    )
    for error in errors:
        where = "/".join(str(part) for part in error.path) or "(top)"
        print(f"docker-compose.yml: {where}: {error.message}")
    if not errors:
        print("docker-compose.yml: valid against the Compose specification schema")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
