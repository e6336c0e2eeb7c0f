"""The repository's layout, checked: every module of the layer packages is placed in
docs/architecture.md, and the suite, the benchmarks and the scripts need nothing outside the
clone."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

LAYERS = ("core", "adapters", "services", "web")
MAX_PUBLIC_METHODS = 15
# About 500 (ARCHITECTURE.md); one cohesive table such as a schema may take a little more.
MAX_MODULE_LINES = 520
ARCHITECTURE = REPO / "docs" / "architecture.md"
SELF_CONTAINED = ("tests", "bench", "scripts")
# Spelled in pieces, so that this file does not contain what it looks for.
OUTSIDE_THE_CLONE = (".." + "/shared", "shared" + "/testdata")


def real_modules() -> set[str]:
    """Every module of the package, as a path inside the repository."""
    return {path.relative_to(REPO).as_posix()
            for path in (REPO / "gateway").rglob("*.py") if "__pycache__" not in path.parts}


def drawn_modules(text: str) -> set[str]:
    """The modules the tree drawing in docs/architecture.md names: two spaces per level, a
    folder (`name/`) alone on its line, the files on a line belong to the folder above."""
    block = text.split("```\ngateway/\n", 1)[1].split("```", 1)[0]
    folders = ["gateway"]
    drawn = set()
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        if words[0].endswith("/"):
            folders = [*folders[:depth], words[0].rstrip("/")]
        else:
            drawn.update("/".join([*folders[:depth], word]) for word in words)
    return drawn


def files_under(folder: Path) -> list[Path]:
    return [path for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts]


def test_the_drawing_reads_a_known_tree() -> None:
    drawn = drawn_modules("```\ngateway/\n  app.py\n  web/\n    proxy.py middleware.py\n```")
    assert drawn == {"gateway/app.py", "gateway/web/proxy.py", "gateway/web/middleware.py"}


def test_the_architecture_doc_draws_the_real_tree() -> None:
    drawn = drawn_modules(ARCHITECTURE.read_text(encoding="utf-8"))
    real = real_modules()
    assert sorted(real - drawn) == [], "modules missing from the drawing"
    assert sorted(drawn - real) == [], "the drawing names modules that do not exist"


def test_the_top_level_holds_only_the_layers_and_four_modules() -> None:
    top = {path.name for path in (REPO / "gateway").iterdir() if path.name != "__pycache__"}
    assert top == {"__init__.py", "__main__.py", "app.py", "cli.py", *LAYERS}


def test_tests_bench_and_scripts_need_nothing_outside_the_clone() -> None:
    found = [
        f"{path.relative_to(REPO)} mentions {needle!r}"
        for folder in SELF_CONTAINED
        for path in files_under(REPO / folder)
        for needle in OUTSIDE_THE_CLONE
        if needle.encode() in path.read_bytes()
    ]
    assert found == []


def test_the_geoip_test_databases_are_in_the_clone_with_their_licences() -> None:
    geoip = REPO / "tests" / "data" / "geoip"
    names = {path.name for path in files_under(geoip)}
    assert {"GeoLite2-City-Test.mmdb", "GeoLite2-Country-Test.mmdb", "GeoLite2-ASN-Test.mmdb",
            "LICENSE-MIT", "LICENSE-APACHE", "README.md"} <= names
    assert "github.com/maxmind/MaxMind-DB" in (geoip / "README.md").read_text(encoding="utf-8")


def public_methods(tree: ast.Module) -> dict[str, int]:
    return {
        node.name: sum(1 for item in node.body
                       if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                       and not item.name.startswith("_"))
        for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
    }


def test_no_class_has_more_than_fifteen_public_methods() -> None:
    crowded = {
        f"{module}:{name}": count
        for module in sorted(real_modules())
        for name, count in public_methods(ast.parse((REPO / module).read_text())).items()
        if count > MAX_PUBLIC_METHODS
    }
    assert crowded == {}


def test_no_module_is_much_over_five_hundred_lines() -> None:
    long = {module: lines for module in sorted(real_modules())
            if (lines := len((REPO / module).read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}
