"""Simulation speed of the TaxoNN RTL: cocotb + Verilator vs a native Verilator C++ harness
vs cocotb + Icarus, on the same design and the same training job, side by side.

    .venv/bin/python benchmarks/taxonn_speed.py --samples 2000 --icarus-samples 50

The native harness is generated C++: it performs the same host transactions as
the cocotb testbench (load the parameters, then per step write the input, pulse
start, run to done) and checks the per-step cycle count and parameter checksum
against the golden model, so both sides do the same work. Both Verilator
builds use -O3. Cycles per second = simulated cycles / wall time of the whole
simulation run (process start to exit; builds excluded). Prints JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accel.taxonn import TaxoNN
from models.datasets import load_digits, sample_order
from models.taxonn import TaxoNNConfig, TaxoNNGolden
from rtl.verilog import generate_verilog
from sim.runner import require_simulator, _verilator_make_overrides
from sim.taxonn_host import training_job
from sim.taxonn_run import simulate_taxonn

_HARNESS = r"""
#include "Vtaxonn.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>

static const uint64_t LOADS[][3] = { %(loads)s };
static const uint64_t INPUTS[][3] = { %(inputs)s };   // sel, addr, data per input word, all steps
static const uint32_t STEP_WORDS = %(step_words)d;
static const uint32_t LABELS[] = { %(labels)s };
static const uint32_t CHECKSUMS[] = { %(checksums)s };
static const uint32_t EXPECTED_CYCLES = %(cycles)d;
static const uint32_t STEPS = %(steps)d;

static Vtaxonn* top;
static uint64_t ticks = 0;
static void tick() { top->clk = 0; top->eval(); top->clk = 1; top->eval(); ++ticks; }
static void write(uint32_t sel, uint32_t addr, uint64_t data) {
    top->mem_sel = sel; top->mem_addr = addr; top->mem_wdata = data; top->mem_we = 1; tick(); top->mem_we = 0;
}

int main(int argc, char** argv) {
    auto t0 = std::chrono::steady_clock::now();
    top = new Vtaxonn;
    top->rst = 1; tick(); tick(); top->rst = 0;
    for (auto& w : LOADS) write(w[0], w[1], w[2]);
    uint64_t cycles = 0, mismatches = 0;
    for (uint32_t s = 0; s < STEPS; ++s) {
        for (uint32_t k = 0; k < STEP_WORDS; ++k) {
            const uint64_t* w = INPUTS[s * STEP_WORDS + k];
            write(w[0], w[1], w[2]);
        }
        top->label = LABELS[s]; top->train = 1; top->start = 1; tick(); top->start = 0;
        uint32_t guard = 0;
        while (!top->done) { tick(); if (++guard > 10 * EXPECTED_CYCLES + 100) { std::printf("{\"error\": \"done never rose\"}\n"); return 1; } }
        cycles += top->cycles;
        if (top->cycles != EXPECTED_CYCLES || top->checksum != CHECKSUMS[s]) ++mismatches;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"cycles\": %%llu, \"ticks\": %%llu, \"seconds\": %%.6f, \"mismatches\": %%llu}\n",
                (unsigned long long)cycles, (unsigned long long)ticks, secs, (unsigned long long)mismatches);
    delete top;
    return mismatches ? 1 : 0;
}
"""


def _native(cfg, job, workdir):
    require_simulator("verilator")
    verilog = Path(workdir) / "taxonn.v"
    verilog.write_text(generate_verilog(TaxoNN(cfg), "taxonn"))
    inputs = [w for step in job["inputs"] for w in step]
    step_words = len(job["inputs"][0])
    if any(int(w[2]) >= 1 << 64 for w in job["loads"] + inputs):
        raise ValueError("the native harness handles memory words of at most 64 bits; use a smaller P")
    src = _HARNESS % {
        "loads": ", ".join(f"{{{s}u, {a}u, {d}ull}}" for s, a, d in job["loads"]),
        "inputs": ", ".join(f"{{{s}u, {a}u, {d}ull}}" for s, a, d in inputs),
        "step_words": step_words, "labels": ", ".join(map(str, job["labels"])),
        "checksums": ", ".join(f"{c}u" for c in job["expected_checksums"]),
        "cycles": job["expected_cycles"], "steps": len(job["labels"]),
    }
    (Path(workdir) / "main.cpp").write_text(src)
    env = dict(os.environ)
    overrides = _verilator_make_overrides()
    if overrides:
        env["MAKEFLAGS"] = " ".join(overrides)
    t0 = time.monotonic()
    build = subprocess.run(["verilator", "--cc", "--exe", "--build", "-O3", "-CFLAGS", "-O3", "-Wno-fatal",
                    "-Wno-lint", "-Wno-style", "--top-module", "taxonn", "-Mdir", "obj", str(verilog),
                    "main.cpp"], cwd=workdir, env=env, capture_output=True, text=True)
    if build.returncode:
        raise RuntimeError("native harness build failed:\n" + (build.stdout + build.stderr)[-3000:])
    build_s = time.monotonic() - t0
    t0 = time.monotonic()
    out = subprocess.run([str(Path(workdir) / "obj" / "Vtaxonn")], capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(wall_s=wall, build_s=build_s)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--icarus-samples", type=int, default=50)
    ap.add_argument("--layers", default="64,32,10")
    ap.add_argument("--pes", type=int, default=4)
    args = ap.parse_args(argv)
    cfg = TaxoNNConfig(layers=tuple(int(v) for v in args.layers.split(",")), pes=args.pes, lr_shift=4)
    digits = load_digits()
    idx = sample_order(len(digits.x_train), args.samples, seed=0)
    job = training_job(TaxoNNGolden(cfg), digits.x_train[idx], digits.y_train[idx],
                       check_every=args.samples)
    figures = {"config": cfg.to_json(), "samples": args.samples}
    with tempfile.TemporaryDirectory() as tmp:
        native = _native(cfg, job, tmp)
        print(f"[speed] native Verilator: {native['cycles']} cycles in {native['wall_s']:.2f} s", file=sys.stderr)
        cocotb_v = simulate_taxonn(cfg, digits, "verilator", Path(tmp) / "v", samples=args.samples)
        print(f"[speed] cocotb + Verilator: {cocotb_v['cycles']} cycles in {cocotb_v['run_s']:.2f} s", file=sys.stderr)
        cocotb_i = simulate_taxonn(cfg, digits, "icarus", Path(tmp) / "i", samples=args.icarus_samples)
        print(f"[speed] cocotb + Icarus: {cocotb_i['cycles']} cycles in {cocotb_i['run_s']:.2f} s", file=sys.stderr)
    native_cps = native["cycles"] / native["wall_s"]  # same measure as the cocotb runs
    figures.update({
        "native_verilator": {"cycles": native["cycles"], "ticks": native["ticks"], "wall_s": round(native["wall_s"], 3),
                             "cycles_per_s": round(native_cps), "mismatches": native["mismatches"],
                             "build_s": round(native["build_s"], 1)},
        "cocotb_verilator": {"cycles": cocotb_v["cycles"], "run_s": cocotb_v["run_s"],
                             "cycles_per_s": cocotb_v["cycles_per_s"], "mismatches": cocotb_v["mismatches"],
                             "build_s": cocotb_v["build_s"]},
        "cocotb_icarus": {"samples": args.icarus_samples, "cycles": cocotb_i["cycles"], "run_s": cocotb_i["run_s"],
                          "cycles_per_s": cocotb_i["cycles_per_s"], "mismatches": cocotb_i["mismatches"]},
    })
    figures["cocotb_vs_native"] = round(cocotb_v["cycles_per_s"] / native_cps, 3)
    figures["icarus_vs_verilator_cocotb"] = round(cocotb_i["cycles_per_s"] / cocotb_v["cycles_per_s"], 4)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
