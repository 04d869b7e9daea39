"""The fault suite's stack: one private PostgreSQL cluster and Redis per session, a fresh database per test
(copied from a migrated template), processes per test, everything stopped and removed afterwards."""

import re
import shutil
import uuid

import pytest

from tests.faults.stack import Stack


def pytest_collection_modifyitems(config, items):
    """Run only when asked for (`-m faults`, as make test-faults does): a plain `pytest -m "not e2e"` elsewhere
    must not start clusters and kill processes for ten minutes."""
    if re.search(r"(?<!not )\bfaults\b", config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="fault tests run only with -m faults (make test-faults)")
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack():
    missing = [tool for tool in ("redis-server", "pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the fault suite needs {', '.join(missing)} (make test-faults installs them)")
    stack = Stack()
    try:
        stack.pg_init()
        stack.redis_start()
        stack.create_db("template_app")
        stack.manage("template_app", "migrate", "--noinput")
        yield stack
    finally:
        stack.close()


@pytest.fixture
def db_name(stack):
    """A fresh, migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    stack.create_db(name, template="template_app")
    yield name
    # The test's web and worker processes stop with it: left running, they would poll the broker and compete
    # for the CPU through every later test.
    stack.stop_processes()
