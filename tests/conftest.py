"""Shared fixtures: simulator availability (skips carry the install command)."""

import shutil

import pytest

from rtl.liberty import default_liberty
from rtl.synth import YOSYS_HINT
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


@pytest.fixture(scope="module")
def sky130():
    """sky130's Liberty file; absent, a skip naming where it is expected."""
    try:
        return default_liberty("sky130")
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def tools(sky130):
    """sky130's Liberty file, with Yosys on the path to synthesize against it (or a skip with the install command)."""
    if shutil.which("yosys") is None:
        pytest.skip(f"Yosys not found; install it with: {YOSYS_HINT}")
    return sky130
