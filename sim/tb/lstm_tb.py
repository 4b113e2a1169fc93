"""cocotb testbench: the BT-LSTM accelerator against the golden model.

Parameters: ``job``, a JSON job from `sim.lstm_host.lstm_job`; ``report``
(optional). Loads the parameters; per sequence and time step writes the input
words, pulses ``start`` (``first`` on the first step), waits for ``done``
with one bounded trigger, reads back h and checks every unit and the cycle
count.
"""

import cocotb

from sim.tb import host_write, host_read, host_run, start_job, write_report
from sim.lstm_host import check_lstm_step, h_codes


@cocotb.test()
async def lstm_sequences(dut):
    params, job = await start_job(dut, ("mem_we", "start", "first"))
    problems, hs, cycles_seen = [], [], []
    for n, seq in enumerate(job["inputs"]):
        hs.append([])
        for t, writes in enumerate(seq):
            for sel, addr, data in writes:
                await host_write(dut, sel, addr, data)
            dut.first.value = int(t == 0)
            await host_run(dut, 10 * job["expected_cycles"] + 100, f"sequence {n}, time step {t}",
                           job["expected_cycles"])
            cycles = int(dut.cycles.value)
            cycles_seen.append(cycles)
            words = await host_read(dut, job["h_sel"], job["h_chunks"])
            hs[-1].append(h_codes(job, words))
            problems.extend(check_lstm_step(job, n, t, words, cycles))
    first = problems[0] if problems else None
    write_report(params, {"mismatches": len(problems), "first_mismatch": first, "cycles": cycles_seen, "h": hs})
    assert not problems, f"{len(problems)} mismatches; first: {first}"
