"""Optional pytest fixtures over ``sessions_mgmt.testing``; enable them in a conftest.py with
``pytest_plugins = ["sessions_mgmt.pytest_plugin"]`` (pytest-django provides ``db``)."""

import pytest
from django.test import Client

from . import testing


@pytest.fixture
def device_client(db):
    """A factory: ``device_client(user, user_agent=..., ip=...)`` gives a signed-in Client."""

    def make(user, **device) -> Client:
        return testing.sign_in(Client(), user, **device)

    return make
