import gzip

import pytest

from ppa.memories import macros_for, macro_timing, plan_memory, process_of
from rtl.liberty import read_liberty, default_liberty


def _macro_lib(name, words, width, area, leakage, read, write):
    """A Liberty file with one single-port macro whose per-access energies sit on its clock pin, under
    ``when`` conditions as the IHP macro libraries write them."""
    abits = words.bit_length() - 1
    return f"""
library ("{name}_lib") {{
  voltage_unit : "1V"; leakage_power_unit : "1nW"; capacitive_load_unit(1.0, "pf");
  operating_conditions ("typ") {{ voltage : 1.2; }}
  cell ("{name}") {{
    area : {area}; cell_leakage_power : {leakage};
    memory () {{ type : ram; address_width : {abits}; word_width : {width}; }}
    pin ("A_CLK") {{ direction : input; capacitance : 0.01;
      internal_power () {{ when : "A_MEN & !A_WEN & A_REN";
        rise_power ("scalar") {{ values ("{read}"); }} fall_power ("scalar") {{ values ("0"); }} }}
      internal_power () {{ when : "A_MEN & A_WEN & !A_REN";
        rise_power ("scalar") {{ values ("{write}"); }} fall_power ("scalar") {{ values ("0"); }} }}
    }}
    pin ("A_ADDR") {{ direction : input; capacitance : 0.005;
      timing () {{ related_pin : "A_CLK"; timing_type : setup_rising;
        rise_constraint ("scalar") {{ values ("0.30"); }} fall_constraint ("scalar") {{ values ("0.25"); }} }} }}
    pin ("A_DOUT") {{ direction : output;
      timing () {{ related_pin : "A_CLK"; timing_type : rising_edge;
        cell_rise ("scalar") {{ values ("1.50"); }} cell_fall ("scalar") {{ values ("1.20"); }} }} }}
  }}
}}
"""


@pytest.fixture
def macro_libs(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    paths = []
    # two IHP-named macro shapes with round figures, so every tiling below is computed by hand
    for name, words, width, area, leak, read, write in (
            ("RM_IHPSG13_1P_64x32_test", 64, 32, 10000.0, 20.0, 4.0, 5.0),
            ("RM_IHPSG13_1P_512x8_test", 512, 8, 12000.0, 30.0, 3.0, 3.5)):
        path = tmp_path / f"{name}.lib.gz"
        path.write_bytes(gzip.compress(_macro_lib(name, words, width, area, leak, read, write).encode()))
        paths.append(path)
    return paths


class _Lib:
    def __init__(self, name):
        self.name = name


def test_tiling_is_the_least_area_of_real_macro_shapes(macro_libs):
    macros = macros_for(_Lib("sg13g2_stdcell_typ_1p20V_25C"), sram_liberty=macro_libs)
    assert {m.name for m in macros} == {"RM_IHPSG13_1P_64x32_test", "RM_IHPSG13_1P_512x8_test"}
    # 200 x 12: 64x32 needs 4 x 1 tiles = 40,000 um^2; 512x8 needs 1 x 2 = 24,000 um^2 -> 512x8, two columns:
    # a read enables both (2 x 3.0 pJ), a write both (2 x 3.5 pJ), leakage 2 x 30 nW
    plan = plan_memory("w", 200, 12, macros)
    assert plan.implementation == "macro:RM_IHPSG13_1P_512x8_test x 2"
    assert (plan.rows, plan.cols) == (1, 2)
    assert plan.area_um2 == 24000.0 and plan.leakage_nw == 60.0
    assert plan.read_pj == 6.0 and plan.write_pj == 7.0
    # 64 x 32: one 64x32 tile (10,000 um^2) against 1 x 4 of 512x8 (48,000 um^2)
    plan = plan_memory("v", 64, 32, macros)
    assert plan.implementation == "macro:RM_IHPSG13_1P_64x32_test x 1" and plan.read_pj == 4.0
    # fewer words than the smallest macro (64): cells
    plan = plan_memory("small", 63, 32, macros)
    assert plan.implementation == "cells" and plan.area_um2 == 0.0
    assert plan.to_json()["implementation"] == "cells"


def test_no_macros_means_cells():
    plan = plan_memory("w", 4096, 16, [])
    assert plan.implementation == "cells" and plan.read_pj == 0.0


def test_macros_of_another_process_are_refused(macro_libs):
    with pytest.raises(ValueError, match="must share a process"):
        macros_for(_Lib("sky130_fd_sc_hd__tt_025C_1v80"), sram_liberty=macro_libs)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least one word"):
        plan_memory("w", 0, 8, [])


def test_process_names():
    assert process_of("sky130_fd_sc_hd__tt_025C_1v80") == "sky130"
    assert process_of("sg13g2_stdcell_typ_1p20V_25C") == "ihp-sg13g2"
    assert process_of("RM_IHPSG13_1P_64x64_c2_bm_bist") == "ihp-sg13g2"
    assert process_of("nangate45") is None


def test_pdk_macros_follow_the_cells_process():
    try:
        sky, ihp = read_liberty(default_liberty("sky130")), read_liberty(default_liberty("ihp"))
    except FileNotFoundError as e:
        pytest.skip(str(e))
    assert macros_for(sky) == []                  # no sky130 macro library here: sky130 memories are cells
    macros = macros_for(ihp)
    if not macros:
        pytest.skip("IHP SRAM macro libraries (RM_IHPSG13_1P_*.lib.gz) not found under the PDK folder")
    by_name = {m.name: m for m in macros}
    # 1000 x 12 in IHP: one 1024x16 macro (79,673.728 um^2) beats two 1024x8 (2 x 49,419.2448) and the rest
    plan = plan_memory("w", 1000, 12, macros)
    assert plan.macro is by_name["RM_IHPSG13_1P_1024x16_c2_bm_bist"] and (plan.rows, plan.cols) == (1, 1)
    assert plan.area_um2 == pytest.approx(79673.728)


def test_macro_timing_is_its_slowest_arcs(macro_libs):
    macros = macros_for(_Lib("sg13g2_stdcell_typ_1p20V_25C"), sram_liberty=macro_libs)
    # clock to output: max(cell_rise 1.50, cell_fall 1.20); setup: max(rise 0.30, fall 0.25)
    assert macro_timing(macros[0]) == {"clk_to_q_ns": 1.5, "setup_ns": 0.3}
