"""Shared fixtures: simulator availability (skips carry the install command)."""

import pytest

from sim.runner import simulator_status, SIMULATORS


@pytest.fixture(params=SIMULATORS)
def simulator(request):
    """Each RTL test runs once per simulator; a missing one skips with its install command."""
    ok, message = simulator_status(request.param)
    if not ok:
        pytest.skip(message)
    return request.param


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    """One build cache per test session, so identical designs are built once."""
    return tmp_path_factory.mktemp("rtl-build")
