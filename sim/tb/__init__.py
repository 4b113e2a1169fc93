"""cocotb testbench modules and their shared helpers.

Testbench modules are imported inside the simulator process; they read their
parameters with `tb_params` (JSON passed by `sim.runner.run_cocotb`).
"""

import json
import os

__all__ = ["tb_params"]


def tb_params():
    """The parameters `run_cocotb` passed to this testbench."""
    return json.loads(os.environ.get("BITFORGE_TB_PARAMS", "{}"))
