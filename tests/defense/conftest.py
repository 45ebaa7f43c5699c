"""The two people who switch lockdown in the defence tests, each with an authenticator."""

import pytest

from ajeya.core.roles import Role
from tests.defense.test_lockdown import defender


@pytest.fixture
def priya(make_user):
    return defender(make_user, "priya", full_name="Priya Nair")


@pytest.fixture
def arun(make_user):
    return defender(make_user, "arun", Role.HOSPITAL_ADMIN, full_name="Arun Mehta")
