"""Library functions behind the CLI's generate and simulate commands, shared with the demo.

The CLI parses options and prints; these do the work, so the demo and the
tests call them without going through argument parsing.
"""

import json
import time

__all__ = ["write_generated", "simulate_block"]


def write_generated(make_design, name, cfg, out_dir, figures):
    """Write ``OUT/<name>.v`` and ``OUT/config.json`` (config, ports, tools, ``figures``); return the manifest.

    ``make_design()`` is called once the output directory is known to be writable (an Amaranth
    design built and never elaborated warns when it is collected)."""
    from rtl.verilog import generate_verilog, port_inventory, tool_versions
    from quant.fsio import atomic_write_json, atomic_write_text, ensure_dir
    out = ensure_dir(out_dir)
    design = make_design()
    atomic_write_text(out / f"{name}.v", generate_verilog(design, name))
    manifest = {"config": cfg.to_json(), "ports": port_inventory(design), "tools": tool_versions(), **figures,
                "files": [str(out / f"{name}.v"), str(out / "config.json")]}
    atomic_write_json(out / "config.json", manifest)
    return manifest


def simulate_block(block, cfg, sim, out_dir, *, seed=0, n_random=None, build_root=None):
    """Check block RTL against its golden model on ``sim``; write ``out_dir/sim.json``."""
    from accel.blocks import build_block
    from quant.fsio import ensure_dir, atomic_write_json
    from sim.vectors import block_vectors, compare_outputs, MIN_RANDOM
    if sim != "amaranth":
        from sim.runner import require_simulator
        require_simulator(sim)  # before any design is built
    out = ensure_dir(out_dir).resolve()  # the testbench runs in the build directory
    vectors = block_vectors(block, cfg, seed=seed, n_random=n_random or MIN_RANDOM)
    t0 = time.monotonic()
    if sim == "amaranth":
        from sim.amaranth_sim import run_vectors_amaranth
        outputs = run_vectors_amaranth(build_block(block, cfg), vectors)
        mismatches, first = compare_outputs(vectors, outputs)
        passed, message = mismatches == 0, first
    else:
        from sim.runner import run_cocotb
        vec_path, tb_report = out / "vectors.json", out / "tb_report.json"
        atomic_write_json(vec_path, vectors.to_json())
        tb_report.unlink(missing_ok=True)
        result = run_cocotb(build_block(block, cfg), sim=sim, test_module="sim.tb.vectors_tb",
                            name=block, build_root=build_root,
                            params={"vectors": str(vec_path), "report": str(tb_report),
                                    "signed": {"y": cfg.out_fmt.signed}})
        if tb_report.exists():
            checked = json.loads(tb_report.read_text())
            mismatches, message = checked["mismatches"], checked["first_mismatch"]
        else:  # the testbench died before comparing
            mismatches, message = None, result.summary()
        passed = result.passed and mismatches == 0
    wall = time.monotonic() - t0
    report = {
        "block": block, "config": cfg.to_json(), "simulator": sim, "vectors": len(vectors),
        "exhaustive": vectors.exhaustive, "mismatches": mismatches, "first_mismatch": message,
        "passed": passed, "wall_s": round(wall, 3),
    }
    atomic_write_json(out / "sim.json", report)
    return report
