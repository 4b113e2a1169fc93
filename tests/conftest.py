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


@pytest.fixture(scope="session", autouse=True)
def _private_build_dir(tmp_path_factory):
    """Simulator builds made through the CLI go to this session's directory, not .bitforge-build."""
    import os
    path = tmp_path_factory.mktemp("cli-build")
    old = os.environ.get("BITFORGE_BUILD_DIR")
    os.environ["BITFORGE_BUILD_DIR"] = str(path)
    yield path
    if old is None:
        del os.environ["BITFORGE_BUILD_DIR"]
    else:
        os.environ["BITFORGE_BUILD_DIR"] = old


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    """One build cache per test session, so identical designs are built once."""
    return tmp_path_factory.mktemp("rtl-build")
