"""Simulation speed of the TaxoNN RTL: cocotb + Verilator vs a native Verilator C++ harness
vs cocotb + Icarus, on the same design and the same training job, side by side.

    .venv/bin/python benchmarks/taxonn_speed.py --samples 10000 --icarus-samples 40 --repeat 3

Both Verilator sides simulate the same design, the stream harness of
`sim.taxonn_stream` around the accelerator (the job's inputs and labels in
simulation memories): the native C++ harness and the cocotb testbench each load
the parameters, start the stream, wait for done, and check every step's cycle
count and parameter checksum against the golden model. Both builds use -O3.
Icarus runs the same cocotb testbench. Cycles per second = simulated cycles / wall time of the whole
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

from models.datasets import load_digits, sample_order
from models.taxonn import TaxoNNConfig, TaxoNNGolden
from sim.runner import require_simulator, verilator_env
from sim.taxonn_host import training_job
from sim.taxonn_run import simulate_taxonn
from sim.taxonn_stream import stream_capacity, stream_verilog, write_stream_files

_HARNESS = r"""
#include "Vtop.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>

static const uint64_t LOADS[][3] = { %(loads)s };
static const uint32_t CHECKSUMS[] = { %(checksums)s };
static const uint32_t EXPECTED_CYCLES = %(cycles)d;
static const uint32_t STEPS = %(steps)d;
static const uint64_t BOUND = 10ull * STEPS * (EXPECTED_CYCLES + %(words)d + 1) + 100;

static Vtop* top;
static uint64_t ticks = 0;
static void tick() { top->clk = 0; top->eval(); top->clk = 1; top->eval(); ++ticks; }

int main(int argc, char** argv) {
    auto t0 = std::chrono::steady_clock::now();
    Verilated::commandArgs(argc, argv);  // +stream_inputs=... +stream_labels=...
    top = new Vtop;
    top->rst = 1; tick(); tick(); top->rst = 0;
    for (auto& w : LOADS) {
        top->mem_sel = w[0]; top->mem_addr = w[1]; top->mem_wdata = w[2]; top->mem_we = 1; tick();
    }
    top->mem_we = 0;
    top->n_steps = STEPS; top->run = 1; tick(); top->run = 0;
    while (!top->done) {
        tick();
        if (ticks > BOUND) { std::printf("{\"error\": \"done never rose\"}\n"); return 1; }
    }
    uint64_t cycles = 0, mismatches = 0;
    for (uint32_t s = 0; s < STEPS; ++s) {
        top->res_addr = s; top->eval();
        // {pred, cycles, checksum}: more than 64 bits, so Verilator gives 32-bit words
        uint32_t checksum = top->res_word[0], step_cycles = top->res_word[1];
        cycles += step_cycles;
        if (step_cycles != EXPECTED_CYCLES || checksum != CHECKSUMS[s]) ++mismatches;
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
    Path(workdir).mkdir(parents=True, exist_ok=True)
    verilog = Path(workdir) / "taxonn_stream.v"
    verilog.write_text(stream_verilog(cfg, stream_capacity(len(job["labels"]))))
    plusargs = write_stream_files(job, cfg, workdir)
    if any(int(w[2]) >= 1 << 64 for w in job["loads"]):
        raise ValueError("the native harness handles memory words of at most 64 bits; use a smaller P")
    src = _HARNESS % {
        "loads": ", ".join(f"{{{s}u, {a}u, {d}ull}}" for s, a, d in job["loads"]),
        "checksums": ", ".join(f"{c}u" for c in job["expected_checksums"]),
        "cycles": job["expected_cycles"], "steps": len(job["labels"]), "words": len(job["inputs"][0]),
    }
    (Path(workdir) / "main.cpp").write_text(src)
    exe, overlay = verilator_env()
    env = {**os.environ, **overlay}
    if "PATH" in overlay:
        env["PATH"] = overlay["PATH"] + os.pathsep + os.environ.get("PATH", "")
    t0 = time.monotonic()
    build = subprocess.run([exe, "--cc", "--exe", "--build", "-O3", "-CFLAGS", "-O3", "-Wno-fatal",
                    "-Wno-lint", "-Wno-style", "--top-module", "top", "-Mdir", "obj", str(verilog),
                    "main.cpp"], cwd=workdir, env=env, capture_output=True, text=True)
    if build.returncode:
        raise RuntimeError("native harness build failed:\n" + (build.stdout + build.stderr)[-3000:])
    build_s = time.monotonic() - t0

    def run():
        t0 = time.monotonic()
        out = subprocess.run([str(Path(workdir) / "obj" / "Vtop"), *plusargs], capture_output=True, text=True)
        wall = time.monotonic() - t0
        if out.returncode:
            raise RuntimeError(f"native harness failed: {(out.stdout + out.stderr)[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result.update(wall_s=wall, build_s=build_s)
        return result
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--icarus-samples", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3, help="native/cocotb pairs; the median ratio is reported")
    ap.add_argument("--layers", default="64,32,10")
    ap.add_argument("--pes", type=int, default=4)
    args = ap.parse_args(argv)
    cfg = TaxoNNConfig(layers=tuple(int(v) for v in args.layers.split(",")), pes=args.pes, lr_shift=4)
    digits = load_digits()
    idx = sample_order(len(digits.x_train), args.samples, seed=0)
    job = training_job(TaxoNNGolden(cfg), digits.x_train[idx], digits.y_train[idx],
                       check_every=args.samples)
    figures = {"config": cfg.to_json(), "samples": args.samples, "repeats": args.repeat}
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        native_run = _native(cfg, job, Path(tmp) / "native")
        for r in range(args.repeat):  # side by side, alternating, so load changes hit both
            native = native_run()
            print(f"[speed] native Verilator: {native['cycles']} cycles in {native['wall_s']:.2f} s", file=sys.stderr)
            cocotb_v = simulate_taxonn(cfg, digits, "verilator", Path(tmp) / "v", samples=args.samples)
            print(f"[speed] cocotb + Verilator: {cocotb_v['cycles']} cycles in {cocotb_v['run_s']:.2f} s",
                  file=sys.stderr)
            pairs.append((native, cocotb_v))
        cocotb_i = simulate_taxonn(cfg, digits, "icarus", Path(tmp) / "i", samples=args.icarus_samples)
        print(f"[speed] cocotb + Icarus: {cocotb_i['cycles']} cycles in {cocotb_i['run_s']:.2f} s", file=sys.stderr)
    ratios = [c["cycles_per_s"] / (n["cycles"] / n["wall_s"]) for n, c in pairs]
    r_med = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    native, cocotb_v = pairs[r_med]
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
    figures["cocotb_vs_native_each"] = [round(r, 3) for r in ratios]
    figures["cocotb_vs_native"] = round(ratios[r_med], 3)  # the median pair, shown above
    figures["icarus_vs_verilator_cocotb"] = round(cocotb_i["cycles_per_s"] / cocotb_v["cycles_per_s"], 4)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
