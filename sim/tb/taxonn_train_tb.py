"""cocotb testbench: TaxoNN online-SGD training against the golden model.

Parameters: ``job``, a JSON job from `sim.taxonn_host.training_job`;
``report`` (optional). Runs `sim.drivers.taxonn_training`: per step the
input, ``start`` with ``train`` and ``label``, one bounded wait, the cycle
count, prediction and parameter checksum checked, and where the job has a
check, every weight and bias word read back and compared.
"""

import cocotb

from sim.drivers import taxonn_training
from sim.tb import run_driver


@cocotb.test()
async def taxonn_training_test(dut):
    await run_driver(dut, taxonn_training, keep=("steps", "cycles", "final_params"))
