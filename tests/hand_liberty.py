"""A Liberty library written by hand with round numbers, so every figure read from it is arithmetic on the page.

V = 1.5 V, 1 ns, 1 pF, 1 nW; no wire-load model. ``nand2``: inputs A 0.002 pF and B 0.003 pF; output Y's
rise energy from A is 0.010 pJ at 0 pF rising to 0.030 pJ at 0.1 pF (any slew), fall 0.006 pJ flat."""

HEADER = r"""
  time_unit : "1ns"; voltage_unit : "1V"; leakage_power_unit : "1nW";
  capacitive_load_unit(1.0, "pf");
  operating_conditions ("tt") { voltage : 1.5; }
  power_lut_template ("p2") { variable_1 : "input_transition_time"; variable_2 : "total_output_net_capacitance";
    index_1("0.01, 0.1"); index_2("0.0, 0.1"); }
"""

NAND2 = r"""
  cell ("nand2") {
    area : 4.0; cell_leakage_power : 2.0;
    pin ("A") { direction : "input"; capacitance : 0.002; }
    pin ("B") { direction : "input"; capacitance : 0.003; }
    pin ("Y") { direction : "output"; function : "!(A&B)";
      internal_power () { related_pin : "A";
        rise_power ("p2") { values ("0.010, 0.030", "0.010, 0.030"); }
        fall_power ("p2") { values ("0.006, 0.006", \
                                    "0.006, 0.006"); } } }
  }
"""


def library(name, *cells):
    """The text of a library ``name`` holding the header above and ``cells`` (Liberty cell groups)."""
    return f'\nlibrary ("{name}") {{{HEADER}{"".join(cells)}}}\n'
