import gzip

import pytest

from rtl.liberty import read_liberty, prepared_copy, cell_models, verilog_expr, LibertyError
from tests.hand_liberty import NAND2, library

_LIB = library("tiny", NAND2, r"""
  cell ("dff") {
    area : 20.0;
    leakage_power () { value : 1.0; when : "D"; }
    leakage_power () { value : 3.0; when : "!D"; }
    ff ("IQ", "IQN") { clocked_on : "CLK"; next_state : "D"; clear : "RESET_B'"; }
    pin ("CLK") { direction : "input"; capacitance : 0.001;
      internal_power () { rise_power ("scalar") { values ("0.02"); } fall_power ("scalar") { values ("0.01"); } } }
    pin ("D") { direction : "input"; capacitance : 0.001; }
    pin ("RESET_B") { direction : "input"; capacitance : 0.001; }
    pin ("Q") { direction : "output"; function : "IQ"; }
  }
  cell ("sky130_fd_sc_hd__lpflow_bleeder_1") { area : 1.0; }
""")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny.lib.gz"
    path.write_bytes(gzip.compress(_LIB.encode()))
    return path


def test_reads_cells_units_and_energies(tiny):
    lib = read_liberty(tiny)
    assert lib.name == "tiny" and lib.voltage == 1.5
    nand = lib.cell("nand2")
    assert nand.area == 4.0 and nand.leakage == 2.0
    assert nand.pins["A"].capacitance == 0.002 and nand.pins["Y"].function == "!(A&B)"
    # (rise + fall) / 2 at the 0.05 ns slew (both slew rows are equal here), at the net's load:
    # at 0 pF (0.010 + 0.006) / 2; at 0.1 pF (0.030 + 0.006) / 2; halfway between; past the table's end
    # extrapolated from its last segment: rise 0.050 at 0.2 pF
    y = nand.pins["Y"]
    assert y.energy == pytest.approx(0.008)
    assert y.energy_at(0.1) == pytest.approx(0.018)
    assert y.energy_at(0.05) == pytest.approx(0.013)
    assert y.energy_at(0.2) == pytest.approx((0.050 + 0.006) / 2)
    dff = lib.cell("dff")
    assert dff.leakage == 2.0  # mean of the conditional values
    assert dff.ff == {"kind": "ff", "state": ["IQ", "IQN"], "clocked_on": "CLK", "next_state": "D",
                      "clear": "RESET_B'"}
    assert dff.pins["CLK"].energy == pytest.approx(0.015)
    assert read_liberty(tiny).cells.keys() == lib.cells.keys()  # from the cache


_SKY130_INV_Y = {  # sky130_fd_sc_hd__inv_1, pin Y, related pin A: rows 2 and 3 of each table (slew
    # 0.0230505800 and 0.0531329300 ns), column 3 (load 0.0035653330 pF), copied from the library text
    "rise": (0.0128048000, 0.0125411000), "fall": (-0.0068641000, -0.0071223000)}


def test_internal_energy_is_the_table_read_by_hand():
    """sky130 inv_1's output energy at one of its table's loads: interpolated by hand between the two slew rows
    around the nominal 0.05 ns, (rise + fall) / 2."""
    from rtl.liberty import default_liberty, NOMINAL_SLEW_NS
    try:
        lib = read_liberty(default_liberty("sky130"))
    except FileNotFoundError as e:
        pytest.skip(str(e))
    t = (NOMINAL_SLEW_NS - 0.0230505800) / (0.0531329300 - 0.0230505800)
    rise = _SKY130_INV_Y["rise"][0] + t * (_SKY130_INV_Y["rise"][1] - _SKY130_INV_Y["rise"][0])
    fall = _SKY130_INV_Y["fall"][0] + t * (_SKY130_INV_Y["fall"][1] - _SKY130_INV_Y["fall"][0])
    y = lib.cell("sky130_fd_sc_hd__inv_1").pins["Y"]
    assert y.energy_at(0.0035653330) == pytest.approx((rise + fall) / 2, rel=1e-9)
    # the default wire load "Small": 1.42e-5 pF per unit length, 32.1136 units for a fan-out of two
    assert lib.wire_capacitance(2) == pytest.approx(1.42e-5 * 32.1136)
    # past the fan-out table: its last length plus the slope per extra pin
    assert lib.wire_capacitance(8) == pytest.approx(1.42e-5 * (84.2649 + 2 * 8.3631))


def test_prepared_copy_marks_dont_use(tiny, tmp_path):
    text = prepared_copy(tiny, tmp_path).read_text()
    assert 'cell ("sky130_fd_sc_hd__lpflow_bleeder_1") { dont_use : true;' in text
    assert 'cell ("nand2") {\n' in text


@pytest.mark.parametrize("function, verilog", [
    ("!(A&B)", "~ ( A & B )"), ("(A1*A2)+B1", "( A1 & A2 ) | B1"), ("RESET_B'", "~ RESET_B"),
    ("(A B)'", "~ ( A & B )"), ("A^!B", "A ^ ~ B")])
def test_functions_in_verilog(function, verilog):
    assert verilog_expr(function) == verilog


def test_cell_models(tiny):
    text = cell_models(read_liberty(tiny), ["dff", "nand2"])
    assert "assign Y = ~ ( A & B );" in text
    assert "always @(posedge _clk or posedge _clr) if (_clr) IQ <= 1'b0; else IQ <= _d;" in text


def test_bad_files(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="BITFORGE_PDK"):
        read_liberty(tmp_path / "missing.lib")
    (tmp_path / "trunc.lib").write_text(_LIB[:400])
    with pytest.raises(LibertyError, match="truncated"):
        read_liberty(tmp_path / "trunc.lib")
    (tmp_path / "bad.lib.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(LibertyError, match="corrupt gzip"):
        read_liberty(tmp_path / "bad.lib.gz")
    (tmp_path / "empty.lib").write_text("cell (x) { area : 1; }")
    with pytest.raises(LibertyError, match="not a liberty file"):
        read_liberty(tmp_path / "empty.lib")
