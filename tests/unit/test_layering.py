"""The layering of certdoctor, read from the source with ``ast`` (no module is imported).

Every ``import``/``from ... import`` of ``certdoctor`` counts, at any depth (inside functions
too), except under ``if TYPE_CHECKING:``. Each module belongs to the layer of its top-level
name below ``certdoctor``; a module may import its own layer and the layers under it, never one
above. On top of that: nothing in the library imports the CLI; ``x509``, ``checks`` and
``render`` never import ``net`` (no sockets under them); a package's ``__init__`` re-exports from
its own package only. ``certdoctor/__init__.py`` (lazy string re-exports) and ``_compat`` (old
paths named as strings) are exempt.

Every rule holds today; a new import that breaks one fails with ``file:line: statement (why)``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


SRC = Path(__file__).resolve().parents[2] / "src" / "certdoctor"

#: low to high; a module may import its own layer and lower ones
LAYERS: list[tuple[str, ...]] = [
    ("errors", "policy", "_lazy", "_compat", "fsutil", "_der", "_text", "_toml", "_sqlite"),  # 0 foundation
    ("model",),                                          # 1
    ("x509",),                                           # 2 certificates as data, no sockets
    ("net",),                                            # 3 the only place sockets open
    ("trust",),                                          # 4
    ("checks", "evidence"),                              # 5
    ("revocation", "pinning", "lint"),                   # 6
    ("gather", "diagnose", "expiry", "inspect"),         # 7 stage orchestrators
    ("remedies",),                                       # 8
    ("monitor", "renew"),                                # 9 fleets (monitor/); renew (future)
    ("render",),                                         # 10 output formats
    ("lab",),                                            # 11
    ("cli", "__main__"),                                 # 12
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
ROOT = "certdoctor"  # ``from certdoctor import __version__``: the package itself, layer 0
EXEMPT = {"certdoctor", "certdoctor._compat"}  # lazy string re-exports; old paths as strings
NO_SOCKETS = ("x509", "checks", "render")  # never import certdoctor.net


@dataclass(frozen=True)
class Import:
    module: str   # the importing module, e.g. certdoctor.x509.path
    path: str     # src-relative file
    line: int
    target: str   # the imported module, e.g. certdoctor.net.fetch
    text: str     # the statement as written
    nested: bool  # inside a function or class body (not bound at module level)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, nested: bool = False):
    """``(node, nested)`` for every node under ``node`` (``nested``: inside a function or class),
    skipping the body of ``if TYPE_CHECKING:`` (its ``else`` runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            children = child.orelse
        else:
            children = [child]
        for c in children:
            yield c, nested
            yield from _walk(c, nested or isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                           ast.Lambda)))


def _lazy_exports() -> dict[str, str]:
    """``certdoctor/__init__.py``'s ``_EXPORTS``: public name -> submodule."""
    tree = ast.parse((SRC / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _resolve_from(base: str, name: str, exports: dict[str, str]) -> str:
    """What ``from base import name`` reaches: a submodule, a lazily exported name's module, or base."""
    if (SRC.parent / Path(*f"{base}.{name}".split("."))).with_suffix(".py").exists() or \
            (SRC.parent / Path(*f"{base}.{name}".split(".")) / "__init__.py").exists():
        return f"{base}.{name}"
    if base == ROOT and name in exports:
        return f"{ROOT}.{exports[name]}"
    return base


def collect() -> list[Import]:
    exports = _lazy_exports()
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        module, is_package = _module_name(path)
        package = module if is_package else module.rpartition(".")[0]
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        lines = source.splitlines()
        rel = str(path.relative_to(SRC.parent.parent))
        for node, nested in _walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            text = " ".join(lines[node.lineno - 1:node.end_lineno]).strip()
            text = " ".join(text.split())
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                        found.append(Import(module, rel, node.lineno, alias.name, text, nested))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base != ROOT and not base.startswith(ROOT + "."):
                    continue
                for alias in node.names:
                    found.append(Import(module, rel, node.lineno, _resolve_from(base, alias.name, exports), text,
                                      nested))
    return found


IMPORTS = collect()


def _top(module: str) -> str:
    """``certdoctor.x509.path`` -> ``x509``; ``certdoctor`` -> ``certdoctor``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def layer_of(module: str) -> int:
    top = _top(module)
    return 0 if top == ROOT else LAYER[top]


def _library(imp: Import) -> bool:
    return imp.module not in EXEMPT


def violations(rule) -> list[str]:
    """``file:line: statement  (why)`` for every import that breaks ``rule`` (once per statement)."""
    found = [f"{imp}  ({why})" for imp in IMPORTS if _library(imp) for why in [rule(imp)] if why]
    return list(dict.fromkeys(found))


def _report(rule_name: str, broken: list[str]) -> str:
    return f"{len(broken)} import(s) break the rule '{rule_name}':\n  " + "\n  ".join(broken)


# --------------------------------------------------------------------------- the map itself

def test_the_parser_sees_imports_at_every_depth_and_skips_type_checking():
    tree = ast.parse(
        "import certdoctor.model\n"
        "def f():\n    from certdoctor.net import fetch\n"
        "if TYPE_CHECKING:\n    from certdoctor.cli import main\nelse:\n    import certdoctor.errors\n"
        "if typing.TYPE_CHECKING:\n    import certdoctor.lab\n")
    names = [n for n, _ in _walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    seen = [n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in names]
    assert seen == ["certdoctor.model", "certdoctor.net", "certdoctor.errors"]
    assert IMPORTS, "no certdoctor import found under src/: the walk is broken"
    assert any(i.nested for i in IMPORTS), "no import inside a function found: the walk stops at the top"


def test_every_module_has_a_layer():
    tops = {_top(_module_name(p)[0]) for p in SRC.rglob("*.py")}
    unmapped = sorted(t for t in tops - {ROOT} if t not in LAYER)
    assert not unmapped, (f"modules with no layer: {unmapped}; add each to LAYERS in {Path(__file__).name} "
                          "at the level it belongs to")
    targets = sorted({_top(i.target) for i in IMPORTS} - {ROOT} - set(LAYER))
    assert not targets, f"imports of certdoctor modules that are not in LAYERS: {targets}"


# --------------------------------------------------------------------------- the rules

def _imports_cli(imp: Import) -> str | None:
    if _top(imp.module) in ("cli", "__main__"):
        return None
    if _top(imp.target) in ("cli", "__main__"):
        return f"{imp.module} is library code and imports the CLI ({imp.target})"
    return None


def _imports_net_from(tops: tuple[str, ...]):
    def rule(imp: Import) -> str | None:
        if _top(imp.module) in tops and _top(imp.target) == "net":
            return f"{imp.module} must not open sockets, and imports {imp.target}"
        return None
    return rule


def _imports_upward(imp: Import) -> str | None:
    have, want = layer_of(imp.module), layer_of(imp.target)
    if want > have:
        return (f"{imp.module} (layer {have}, {_top(imp.module)}) imports {imp.target} "
                f"(layer {want}, {_top(imp.target)}): upward")
    return None


def _init_reexports_foreign(imp: Import) -> str | None:
    path = SRC.parent / Path(*imp.module.split(".")) / "__init__.py"
    if imp.module == ROOT or not path.exists() or imp.nested:  # a function's import binds no package name
        return None
    if imp.target == imp.module or imp.target.startswith(imp.module + ".") or imp.target == "certdoctor._lazy":
        return None
    return f"the package {imp.module} re-exports {imp.target}, which is not in its own package"


def test_no_library_module_imports_the_cli():
    broken = violations(_imports_cli)
    assert not broken, _report("no module of the library imports certdoctor.cli", broken)


def test_checks_never_imports_net():
    """``certdoctor.checks`` judges evidence already gathered (it may not exist yet: then vacuous)."""
    broken = violations(_imports_net_from(("checks",)))
    assert not broken, _report("certdoctor.checks never imports certdoctor.net", broken)


def test_x509_never_imports_net():
    broken = violations(_imports_net_from(("x509",)))
    assert not broken, _report("certdoctor.x509 never imports certdoctor.net", broken)


def test_render_never_imports_net():
    broken = violations(_imports_net_from(("render",)))
    assert not broken, _report("certdoctor.render never imports certdoctor.net", broken)


def test_nothing_imports_upward():
    broken = violations(_imports_upward)
    assert not broken, _report("nothing imports upward (layers: " + " < ".join(
        "/".join(names) for names in LAYERS) + ")", broken)


def test_package_inits_reexport_their_own_package_only():
    broken = violations(_init_reexports_foreign)
    # the lazy tables name submodules as strings: each must be a module of the same package
    for init in sorted(SRC.glob("*/__init__.py")):
        tree = ast.parse(init.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
                for name, sub in ast.literal_eval(node.value).items():
                    target = init.parent / Path(*sub.split("."))
                    if not (target.with_suffix(".py").exists() or (target / "__init__.py").exists()):
                        broken.append(f"{init.relative_to(SRC.parent.parent)}: _EXPORTS[{name!r}] = {sub!r} "
                                      f"is not a module of {init.parent.name}")
    assert not broken, _report("a package's __init__ re-exports from its own package only", broken)


def test_each_rule_catches_what_it_forbids():
    """The rules on made-up imports: each flags its violation and passes the allowed case."""
    def imp(module: str, target: str, nested: bool = False) -> Import:
        return Import(module, "src/x.py", 1, target, f"import {target}", nested)

    assert _imports_cli(imp("certdoctor.diagnose", "certdoctor.cli.common"))
    assert not _imports_cli(imp("certdoctor.cli.main", "certdoctor.cli.common"))
    assert not _imports_cli(imp("certdoctor.__main__", "certdoctor.cli"))
    for top in NO_SOCKETS:
        assert _imports_net_from((top,))(imp(f"certdoctor.{top}.any", "certdoctor.net.fetch"))
    assert not _imports_net_from(("render",))(imp("certdoctor.diagnose", "certdoctor.net.probe"))
    assert "upward" in _imports_upward(imp("certdoctor.model", "certdoctor.x509.load"))
    assert _imports_upward(imp("certdoctor.net.client", "certdoctor.trust.effective"))
    assert not _imports_upward(imp("certdoctor.render.diagnose", "certdoctor.diagnose"))
    assert not _imports_upward(imp("certdoctor.revocation.check", "certdoctor.pinning.pins"))  # same layer
    assert not _imports_upward(imp("certdoctor.lint.scan", ROOT))
    assert _init_reexports_foreign(imp("certdoctor.x509", "certdoctor.net.fetch"))
    assert not _init_reexports_foreign(imp("certdoctor.x509", "certdoctor.x509.load"))
    assert not _init_reexports_foreign(imp("certdoctor.x509", "certdoctor._lazy"))
    assert not _init_reexports_foreign(imp("certdoctor.cli", ROOT, nested=True))
