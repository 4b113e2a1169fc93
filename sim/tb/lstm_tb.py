"""cocotb testbench: the BT-LSTM accelerator against the golden model.

Parameters: ``job``, a JSON job from `sim.lstm_host.lstm_job`; ``report``
(optional). Loads the parameters and runs `sim.drivers.lstm_sequences`: per
sequence and time step the input words, ``start`` (``first`` on the first
step), one bounded wait, h read back and checked with the cycle count.
"""

import cocotb

from sim.drivers import lstm_sequences
from sim.tb import run_driver


@cocotb.test()
async def lstm_sequences_test(dut):
    await run_driver(dut, lstm_sequences, keep=("cycles", "h"))
