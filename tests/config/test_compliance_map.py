"""docs/compliance.md: every row names tests, and every named test exists (a rename or deletion fails here)."""

import ast
import re
from pathlib import Path

from tests.conftest import REPO

MAP = Path(REPO, "docs", "compliance.md")
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def rows() -> list[str]:
    lines = [line for line in MAP.read_text().splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return lines[1:]  # the header


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_row_of_the_compliance_map_names_at_least_one_test():
    assert len(rows()) >= 15
    for row in rows():
        assert NODE_ID.search(row), f"no test for: {row[:80]}"


def missing_tests(text: str) -> list[str]:
    missing = []
    for path, name in NODE_ID.findall(text):
        file = Path(REPO, path)
        if not file.exists() or name not in defined_tests(file):
            missing.append(f"{path}::{name}")
    return missing


def test_every_test_the_compliance_map_names_exists():
    assert missing_tests(MAP.read_text()) == []


def test_a_renamed_or_removed_test_or_file_is_reported():
    text = (
        "| a | b | `tests/config/test_compliance_map.py::test_every_test_the_compliance_map_names_exists`, "
        "`tests/config/test_compliance_map.py::test_renamed_away`, `tests/gone/test_file.py::test_x` |"
    )
    assert missing_tests(text) == [
        "tests/config/test_compliance_map.py::test_renamed_away",
        "tests/gone/test_file.py::test_x",
    ]
