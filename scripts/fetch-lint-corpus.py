#!/usr/bin/env python3
"""Fetch the wheels of tests/data/lint_corpus/MANIFEST.json into .cache/lint-corpus/ and check
their sha256 (idempotent: wheels already there with the right hash are kept). Exit 0 when
every wheel is there and verified, 1 otherwise (one ``error:`` line per wheel)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "data" / "lint_corpus" / "MANIFEST.json"
CACHE = ROOT / ".cache" / "lint-corpus"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    wheels = json.loads(MANIFEST.read_text())["wheels"]
    CACHE.mkdir(parents=True, exist_ok=True)
    bad = 0
    for w in wheels:
        target = CACHE / w["filename"]
        if target.is_file() and sha256(target) == w["sha256"]:
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               *w.get("pip_args", ()), f"{w['name']}=={w['version']}", "-d", str(CACHE)]
        subprocess.run(cmd, check=False, timeout=300)
        if not target.is_file():
            print(f"error: {w['filename']} could not be downloaded", file=sys.stderr)
            bad += 1
        elif sha256(target) != w["sha256"]:
            print(f"error: {w['filename']} has sha256 {sha256(target)}, the manifest says "
                  f"{w['sha256']}", file=sys.stderr)
            target.unlink()
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
