"""`bitforge ppa` on any Verilog: a small MAC, end to end, and every bad input refused before synthesis."""

import gzip
import json
import re
import shutil
import subprocess

import pytest

from bitforge.cli import main

_MAC = """module mac(input clk, input rst, input [7:0] a, input [7:0] b, output reg [19:0] acc);
  always @(posedge clk) if (rst) acc <= 0; else acc <= acc + a * b;
endmodule
"""


@pytest.fixture(scope="module")
def tools():
    from ppa.timing import find_sta
    from rtl.liberty import default_liberty
    from rtl.synth import find_yosys, ToolNotFound
    try:
        find_yosys()
        find_sta()
        liberty = default_liberty("sky130")
    except (ToolNotFound, FileNotFoundError) as e:
        pytest.skip(str(e))
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus not found; install it with: apt-get install -y iverilog")
    return liberty


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # usage errors, from argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_ppa_of_a_mac(tools, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    (tmp_path / "mac.v").write_text(_MAC)
    out = tmp_path / "r"
    code, stdout, err = run(capsys, "ppa", "--verilog", "mac.v", "--top", "mac", "--library", "sky130",
                            "--cycles", "120", "--out", "r", "--json", "--quiet")
    assert code == 0, err
    report = json.loads(stdout)
    tm = report["timing"]
    assert tm["met"] and report["clock_mhz"] <= tm["fmax_mhz"] < report["clock_mhz"] + 0.1
    assert tm["clock_source"].startswith("the design's own fmax")
    assert tm["slew_violations"] == 0 and tm["capacitance_violations"] == 0
    assert report["workload"]["cycles_per_step"] == 1 and report["workload"]["steps"] >= 120
    assert report["power_mw"]["dynamic"] > 0 and report["area_um2"]["total"] > 0
    assert report["activity"]["nets"]["charged"] > 0
    for name in ("report.json", "report.md", "report.html", "activity.saif", "netlist/netlist_mapped.v",
                 "netlist/constraints.sdc"):
        assert (out / name).stat().st_size > 0, name
    from tests.pages import check_written_pages
    check_written_pages(out, [out / "report.html"], forbidden=[str(tmp_path)])
    html = (out / "report.html").read_text()
    assert "Result check: none (no reference model for arbitrary Verilog)" in html
    assert '<a href="netlist/netlist_mapped.v">' in html and '<a href="activity.saif">' in html
    # the reported fmax, reproduced by an outside OpenSTA run on the written netlist and SDC
    lib = tmp_path / "lib.lib"
    lib.write_bytes(gzip.decompress(tools.read_bytes()))
    script = tmp_path / "outside.tcl"
    script.write_text(f"read_liberty {lib}\nread_verilog {out / 'netlist/netlist_mapped.v'}\nlink_design mac\n"
                      f"read_sdc {out / 'netlist/constraints.sdc'}\nreport_worst_slack\nexit\n")
    text = subprocess.run(["sta", "-no_splash", "-exit", str(script)], capture_output=True, text=True).stdout
    slack = float(re.search(r"worst slack\s+(-?[\d.]+)", text).group(1))
    period = float(re.search(r"create_clock.*-period\s+([\d.]+)", (out / "netlist/constraints.sdc").read_text())
                   .group(1))
    assert 1000 / (period - slack) == pytest.approx(tm["fmax_mhz"], rel=2e-3)


def test_ppa_clock_above_fmax(tools, tmp_path, capsys):
    src = tmp_path / "mac.v"
    src.write_text(_MAC)
    code, stdout, err = run(capsys, "ppa", "--verilog", str(src), "--top", "mac", "--library", "sky130",
                            "--cycles", "20", "--clock-mhz", "5000", "--out", str(tmp_path / "a"), "--json", "--quiet")
    assert code == 0 and json.loads(stdout)["timing"]["met"] is False
    code, _, err = run(capsys, "ppa", "--verilog", str(src), "--top", "mac", "--library", "sky130", "--cycles", "20",
                       "--clock-mhz", "5000", "--require-timing", "--out", str(tmp_path / "b"), "--quiet")
    assert code == 2 and "above the design's fmax" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["--clock-mhz", "0"], "argument --clock-mhz: must be a finite number above 0.0, not 0"),
    (["--clock-mhz", "nan"], "argument --clock-mhz: a clock in MHz is expected, not 'nan'"),
    (["--clock-mhz", "inf"], "argument --clock-mhz: a clock in MHz is expected, not 'inf'"),
    (["--top", "nosuch"], "no module 'nosuch' in"),
    (["--stimulus", "no_such_tests"], "is not an importable cocotb test module"),
    (["--cycles", "0"], "argument --cycles: must be at least 1, not 0"),
    (["--cycles", "1000001"], "--cycles must be between 1 and 1,000,000, not 1000001"),
])
def test_ppa_bad_input_is_one_line_before_synthesis(tools, tmp_path, capsys, monkeypatch, argv, message):
    from rtl import synth
    src = tmp_path / "mac.v"
    src.write_text(_MAC)

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesis started")

    monkeypatch.setattr(synth, "_synthesize", no_synthesis)
    base = {"--top": "mac"}
    base.update(dict(zip(argv[::2], argv[1::2])))
    args = ["ppa", "--verilog", str(src), "--library", "sky130", "--out", str(tmp_path / "o")]
    for k, v in base.items():
        args += [k, v]
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_ppa_verilog_that_does_not_synthesize(tools, tmp_path, capsys):
    src = tmp_path / "bad.v"
    src.write_text("module bad(input a, output b); assign b = a +; endmodule\n")
    code, _, err = run(capsys, "ppa", "--verilog", str(src), "--top", "bad", "--library", "sky130",
                       "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and f"{src}:1: ERROR: syntax error" in err and len(err.strip().splitlines()) == 1
