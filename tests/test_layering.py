"""The layering rule: domain packages never import the layers above them.

Domain code (provenance, ownership, oracle, intel, ml, chain, crypto, monitor, gov, agents, the
stores and the domain services) receives its stores, chain and paths explicitly; finding and
opening a workspace, connecting and composing the pieces is the application layer's
(``proofmind.app``), which the CLI, the HTTP API and the demo call. Imports are read from the
source with ``ast`` (also those inside functions and under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import proofmind

PACKAGE = Path(proofmind.__file__).parent
DOMAIN = [
    "provenance",
    "ownership",
    "oracle",
    "intel",
    "ml",
    "chain",
    "crypto",
    "monitor",
    "gov",
    "agents",
    "store",
    "services",
]
UPPER = ("proofmind.workspace", "proofmind.app", "proofmind.cli", "proofmind.api", "proofmind.demo")

# (importing module, imported module) -> why: the honest exceptions. None today.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upper(name: str) -> bool:
    return any(name == u or name.startswith(u + ".") or name.startswith(u + "_") for u in UPPER)


def domain_files() -> list[Path]:
    return sorted(f for d in DOMAIN for f in (PACKAGE / d).rglob("*.py"))


def test_the_domain_packages_exist() -> None:
    for d in DOMAIN:
        assert (PACKAGE / d / "__init__.py").is_file(), d
    assert len(domain_files()) > 50


@pytest.mark.parametrize("path", domain_files(), ids=module_name)
def test_domain_module_imports_no_upper_layer(path: Path) -> None:
    module = module_name(path)
    allowed = [imported for (importer, imported) in EXCEPTIONS if importer == module]
    bad = sorted(
        name
        for name in imports_of(path)
        if upper(name) and not any(name.startswith(a) for a in allowed)
    )
    assert not bad, f"{module} imports {', '.join(bad)}: pass what it needs in from proofmind.app"


def test_the_checker_sees_upward_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "proofmind")
    probe = tmp_path / "proofmind" / "provenance" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "import proofmind.cli.main\n"
        "if TYPE_CHECKING:\n    from proofmind.workspace import Workspace\n"
        "def f():\n    from ..app import records\n    from proofmind import demo_agent\n"
    )
    found = {n for n in imports_of(probe) if upper(n)}
    assert {"proofmind.cli.main", "proofmind.workspace", "proofmind.app"} <= found
    assert "proofmind.demo_agent" in found


def test_no_cycle_between_provenance_and_ownership() -> None:
    provenance = {i for f in (PACKAGE / "provenance").rglob("*.py") for i in imports_of(f)}
    assert not any(i.startswith("proofmind.ownership") for i in provenance)


def test_cli_and_demo_do_not_import_each_other() -> None:
    demo_files = [*PACKAGE.glob("demo*.py"), *(PACKAGE / "demo").rglob("*.py")]
    for f in demo_files:
        assert not any(i.startswith("proofmind.cli") for i in imports_of(f)), f.name
    for f in (PACKAGE / "cli").rglob("*.py"):
        found = {i for i in imports_of(f) if i.startswith("proofmind.demo")}
        # the `demo` command runs the demo: the CLI may call it, the demo never calls the CLI
        assert found <= {"proofmind.demo", "proofmind.demo.run_demo"}, (f.name, found)


def test_cli_and_api_meet_only_in_the_application_layer() -> None:
    """The CLI and the HTTP API both call ``proofmind.app``; neither calls the other, and the
    application layer calls neither (``serve`` only hosts the API app it is given)."""
    for f in (PACKAGE / "api").rglob("*.py"):
        assert not any(i.startswith("proofmind.cli") for i in imports_of(f)), f.name
    for f in (PACKAGE / "app").rglob("*.py"):
        bad = {i for i in imports_of(f) if i.startswith(("proofmind.cli", "proofmind.api"))}
        assert not bad, (f.name, bad)
    for f in (PACKAGE / "cli").rglob("*.py"):
        found = {i for i in imports_of(f) if i.startswith("proofmind.api")}
        assert found <= {"proofmind.api", "proofmind.api.create_app"}, (f.name, found)
