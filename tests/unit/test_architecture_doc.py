"""docs/ARCHITECTURE.md stays true to the code: every module and folder it names exists, and
every package of src/certdoctor is named in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PKG = ROOT / "src" / "certdoctor"
FUTURE = {"monitor/", "renew/"}  # named as the homes of the next issues


def _named() -> set[str]:
    text = DOC.read_text()
    return set(re.findall(r"`((?:[a-z0-9_]+/)*[a-z0-9_]+(?:\.py|/))`", text))


def test_every_module_it_names_exists():
    missing = []
    for name in sorted(_named()):
        if name in FUTURE or name.startswith("tests/") or name.startswith("docs/"):
            path = ROOT / name
            if name in FUTURE or path.exists():
                continue
        elif (PKG / name).exists():
            continue
        missing.append(name)
    assert not missing, f"docs/ARCHITECTURE.md names modules that do not exist: {missing}"


def test_every_package_is_described():
    named = _named()
    packages = sorted(p.name + "/" for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    undescribed = [p for p in packages if p not in named]
    assert not undescribed, f"packages missing from docs/ARCHITECTURE.md: {undescribed}"


def test_every_top_level_module_is_described():
    named = _named()
    modules = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    undescribed = [m for m in modules if m not in named]
    assert not undescribed, f"modules missing from docs/ARCHITECTURE.md: {undescribed}"
