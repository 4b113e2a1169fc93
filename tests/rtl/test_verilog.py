import json

import pytest
from pyverilog.vparser.ast import ModuleDef
from pyverilog.vparser.parser import VerilogParser

from accel.blocks import build_block
from models.mulround import MulRoundConfig
from models.ternary_dot import TernaryDotConfig
from rtl.verilog import generate_verilog, port_inventory, write_design


def test_verilog_has_the_top_and_ports():
    text = generate_verilog(build_block("mulround", MulRoundConfig("8.4", "u6.6", "10.3")), "mr")
    assert "module mr(" in text
    for port in ("input [7:0] a;", "input [5:0] b;", "output [9:0] y;", "input clk;"):
        assert port in text


def test_pyverilog_parses_generated_verilog(tmp_path):
    text = generate_verilog(build_block("ternary_dot", TernaryDotConfig(4, "6.0")), "td")
    ast = VerilogParser(outputdir=str(tmp_path), debug=False).parse(text)
    modules = [d for d in ast.description.definitions if isinstance(d, ModuleDef)]
    assert [m.name for m in modules] == ["td"]


def test_port_inventory():
    block = build_block("ternary_dot", TernaryDotConfig(4, "6.0"))
    generate_verilog(block, "td")  # an Amaranth component must be elaborated once
    ports = {p["name"]: p for p in port_inventory(block)}
    assert ports["x"] == {"name": "x", "direction": "input", "width": 24, "signed": False}
    assert ports["codes"]["width"] == 8
    assert ports["y"]["direction"] == "output" and ports["y"]["signed"]


def test_write_design(tmp_path):
    cfg = MulRoundConfig()
    manifest = write_design(build_block("mulround", cfg), "mulround", tmp_path / "out", cfg.to_json())
    assert "module mulround(" in (tmp_path / "out" / "mulround.v").read_text()
    on_disk = json.loads((tmp_path / "out" / "mulround.json").read_text())
    assert on_disk == manifest
    assert on_disk["config"]["a_fmt"] == "8.4" and on_disk["tools"]["amaranth"].startswith("0.5")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mulround.json", "mulround.v"]


def test_bad_names():
    block = build_block("mulround", MulRoundConfig())
    with pytest.raises(ValueError, match="`name` must be a Verilog identifier, not '1x'"):
        generate_verilog(block, "1x")
    generate_verilog(block, "ok")
    with pytest.raises(TypeError, match="must be an amaranth wiring.Component, not int"):
        generate_verilog(3, "x")
