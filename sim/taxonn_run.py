"""Training TaxoNN on the RTL: the work behind ``bitforge simulate taxonn``."""

import time
from pathlib import Path


from quant.fsio import atomic_write_json, ensure_dir
from models.datasets import sample_order
from models.taxonn import TaxoNNGolden, schedule
from models.taxonn_train import save_params_npz
from .runner import run_job, VerilogText
from .taxonn_host import training_job
from .taxonn_stream import stream_capacity, stream_verilog, write_stream_files

__all__ = ["simulate_taxonn", "FULL_CHECK_LIMIT"]

#: Runs of at most this many steps read back and compare every parameter after
#: every step (per-step testbench); longer runs go through the stream harness
#: (`sim.taxonn_stream`) and compare the per-step checksum and everything at the end.
FULL_CHECK_LIMIT = 20


def simulate_taxonn(cfg, dataset, sim, out_dir, *, samples=200, seed=0, shuffle=True, vcd=None,
                    build_root=None, progress=None):
    """Train ``samples`` steps on the RTL and on the golden model; compare; write sim.json and npz."""
    from accel.taxonn import TaxoNN, MemoryMap
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"`samples` must be a positive integer, not {samples!r}")
    if dataset.features != cfg.layers[0] or cfg.layers[-1] != dataset.classes:
        raise ValueError(f"layers {','.join(map(str, cfg.layers))} do not fit {dataset.name}: "
                         f"it needs {dataset.features} inputs and {dataset.classes} outputs")
    out = ensure_dir(out_dir).resolve()  # the testbench runs in the build directory
    say = progress or (lambda message: None)
    golden = TaxoNNGolden(cfg)
    init = [(w.copy(), b.copy()) for w, b in golden.params]
    idx = sample_order(len(dataset.x_train), samples, seed=seed, shuffle=shuffle)
    say(f"golden model: {samples} training steps")
    job = training_job(golden, dataset.x_train[idx], dataset.y_train[idx],
                       check_every=1 if samples <= FULL_CHECK_LIMIT else samples)
    say(f"building and running the RTL on {sim}")
    t0 = time.monotonic()
    if samples <= FULL_CHECK_LIMIT:
        stream_files = []
        design, test_module, name, plusargs = TaxoNN(cfg), "sim.tb.taxonn_train_tb", "taxonn", []
    else:
        plusargs = write_stream_files(job, cfg, out)
        stream_files = [Path(arg.split("=", 1)[1]) for arg in plusargs]
        design = VerilogText(stream_verilog(cfg, stream_capacity(samples)))
        test_module, name = "sim.tb.taxonn_stream_tb", "taxonn-stream"
    try:
        result, report = run_job(design, job, out, sim=sim, test_module=test_module, name=name,
                                 build_root=build_root, optimize=True, waves=bool(vcd), plusargs=plusargs)
    finally:
        for path in stream_files:
            path.unlink(missing_ok=True)
    wall = time.monotonic() - t0
    mp = MemoryMap(cfg)
    cycles_model = samples * schedule(cfg)["total"]
    summary = {
        "simulator": sim, "samples": samples, "dataset": dataset.name, "seed": seed, "shuffle": shuffle,
        "config": cfg.to_json(),
        "cycles": int(sum(report["cycles"])), "cycles_model": cycles_model,
        "mismatches": report["mismatches"], "first_mismatch": report["first_mismatch"],
        "passed": result.passed and report["mismatches"] == 0,
        "wall_s": round(wall, 3), "run_s": round(result.run_s, 3), "build_s": round(result.build_s, 3),
        "cycles_per_s": round(sum(report["cycles"]) / result.run_s, 1) if result.run_s else None,
        "golden_test_accuracy": golden.accuracy(dataset.x_test, dataset.y_test),
    }
    if report["final_params"]:
        params = [(mp.weight_codes(l, p["w"]), mp.bias_codes(p["b"])) for l, p in enumerate(report["final_params"])]
        save_params_npz(out / "weights.npz", cfg, params)
        summary["test_accuracy"] = TaxoNNGolden(cfg, params).accuracy(dataset.x_test, dataset.y_test)
    save_params_npz(out / "init.npz", cfg, init)
    if vcd:
        waves = [p for p in Path(result.run_dir).glob("*.vcd")] + [p for p in Path(result.run_dir).glob("*.fst")]
        if waves:
            Path(vcd).write_bytes(waves[0].read_bytes())
            summary["vcd"] = str(vcd)
    atomic_write_json(out / "sim.json", summary)
    return summary
