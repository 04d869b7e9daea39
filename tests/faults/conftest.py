"""The fault suite's stack: one private PostgreSQL cluster and Redis per session, a fresh database per test
(copied from a migrated template), processes per test, everything stopped and removed afterwards."""

import shutil
import uuid

import pytest

from tests.faults.stack import Stack


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
    return name
