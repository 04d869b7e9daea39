"""bench/ builds its data with consent.builders, like seed_demo and the tests, and leans on nothing private."""

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def imported_names(path: Path) -> list[str]:
    """Every `module` and `module.name` a file imports, at any depth (bench imports inside functions)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_there_are_benchmarks_to_check():
    assert {path.name for path in SCRIPTS} >= {"common.py", "artifacts.py", "verify.py"}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_a_benchmark_imports_nothing_from_the_tests_and_no_private_name(path):
    names = imported_names(path)
    assert [name for name in names if name == "tests" or name.startswith("tests.")] == []
    assert [name for name in names if any(part.startswith("_") for part in name.split("."))] == []


def test_the_benchmarks_build_their_cast_with_the_shared_builders():
    assert "consent.builders" in imported_names(BENCH / "common.py")
