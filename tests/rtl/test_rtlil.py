"""Identical modules merged before synthesis: which merge (by hand-written RTLIL), and a merged design that
still computes what it did, instance by instance (exhaustively, on the synthesized netlist under Icarus)."""

import shutil
import subprocess

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.rtlil import merge_identical_modules
from rtl.synth import synthesize

from .test_synth import Add

LEAF = """attribute \\generator "Amaranth"
module {name}

  wire width 4 input 0  {a}

  wire width 5 output 1  \\out

  cell $add $1
    parameter \\A_WIDTH 4
    parameter \\B_WIDTH 1
    parameter \\Y_WIDTH 5
    connect \\A {a} [3:0]
    connect \\B 1'1
    connect \\Y \\out
  end

end
"""

PARENT = """attribute \\generator "Amaranth"
module {name}

  wire width 4 input 0  \\x

  wire width 5 output 1  \\y

  cell {child} \\leaf
    connect {a} \\x [3:0]
    connect \\out \\y [4:0]
  end

end
"""

TOP = """attribute \\generator "Amaranth"
attribute \\top 1
module \\top

  wire width 8 input 0  \\a

  wire width 5 output 1  \\p

  wire width 5 output 2  \\q

  wire width 3 output 3  \\r

  cell \\top.u0 \\u0
    connect \\x \\a [3:0]
    connect \\y \\p [4:0]
  end

  cell \\top.u1 \\u1
    connect \\x \\a [7:4]
    connect \\y \\q [4:0]
  end

  cell \\top.m0 \\m0
    connect \\r \\r [2:0]
  end

  cell \\top.m1 \\m1
    connect \\r \\r [2:0]
  end

end
"""

MEMORY = """attribute \\generator "Amaranth"
module {name}

  wire width 3 output 0  \\r

  memory width 3 size 4 \\mem

end
"""


def _design():
    """Two parents whose leaves differ only in the name of their input port (as Amaranth names a port after
    the slice it carries), and two identical modules holding a memory."""
    return "\n".join([TOP,
                      PARENT.format(name="\\top.u0", child="\\top.u0.leaf", a="\\port$7$0"),
                      LEAF.format(name="\\top.u0.leaf", a="\\port$7$0"),
                      PARENT.format(name="\\top.u1", child="\\top.u1.leaf", a="\\port$7$4"),
                      LEAF.format(name="\\top.u1.leaf", a="\\port$7$4"),
                      MEMORY.format(name="\\top.m0"), MEMORY.format(name="\\top.m1")])


def test_modules_equal_up_to_port_names_merge_bottom_up():
    text, merged = merge_identical_modules(_design())
    # the leaves merge first; their parents, then pointing at the same leaf, merge in the next round
    assert merged == {"\\top.u1.leaf": "\\top.u0.leaf", "\\top.u1": "\\top.u0"}
    assert "module \\top.u1" not in text and "module \\top.u1.leaf" not in text
    # both instances kept, under their names, pointing at the kept definition
    assert "cell \\top.u0 \\u0\n" in text and "cell \\top.u0 \\u1\n" in text
    # the second parent's connections were renamed to the kept leaf's port before it merged
    kept_parent = text[text.index("module \\top.u0\n"):]
    assert "connect \\port$7$0 \\x [3:0]" in kept_parent
    # modules holding a memory are never merged
    assert "module \\top.m0" in text and "module \\top.m1" in text and "cell \\top.m1 \\m1" in text


def test_nothing_to_merge_leaves_the_text_alone():
    text = TOP + PARENT.format(name="\\top.u0", child="\\top.u0.leaf", a="\\a")
    assert merge_identical_modules(text) == (text, {})


class TwoAdders(wiring.Component):
    a: In(4)
    b: In(4)
    c: In(4)
    s: Out(5)
    t: Out(5)

    def elaborate(self, platform):
        m = Module()
        m.submodules.first = first = Add()
        m.submodules.second = second = Add()
        m.d.comb += [first.a.eq(self.a), first.b.eq(self.b), second.a.eq(self.c), second.b.eq(self.a),
                     self.s.eq(first.s), self.t.eq(second.s)]
        return m


def test_merged_netlist_keeps_every_instance_and_computes_exhaustively(tools, tmp_path):
    synth = synthesize(TwoAdders(), tools)
    assert [p for p, _ in synth.instances()] == [(), ("first",), ("second",)]
    assert len({m for p, m in synth.instances() if p}) == 1  # one definition for both adders
    blocks = synth.area_by_block()
    assert blocks["first"]["cells"] == blocks["second"]["cells"] > 0
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus not found; install it with: sudo apt-get install -y iverilog")
    paths = synth.write_sim_netlist(tmp_path / "net")
    bench = tmp_path / "tb.v"
    bench.write_text("""module tb; reg [3:0] a, b, c; wire [4:0] s, t; integer i, bad;
  top dut (.a(a), .b(b), .c(c), .s(s), .t(t));
  initial begin bad = 0;
    for (i = 0; i < 4096; i = i + 1) begin {a, b, c} = i; #1;
      if (s !== a + b || t !== c + a) begin bad = bad + 1; if (bad == 1) $display("FIRST %0d %0d %0d: %0d %0d", a, b, c, s, t); end
    end
    $display("BAD %0d", bad); $finish; end
endmodule
""")
    subprocess.run(["iverilog", "-o", str(tmp_path / "sim"), str(bench)] + [str(p) for p in paths], check=True)
    out = subprocess.run(["vvp", str(tmp_path / "sim")], capture_output=True, text=True, check=True).stdout
    assert "BAD 0" in out, out
