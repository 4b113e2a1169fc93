"""cocotb testbench: TaxoNN inference against the golden model (job from `sim.taxonn_host`).

Parameters: ``job``, the path of the JSON job; ``report`` (optional), where
the mismatch count and first divergence are written. Runs
`sim.drivers.taxonn_inference`: Python only loads memories and waits for
``done`` (one trigger per sample, bounded in time).
"""

import cocotb

from sim.drivers import taxonn_inference
from sim.tb import run_driver


@cocotb.test()
async def taxonn_inference_test(dut):
    await run_driver(dut, taxonn_inference, keep=("samples", "cycles"))
