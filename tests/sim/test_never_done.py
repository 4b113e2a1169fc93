"""A design that never signals done fails its testbench within a bounded number of cycles."""

import json

import numpy as np
import pytest

from accel.taxonn import TaxoNN
from models.taxonn import TaxoNNConfig, TaxoNNGolden, schedule
from rtl.verilog import generate_verilog, port_inventory
from sim.runner import VerilogText, run_cocotb
from sim.taxonn_host import training_job

CFG = TaxoNNConfig(layers=(64, 6, 10), pes=2)


def _stuck_verilog(cfg):
    """The TaxoNN RTL inside a wrapper whose ``busy`` stays high and ``done`` never rises."""
    design = TaxoNN(cfg)
    ports = [{"name": "clk", "direction": "input", "width": 1}, {"name": "rst", "direction": "input", "width": 1},
             *port_inventory(design)]
    decls = "\n".join(f"  {p['direction']} [{p['width'] - 1}:0] {p['name']};" for p in ports)
    conns = ", ".join(f".{p['name']}({p['name']})" for p in ports if p["name"] not in ("busy", "done"))
    return generate_verilog(design, "taxonn") + f"""
module stuck({", ".join(p["name"] for p in ports)});
{decls}
  taxonn inner({conns}, .busy(), .done());
  assign busy = 1'b1;
  assign done = 1'b0;
endmodule
"""


@pytest.mark.rtl
def test_training_testbench_fails_within_its_bound(simulator, tmp_path, build_root):
    rng = np.random.default_rng(0)
    job = training_job(TaxoNNGolden(CFG), rng.uniform(0, 1, (1, 64)), rng.integers(0, 10, 1))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(VerilogText(_stuck_verilog(CFG)), sim=simulator, toplevel="stuck",
                        test_module="sim.tb.taxonn_train_tb", name="stuck", build_root=build_root,
                        params={"job": str(tmp_path / "job.json"), "report": str(tmp_path / "r.json")})
    assert not result.passed
    bound = 10 * schedule(CFG)["total"] + 100
    assert f"step 0: done never rose within {bound} cycles" in result.summary()
    # the simulation stopped at the bound: the expected run, then the bounded wait, plus the set-up writes
    assert result.tests[0].sim_time_ns < 20 * (bound + schedule(CFG)["total"] + 10_000)
