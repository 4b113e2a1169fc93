"""Switching activity (ppa.activity) and SAIF (ppa.saif) against truths computed by hand."""

import re
import shutil
import subprocess

import pytest

from ppa import activity
from ppa.activity import BitActivity, count_activity, read_header, settled_steps
from ppa.saif import read_saif, write_saif

# Timescale 1 ns. Ids: ! a (also top.sub.a_alias), " b, # c, $ v[3:0], % w[7:0], & d, ' r (real).
HAND_VCD = """\
$date today $end
$version hand written $end
$comment a comment
spanning two lines $end
$timescale 1ns $end
$scope module top $end
$var wire 1 ! a $end
$var wire 1 " b $end
$var wire 1 # c $end
$var wire 4 $ v [3:0] $end
$var wire 8 % w[7:0] $end
$var wire 1 & d $end
$var real 64 ' r $end
$scope module sub $end
$var wire 1 ! a_alias $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
0#
b0000 $
bx %
x&
r0.5 '
$end
#10
0!
1"
0"
1#
1#
b101 $
b1 %
z&
r1.5 '
#20
x!
b0110 $
bz1 %
0&
#25
$comment mid-body note $end
1!
#30
0!
1&
b1010 $
b0 %
#40
"""
# Settled values per step (left-extended where the value is short):
#   t   a  b  c  v     w         d
#   0   0  0  0  0000  xxxxxxxx  x
#   10  0  0  1  0101  00000001  z   a rewritten with 0: no change; b 0->1->0 in one step: no change;
#                                    c 0->1->1: one change; `b101` -> 0101, `b1` -> 00000001
#   20  x  0  1  0110  zzzzzzz1  0   `bz1` -> zzzzzzz1 (extended with z)
#   25  1  0  1  0110  zzzzzzz1  0   a: 0 -> x -> 1, no toggle
#   30  0  0  1  1010  00000000  1   a: 1 -> 0, a toggle
#   40  (end)


def bits(*rows):
    return tuple(BitActivity(t0=t0, t1=t1, tx=tx, tz=tz, tc=tc) for t0, t1, tx, tz, tc in rows)


@pytest.fixture
def hand_vcd(tmp_path):
    path = tmp_path / "hand.vcd"
    path.write_text(HAND_VCD)
    return path


def test_read_header_scopes_widths_ranges_aliases_and_timescale(hand_vcd):
    header = read_header(hand_vcd)
    assert header.timescale == 1e-9
    assert header.end_line == 18
    assert [(v.scope, v.name) for v in header.signals["!"]] == [(("top",), "a"), (("top", "sub"), "a_alias")]
    v, = header.signals["$"]
    assert (v.name, v.width, v.msb, v.lsb, v.indices) == ("v", 4, 3, 0, (3, 2, 1, 0))
    w, = header.signals["%"]                     # `w[7:0]` as one token
    assert (w.name, w.width, w.msb, w.lsb) == ("w", 8, 7, 0)
    assert header.signals["'"][0].kind == "real"


def test_settled_steps_drop_rewrites_collapse_same_step_events_and_extend_vectors(hand_vcd):
    # changes within a step come in no particular order: compare them as dicts
    assert [(t, dict(changes)) for t, changes in settled_steps(hand_vcd)] == [
        (0, {"!": "0", '"': "0", "#": "0", "$": "0000"}),               # w, d stay x: no change
        (10, {"#": "1", "$": "0101", "%": "00000001", "&": "z"}),
        (20, {"!": "x", "$": "0110", "%": "zzzzzzz1", "&": "0"}),
        (25, {"!": "1"}),
        (30, {"!": "0", "&": "1", "$": "1010", "%": "00000000"}),
        (40, {}),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 5, 13, 64])
def test_settled_steps_do_not_depend_on_the_pieces_the_file_is_read_in(hand_vcd, monkeypatch, chunk):
    whole = [(t, dict(changes)) for t, changes in settled_steps(hand_vcd)]
    monkeypatch.setattr(activity, "_CHUNK", chunk)
    assert [(t, dict(changes)) for t, changes in settled_steps(hand_vcd)] == whole


def test_settled_steps_continue_an_open_file_after_read_header(hand_vcd):
    with open(hand_vcd) as f:
        header = read_header(f)
        assert [t for t, _ in settled_steps(f, header)] == [0, 10, 20, 25, 30, 40]


def test_count_activity_full_window_counts_every_bit_by_hand(hand_vcd):
    act = count_activity(hand_vcd)
    assert (act.start, act.end, act.duration, act.timescale) == (0, 40, 40, 1e-9)
    #                                     T0  T1  TX  TZ  TC
    # a: 0 [0,20), x [20,25), 1 [25,30), 0 [30,40); only 1->0 at 30 toggles (0->x->1 does not)
    assert act.signal("top.a").bits == bits((30, 5, 5, 0, 1))
    # the alias names the same net: the same counts
    assert act.signal("top.sub.a_alias").bits == bits((30, 5, 5, 0, 1))
    # b: 0 throughout (0->1->0 inside step 10 is no toggle)
    assert act.signal("top.b").bits == bits((40, 0, 0, 0, 0))
    # c: 0 [0,10), 1 [10,40) (0->1->1 inside step 10 is one toggle)
    assert act.signal("top.c").bits == bits((10, 30, 0, 0, 1))
    # v, msb first: 0000 @0, 0101 @10, 0110 @20, 1010 @30
    assert act.signal("top.v").bits == bits(
        (30, 10, 0, 0, 1),                        # v[3]: 0,0,0,1
        (20, 20, 0, 0, 2),                        # v[2]: 0,1,1,0
        (20, 20, 0, 0, 1),                        # v[1]: 0,0,1,1
        (30, 10, 0, 0, 2))                        # v[0]: 0,1,0,0
    assert act.signal("top.v").bit(2) == act.signal("top.v").bits[1]
    # w: x @0, 00000001 @10, zzzzzzz1 @20, 00000000 @30
    assert act.signal("top.w").bits == bits(*[(20, 0, 10, 10, 0)] * 7,  # w[7:1]: x, 0, z, 0
                                              (10, 20, 10, 0, 1))        # w[0]: x, 1, 1, 0
    # d: x [0,10), z [10,20), 0 [20,30), 1 [30,40): only 0->1 at 30 toggles
    assert act.signal("top.d").bits == bits((10, 10, 10, 10, 1))
    # the real variable is not a bit signal
    assert "top.r" not in {s.var.path for s in act.signals}
    for s in act.signals:
        for b in s.bits:
            assert b.t0 + b.t1 + b.tx + b.tz == act.duration and b.ig == 0


def test_count_activity_window_cuts_phases_and_counts_toggles_in_start_to_end(hand_vcd):
    act = count_activity(hand_vcd, start=15, end=35)
    assert act.duration == 20
    # toggles at 20, 25 and 30 count (15 < t <= 35); the one at 10 does not
    #                                     T0  T1  TX  TZ  TC
    assert act.signal("top.a").bits == bits((10, 5, 5, 0, 1))      # 0 [15,20), x, 1, 0 [30,35)
    assert act.signal("top.c").bits == bits((0, 20, 0, 0, 0))      # 1 throughout; its toggle at 10 is before
    assert act.signal("top.v").bits == bits(
        (15, 5, 0, 0, 1),                         # v[3]: 0 [15,30), 1 [30,35)
        (5, 15, 0, 0, 1),                         # v[2]: 1 [15,30), 0 [30,35)
        (5, 15, 0, 0, 1),                         # v[1]: 0 [15,20), 1 [20,35)
        (15, 5, 0, 0, 1))                         # v[0]: 1 [15,20), 0 [20,35)
    assert act.signal("top.w").bits == bits(*[(10, 0, 0, 10, 0)] * 7, (5, 15, 0, 0, 1))
    assert act.signal("top.d").bits == bits((10, 5, 0, 5, 1))      # z [15,20), 0 [20,30), 1 [30,35)


def test_count_activity_scope_keeps_only_signals_below_it(hand_vcd):
    act = count_activity(hand_vcd, scope="top.sub")
    assert [s.var.path for s in act.signals] == ["top.sub.a_alias"]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 22])
def test_dumpoff_is_time_at_x_and_several_items_on_one_line(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(activity, "_CHUNK", chunk)
    path = tmp_path / "dumpoff.vcd"
    path.write_text("$timescale 10 ps $end\n"
                    "$scope module m $end\n$var reg 1 ! q $end\n$var reg 2 \" p $end\n$upscope $end\n"
                    "$enddefinitions $end\n"
                    "#0\n$dumpvars 0! b01 \" $end\n"
                    "#10\n1!\n"
                    "$comment\n#15 is not a time step here\n1!\n$end\n"
                    "#20\n$dumpoff x! bx \" $end\n"
                    "#30\n$dumpon 1! b10 \" $end\n"
                    "#35 0!")                      # several items on a line; no newline at the end
    act = count_activity(path)
    assert (act.timescale, act.duration) == (1e-11, 35)
    #                                     T0  T1  TX  TZ  TC
    # q: 0 [0,10), 1 [10,20), x [20,30) (dumpoff), 1 [30,35); toggles 0->1 at 10 and 1->0 at 35
    assert act.signal("m.q").bits == bits((10, 15, 10, 0, 2))
    # p: 01 [0,20), xx [20,30), 10 [30,35): no toggle goes through 0/1 directly
    assert act.signal("m.p").bits == bits((20, 5, 10, 0, 0), (5, 20, 10, 0, 0))
    # an end past the last step holds the last values: q stays 0 on [35,50)
    assert count_activity(path, end=50).signal("m.q").bits == bits((25, 15, 10, 0, 2))


COUNTER_V = """\
`timescale 1ns/1ns
module counter #(parameter N = 8) (input clk, input rst, output reg [N-1:0] count);
  always @(posedge clk)
    if (rst) count <= 0;
    else count <= count + 1'b1;
endmodule

module tb;
  reg clk = 0;
  reg rst = 1;
  wire [7:0] count;
  counter #(.N(8)) dut (.clk(clk), .rst(rst), .count(count));
  always #5 clk = ~clk;
  initial begin
    $dumpfile("counter.vcd");
    $dumpvars(0, tb);
    @(posedge clk);              // t = 5: count <= 0
    #1 rst = 0;                  // t = 6
    repeat (CYCLES) @(posedge clk);
    #1 $finish;
  end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("vvp") is None,
                    reason="Icarus not found; install it with: apt-get install -y iverilog")
def test_free_running_counter_toggles_match_the_formula(tmp_path):
    cycles, n = 300, 8                           # 300 > 2**8: the counter wraps once
    (tmp_path / "counter.v").write_text(COUNTER_V.replace("CYCLES", str(cycles)))
    subprocess.run(["iverilog", "-g2005", "-o", "counter.vvp", "counter.v"], cwd=tmp_path, check=True,
                   capture_output=True)
    subprocess.run(["vvp", "-n", "counter.vvp"], cwd=tmp_path, check=True, capture_output=True)
    act = count_activity(tmp_path / "counter.vcd")
    # clk rises at 5, 15, ...; the reset edge is at 5, increments at 15 + 10 j, $finish 1 ns after the last
    end = 5 + 10 * cycles + 1
    assert (act.start, act.end) == (0, end)
    # clk: 0 at 0, then a toggle every 5 ns up to the end
    assert act.signal("tb.clk").bit(0).tc == end // 5
    assert act.signal("tb.rst").bits == bits((end - 6, 6, 0, 0, 1))
    # value j (0..cycles) holds for 10 ns from 5 + 10 j, the last one for 1 ns; x before 5
    hold = [10] * cycles + [1]
    for path in ("tb.count", "tb.dut.count"):
        signal = act.signal(path)
        for k in range(n):
            t1 = sum(h for j, h in enumerate(hold) if (j % 2 ** n) >> k & 1)
            # bit k changes at the increments to a multiple of 2**k: floor(cycles / 2**k) toggles
            expected = BitActivity(t0=end - 5 - t1, t1=t1, tx=5, tz=0, tc=cycles // 2 ** k)
            assert signal.bit(k) == expected, f"{path}[{k}]"


def test_saif_round_trip_keeps_counts_hierarchy_and_durations(hand_vcd, tmp_path):
    act = count_activity(hand_vcd, start=15, end=35)
    path = tmp_path / "hand.saif"
    write_saif(path, act, design="top", top_scope_path="top", date="Mon Nov 30 08:00:00 2026")
    text = path.read_text()
    assert text.startswith('(SAIFILE\n(SAIFVERSION "2.0")\n(DIRECTION "backward")\n(DESIGN "top")\n')
    assert "(v\\[3\\]\n" in text and "(TIMESCALE 1 ns)" in text
    saif = read_saif(path)
    assert (saif.design, saif.timescale, saif.duration) == ("top", 1e-9, 20)
    assert saif.header["VENDOR"] == "bitforge" and saif.header["DIVIDER"] == "/"
    expected = {}
    for s in act.signals:
        indices = s.indices
        for k, b in enumerate(s.bits):
            net = s.var.name if indices is None else f"{s.var.name}[{indices[k]}]"
            expected[(s.var.scope, net)] = {"T0": b.t0, "T1": b.t1, "TX": b.tx, "TZ": b.tz, "TC": b.tc, "IG": 0}
    assert saif.nets == expected
    assert (("top", "sub"), "a_alias") in saif.nets                 # the nested instance
    for counts in saif.nets.values():
        assert counts["T0"] + counts["T1"] + counts["TX"] + counts["TZ"] == saif.duration


def test_saif_escapes_special_characters_in_names(tmp_path):
    vcd = tmp_path / "odd.vcd"
    vcd.write_text("$timescale 100 ps $end\n$scope module gen[0] $end\n$var wire 2 ! \\a.b/c [1:0] $end\n"
                   "$upscope $end\n$enddefinitions $end\n#0\nb10 !\n#4\n")
    path = tmp_path / "odd.saif"
    write_saif(path, count_activity(vcd), date="today")
    text = path.read_text()
    assert "(INSTANCE gen\\[0\\]" in text and "(a\\.b\\/c\\[1\\]" in text and "(TIMESCALE 100 ps)" in text
    saif = read_saif(path)
    assert saif.nets[(("gen[0]",), "a.b/c[1]")] == {"T0": 0, "T1": 4, "TX": 0, "TZ": 0, "TC": 0, "IG": 0}


HEADER = "$timescale 1ns $end\n$scope module top $end\n$var wire 1 ! a $end\n$upscope $end\n$enddefinitions $end\n"


@pytest.mark.parametrize("text, line, expected", [
    ("hello world\n", 1, ("expected a VCD declaration keyword such as `$scope`, `$var` or "
                          "`$enddefinitions`, not 'hello'")),
    ("$date today $end\n$timescale 1ns $end\n", 2,
     "expected `$enddefinitions $end` to end the VCD header, not the end of the file (is it a VCD?)"),
    (HEADER + "#0\n0!\n1?\n", 8, "identifier code '?' must be declared by a `$var`, not unknown"),
    (HEADER + "#0\n0!\n#1x0\n1!\n", 8, "expected a timestamp, `#` and a non-negative integer, not '#1x0'"),
    (HEADER + "#5\n0!\n#3\n", 8, "timestamp must not decrease (last was #5), not #3"),
    (HEADER + "#0\n0!\nb101 !\n", 8, "value of '!' must have 1 to 1 bits, not 3 ('b101')"),
    (HEADER + "#0\n0!\n#1\n$comment never closed\n1!\n", 10,
     "expected `$end` to close `$comment`, not the end of the file"),
], ids=["not-a-vcd", "no-enddefinitions", "unknown-identifier", "malformed-timestamp", "decreasing-time",
        "too-wide-vector", "unclosed-comment"])
@pytest.mark.parametrize("chunk", [3, 1 << 22])
def test_bad_input_raises_one_line_naming_file_line_and_expectation(tmp_path, monkeypatch, text, line, expected,
                                                                     chunk):
    monkeypatch.setattr(activity, "_CHUNK", chunk)
    path = tmp_path / "bad.vcd"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: {expected}") + "$") as info:
        count_activity(path)
    assert "\n" not in str(info.value)


def test_bad_window_raises(hand_vcd):
    with pytest.raises(ValueError, match=re.escape("`end` must be at least `start` (20), not 10")):
        count_activity(hand_vcd, start=20, end=10)
    with pytest.raises(ValueError, match=re.escape("`start` must be a non-negative integer, not -1")):
        count_activity(hand_vcd, start=-1)
