"""The host side of every accelerator job, written once for every simulator.

A driver is a coroutine ``driver(host, job) -> report`` that performs a JSON job
(`sim.lstm_host.lstm_job`, `sim.taxonn_host.inference_job`, `training_job`) through a
*host*: the memory-mapped interface the accelerators share. A host offers

- ``await host.write(sel, addr, data)``: one cycle with ``mem_we`` high;
- ``await host.read(sel, count)``: words 0 .. count-1 of memory ``sel``, one cycle each;
- ``await host.run(bound, what, expected_cycles)``: pulse ``start``, wait until the run is over
  (AssertionError naming ``what`` after ``bound`` cycles);
- ``host.set(port, value)`` and ``host.get(port)``: any other input or output port, by name.

Hosts exist for Amaranth's simulator (`sim.taxonn_host.AmaranthHost`), cocotb (`sim.tb.CocotbHost`,
Verilator and Icarus) and the compiled gate-level simulator (`ppa.native`). The report is a dict with
``mismatches``, ``first_mismatch``, ``problems`` (every message, first divergence first), ``cycles``
(per run) and the design's results.
"""

from .lstm_host import check_lstm_step, h_codes
from .taxonn_host import check_inference, check_training_step

__all__ = ["DRIVERS", "lstm_sequences", "taxonn_inference", "taxonn_training", "run_now", "run_amaranth", "load", "job_window", "HOST_INPUTS"]

#: the host-interface inputs a driver sets, held at 0 from the first cycle (a simulator that starts
#: them at x and one that starts them at 0 then see the same netlist)
HOST_INPUTS = ("mem_sel", "mem_addr", "mem_wdata", "mem_we", "start", "first", "train", "label")


async def lstm_sequences(host, job):
    """Per sequence and time step: write the inputs, pulse ``start`` (``first`` on step 0), read back h."""
    problems, hs, cycles_seen = [], [], []
    for n, seq in enumerate(job["inputs"]):
        hs.append([])
        for t, writes in enumerate(seq):
            for sel, addr, data in writes:
                await host.write(sel, addr, data)
            host.set("first", int(t == 0))
            await host.run(10 * job["expected_cycles"] + 100, f"sequence {n}, time step {t}",
                           job["expected_cycles"])
            cycles = host.get("cycles")
            cycles_seen.append(cycles)
            words = await host.read(job["h_sel"], job["h_chunks"])
            hs[-1].append(h_codes(job, words))
            problems.extend(check_lstm_step(job, n, t, words, cycles))
    return _report(problems, cycles=cycles_seen, h=hs)


async def taxonn_inference(host, job):
    """Per sample: write the input, run, read the output layer; outputs, prediction and cycles checked."""
    results = []
    for s, writes in enumerate(job["inputs"]):
        for sel, addr, data in writes:
            await host.write(sel, addr, data)
        await host.run(10 * job["expected_cycles"] + 100, f"sample {s}", job["expected_cycles"])
        pred, cycles = host.get("pred"), host.get("cycles")
        results.append((await host.read(job["out_sel"], job["out_words"]), pred, cycles))
    mismatches, first = check_inference(job, results)
    return {"mismatches": mismatches, "first_mismatch": first, "problems": [first] if first else [],
            "samples": len(results), "cycles": [r[2] for r in results], "results": results}


async def taxonn_training(host, job):
    """Per step: write the input, run with ``train`` and ``label``; cycles, prediction, parameter checksum
    and, where the job asks, every weight and bias word checked."""
    problems, cycles_seen, read = [], [], []
    for step, (writes, label) in enumerate(zip(job["inputs"], job["labels"])):
        for sel, addr, data in writes:
            await host.write(sel, addr, data)
        host.set("label", label)
        host.set("train", 1)
        await host.run(10 * job["expected_cycles"] + 100, f"step {step}", job["expected_cycles"])
        pred, cycles, checksum = host.get("pred"), host.get("cycles"), host.get("checksum")
        cycles_seen.append(cycles)
        read = []
        if str(step) in job["checks"]:
            for lay in job["layout"]:
                read.append({"w": await host.read(lay["w_sel"], lay["w_words"]),
                             "b": await host.read(lay["b_sel"], lay["b_words"])})
        problems.extend(check_training_step(job, step, pred, cycles, read, checksum))
    return _report(problems, steps=len(job["labels"]), cycles=cycles_seen, final_params=read)


def _report(problems, **results):
    return {"mismatches": len(problems), "first_mismatch": problems[0] if problems else None,
            "problems": problems, **results}


async def load(host, job):
    """The job's parameter loads (host writes)."""
    for sel, addr, data in job["loads"]:
        await host.write(sel, addr, data)


#: driver name -> coroutine function; a workload names its driver
DRIVERS = {"lstm": lstm_sequences, "taxonn-inference": taxonn_inference, "taxonn-training": taxonn_training}


def job_window(driver, job, runs):
    """The first ``runs`` runs of ``job`` in the unit its checks count (a time step for ``lstm``, a sample or a
    training step for TaxoNN), with the same loads and checks: an LSTM window ends inside a sequence when
    ``runs`` does (its first steps are checked as in the whole sequence)."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"`runs` must be a positive integer, not {runs!r}")
    out = dict(job)
    if driver == "lstm":
        inputs, left = [], runs
        for seq in job["inputs"]:
            if left <= 0:
                break
            inputs.append(seq[:left])
            left -= len(inputs[-1])
        out["inputs"] = inputs
        return out
    out["inputs"] = job["inputs"][:runs]
    if driver == "taxonn-training":
        out["labels"] = job["labels"][:runs]
    return out


def run_amaranth(dut, driver, job):
    """Load ``job`` and run ``driver`` on it in Amaranth's simulator; return the driver's report."""
    from .taxonn_host import AmaranthHost, _simulate
    out = {}

    async def bench(ctx):
        host = AmaranthHost(ctx, dut)
        await load(host, job)
        out.update(await driver(host, job))

    _simulate(dut, bench)
    return out


def run_now(coroutine):
    """Run a coroutine that never suspends (a host whose operations complete at once) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the driver waited on something its host does not provide (a host for run_now must "
                       "complete every operation at once)")
