"""Host transactions and expected results for the TaxoNN RTL, written once for every simulator.

`inference_job` turns a golden model and input samples into: the memory
writes that load the parameters, one input-buffer write list per sample, and
the golden model's outputs, predictions and cycle count. `run_inference_amaranth`
drives them in Amaranth's simulator; `sim.tb.taxonn_tb` drives the same job
in cocotb (Verilator, Icarus).
"""

import numpy as np

from models.taxonn import schedule

__all__ = ["inference_job", "check_inference", "run_inference_amaranth"]


def inference_job(golden, xs):
    """A JSON-serializable job: loads, per-sample inputs, expected results."""
    cfg = golden.cfg
    from accel.taxonn import MemoryMap
    mp = MemoryMap(cfg)
    wmask = (1 << cfg.w_fmt.total) - 1
    loads = []
    for l, (w, b) in enumerate(golden.params):
        loads += [[mp.sel_weights(l), a, word] for a, word in enumerate(mp.weight_words(l, w))]
        loads += [[mp.sel_bias(l), a, int(v) & wmask] for a, v in enumerate(b)]
    codes = golden.input_codes(np.asarray(xs))
    outputs, preds = golden.infer(np.asarray(xs))
    return {
        "loads": loads,
        "inputs": [[[mp.sel_act(0), a, word] for a, word in enumerate(mp.act_words(c))] for c in codes],
        "out_sel": mp.sel_act(cfg.n_layers),
        "out_words": -(-cfg.layers[-1] // cfg.pes),
        "n_out": cfg.layers[-1], "pes": cfg.pes, "a_bits": cfg.a_fmt.total,
        "expected_outputs": outputs.tolist(), "expected_preds": preds.tolist(),
        "expected_cycles": schedule(cfg, inference=True)["total"],
    }


def _codes(job, words):
    from accel._fixed import unpack_lanes
    return unpack_lanes(words, job["a_bits"], job["pes"])[:job["n_out"]]


def check_inference(job, results):
    """``(mismatches, first)`` over samples: outputs, prediction, cycles; ``results`` per sample
    is ``(output words, pred, cycles)``."""
    mismatches, first = 0, None
    for s, (words, pred, cycles) in enumerate(results):
        got = _codes(job, words)
        want = job["expected_outputs"][s]
        problems = [f"output {k}: expected {w}, got {g}" for k, (w, g) in enumerate(zip(want, got)) if w != g]
        if pred != job["expected_preds"][s]:
            problems.append(f"prediction: expected {job['expected_preds'][s]}, got {pred}")
        if cycles != job["expected_cycles"]:
            problems.append(f"cycles: expected {job['expected_cycles']}, got {cycles}")
        mismatches += len(problems)
        if problems and first is None:
            first = f"sample {s}, output layer: {problems[0]}"
    if len(results) != len(job["inputs"]):
        mismatches += 1
        first = first or f"expected {len(job['inputs'])} results, got {len(results)}"
    return mismatches, first


def run_inference_amaranth(dut, job):
    """Drive ``job`` (`sim.drivers.taxonn_inference`) through a `accel.taxonn.TaxoNN` in Amaranth's
    simulator; return the per-sample ``(output words, pred, cycles)``."""
    from .drivers import run_amaranth, taxonn_inference
    return run_amaranth(dut, taxonn_inference, job)["results"]


class AmaranthHost:
    """The host interface (`sim.drivers`) driven from an Amaranth testbench context."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    def set(self, port, value):
        self.ctx.set(getattr(self.dut, port), value)

    def get(self, port):
        return self.ctx.get(getattr(self.dut, port))

    async def write(self, sel, addr, data):
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.mem_sel, sel)
        ctx.set(dut.mem_addr, addr)
        ctx.set(dut.mem_wdata, data)
        ctx.set(dut.mem_we, 1)
        await ctx.tick()
        ctx.set(dut.mem_we, 0)

    async def read(self, sel, count):
        words = []
        for addr in range(count):
            self.ctx.set(self.dut.mem_sel, sel)
            self.ctx.set(self.dut.mem_addr, addr)
            await self.ctx.tick()
            words.append(self.ctx.get(self.dut.mem_rdata))
        return words

    async def run(self, bound, what, expected_cycles=None):
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(bound):
            if ctx.get(dut.done):
                return
            await ctx.tick()
        raise AssertionError(f"{what}: done never rose within {bound} cycles")


def _simulate(dut, bench):
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def training_job(golden, xs, labels, *, check_every=1):
    """A training job: loads, per step the input writes and label, and the golden model's
    parameters after every ``check_every``-th step (and the last). Runs ``golden`` forward."""
    cfg = golden.cfg
    from accel.taxonn import MemoryMap
    mp = MemoryMap(cfg)
    job = inference_job(golden, xs[:1])
    job.update({"labels": [int(y) for y in labels], "checks": {}, "expected_preds": [],
                "expected_cycles": schedule(cfg)["total"],
                "inputs": [[[mp.sel_act(0), a, w] for a, w in enumerate(mp.act_words(c))]
                           for c in golden.input_codes(np.asarray(xs))]})
    layout = []
    for l in range(cfg.n_layers):
        layout.append({"w_sel": mp.sel_weights(l), "w_words": cfg.layers[l + 1] * mp.chunks[l],
                       "b_sel": mp.sel_bias(l), "b_words": cfg.layers[l + 1]})
    job["layout"] = layout
    job["expected_checksums"] = []
    for step, (x, y) in enumerate(zip(xs, labels)):
        result = golden.step(x, y)
        job["expected_preds"].append(result.prediction)
        job["expected_checksums"].append(mp.checksum(golden.params))
        if (step + 1) % check_every == 0 or step == len(xs) - 1:
            job["checks"][str(step)] = [
                {"w": mp.weight_words(l, w), "b": [int(v) & ((1 << cfg.w_fmt.total) - 1) for v in b]}
                for l, (w, b) in enumerate(golden.params)]
    return job


def check_training_step(job, step, pred, cycles, params, checksum=None):
    """Problems after training step ``step`` (list of messages, first divergence first)."""
    problems = []
    if checksum is not None and checksum != job["expected_checksums"][step]:
        problems.append(f"step {step}: parameter checksum expected {job['expected_checksums'][step]:#010x}, "
                        f"got {checksum:#010x}")
    if cycles != job["expected_cycles"]:
        problems.append(f"step {step}: cycles expected {job['expected_cycles']}, got {cycles}")
    if pred != job["expected_preds"][step]:
        problems.append(f"step {step}: prediction expected {job['expected_preds'][step]}, got {pred}")
    want = job["checks"].get(str(step))
    if want is not None:
        for l, (exp, got) in enumerate(zip(want, params), 1):
            for kind in ("w", "b"):
                for index, (e, g) in enumerate(zip(exp[kind], got[kind])):
                    if e != g:
                        what = "weight word" if kind == "w" else "bias"
                        problems.append(f"step {step}, layer {l}, update phase, {what} {index}: "
                                        f"expected {e:#x}, got {g:#x}")
                        break
    return problems


def run_training_amaranth(dut, job):
    """Drive a training job (`sim.drivers.taxonn_training`) in Amaranth's simulator; return
    ``(mismatches, first)``."""
    from .drivers import run_amaranth, taxonn_training
    report = run_amaranth(dut, taxonn_training, job)
    return report["mismatches"], report["first_mismatch"]
