"""Fixtures of the integration tests: applications made for a test, and the gateway as a process."""

from __future__ import annotations

import pytest

from tests.support.apps import TestApps
from tests.support.providers import free_port
from tests.support.waiting import http_status, wait_until


@pytest.fixture
def made(fleet, settings):
    """Applications (RabbitMQ users) made by the test, or named for it; deleted afterwards."""
    apps = TestApps(settings)
    yield apps
    apps.delete_all()


@pytest.fixture
def apps(made):
    """`apps(label)`: a new application, through the code of `switchboard apps add`."""
    return made.add


@pytest.fixture
def serve(fleet, service_env):
    """`serve(**env)`: the gateway as a process on a free port; its base URL once it is ready."""

    def start(**env) -> str:
        port = free_port()
        fleet("gateway", command=("serve", "--port", str(port)), **env)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_status(f"{base}/readyz") == 200, timeout=30, message="the gateway never got ready")
        return base

    return start
