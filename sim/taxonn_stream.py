"""Stream harness for long TaxoNN training runs: no Python in the per-step loop.

The per-step testbench (`sim.tb.taxonn_train_tb`) performs every host
transaction from Python: a dozen awaits per step, which costs more than the
step's thousand-odd cycles in Verilator. For long runs the harness below
wraps the accelerator (module ``taxonn_core``) in a Verilog module ``top``
that holds the whole job in simulation memories, loaded with ``$readmemh``
from files named by plusargs: per step the input-buffer words and the label.
After ``run`` it performs, in hardware, exactly the host's transactions (write
the input words, pulse ``start`` with ``train`` and the label, wait for
``done``), records each step's prediction, cycle count and parameter checksum,
and raises ``done`` when all ``n_steps`` steps are over. The testbench loads
the parameters, starts the run, waits once, then reads the results and the
final parameters. The core's cycle counts are the same as under the per-step
testbench; the harness adds no cycles inside a step.

Harness ports: ``mem_sel``/``mem_addr``/``mem_wdata``/``mem_we``/``mem_rdata``
pass through to the core while idle; ``n_steps`` (32 bits) and ``run`` start
a stream; ``busy``; ``done`` (held high until the next ``run``);
``res_addr``/``res_word``: step ``res_addr``'s result, ``{pred, cycles,
checksum}`` (checksum in bits 0-31, cycles in 32-63, pred above).
"""

from pathlib import Path

from accel.taxonn import TaxoNN, MemoryMap
from quant.fsio import atomic_write_text
from rtl.verilog import generate_verilog, port_inventory

__all__ = ["stream_capacity", "stream_verilog", "write_stream_files", "STREAM_PLUSARGS", "unpack_result"]

STREAM_PLUSARGS = ("stream_inputs", "stream_labels")

_TEMPLATE = """
module top(clk, rst, mem_sel, mem_addr, mem_wdata, mem_we, mem_rdata, n_steps, run, busy, done, res_addr, res_word);
  input clk;
  input rst;
  input [{sel_w}-1:0] mem_sel;
  input [{addr_w}-1:0] mem_addr;
  input [{word_w}-1:0] mem_wdata;
  input mem_we;
  output [{word_w}-1:0] mem_rdata;
  input [31:0] n_steps;
  input run;
  output busy;
  output done;
  input [{step_w}-1:0] res_addr;
  output [{res_w}-1:0] res_word;

  localparam IDLE = 2'd0, WRITE = 2'd1, START = 2'd2, WAIT = 2'd3;
  reg [{act_w}-1:0] inputs [0:{capacity}*{words}-1];
  reg [{label_w}-1:0] labels [0:{capacity}-1];
  reg [{res_w}-1:0] results [0:{capacity}-1];
  reg [1:0] state;
  reg [31:0] step;
  reg [31:0] base;
  reg [{addr_w}-1:0] word;
  reg done_r;
  reg [8*1024-1:0] path;

  wire core_busy, core_done;
  wire [31:0] core_cycles, core_checksum;
  wire [{label_w}-1:0] core_pred;
  wire host = state == IDLE;

  taxonn_core core(
    .clk(clk), .rst(rst),
    .mem_sel(host ? mem_sel : {sel_w}'d{act_sel}),
    .mem_addr(host ? mem_addr : word),
    .mem_wdata(host ? mem_wdata : {stream_wdata}),
    .mem_we(host ? mem_we : state == WRITE),
    .mem_rdata(mem_rdata),
    .start(state == START), .train(1'b1), .label(labels[step]),
    .busy(core_busy), .done(core_done), .cycles(core_cycles), .pred(core_pred),
    .checksum(core_checksum));

  assign busy = !host;
  assign done = done_r;
  assign res_word = results[res_addr];

  initial begin
    if ($value$plusargs("stream_inputs=%s", path)) $readmemh(path, inputs);
    if ($value$plusargs("stream_labels=%s", path)) $readmemh(path, labels);
  end

  always @(posedge clk) begin
    if (rst) begin
      state <= IDLE; step <= 0; base <= 0; word <= 0; done_r <= 0;
    end else begin
      case (state)
        IDLE: if (run) begin
          step <= 0; base <= 0; word <= 0; done_r <= n_steps == 0;
          state <= n_steps == 0 ? IDLE : WRITE;
        end
        WRITE: begin
          base <= base + 1;
          word <= word + 1;
          if (word == {words} - 1) state <= START;
        end
        START: state <= WAIT;
        WAIT: if (core_done) begin
          results[step] <= {{core_pred, core_cycles, core_checksum}};
          word <= 0;
          step <= step + 1;
          if (step + 1 == n_steps) begin
            state <= IDLE; done_r <= 1;
          end else state <= WRITE;
        end
      endcase
    end
  end
endmodule
"""


def stream_capacity(steps):
    """Steps the harness holds for a run of ``steps``: a power of two, at least 256."""
    cap = 256
    while cap < steps:
        cap *= 2
    return cap


def stream_verilog(cfg, capacity):
    """Verilog of the harness (module ``top``) around ``taxonn_core`` for ``cfg``."""
    core = TaxoNN(cfg)
    ports = {p["name"]: p["width"] for p in port_inventory(core)}
    mp = MemoryMap(cfg)
    act_w = cfg.pes * cfg.a_fmt.total
    step_w = max(1, (capacity - 1).bit_length())
    return generate_verilog(core, "taxonn_core") + _TEMPLATE.format(
        sel_w=ports["mem_sel"], addr_w=ports["mem_addr"], word_w=ports["mem_wdata"],
        label_w=ports["label"], res_w=ports["pred"] + 64, act_w=act_w,
        stream_wdata=(f"{{{pad}'d0, inputs[base]}}" if (pad := ports["mem_wdata"] - act_w) else "inputs[base]"),
        act_sel=mp.sel_act(0), words=mp.chunks[0], capacity=capacity, step_w=step_w)


def write_stream_files(job, cfg, directory):
    """Write the job's input words and labels as $readmemh files; return the plusargs."""
    mp = MemoryMap(cfg)
    digits = -(-cfg.pes * cfg.a_fmt.total // 4)
    lines = []
    for step, writes in enumerate(job["inputs"]):
        expected = [(mp.sel_act(0), a) for a in range(mp.chunks[0])]
        if [(sel, addr) for sel, addr, _ in writes] != expected:
            raise ValueError(f"step {step}: the stream harness writes input words 0..{mp.chunks[0] - 1} in order")
        lines += [f"{data:0{digits}x}" for _, _, data in writes]
    directory = Path(directory)
    inputs, labels = directory / "stream_inputs.hex", directory / "stream_labels.hex"
    atomic_write_text(inputs, "\n".join(lines) + "\n")
    atomic_write_text(labels, "\n".join(f"{y:x}" for y in job["labels"]) + "\n")
    return [f"+stream_inputs={inputs}", f"+stream_labels={labels}"]


def unpack_result(word):
    """``(pred, cycles, checksum)`` from a harness result word."""
    return word >> 64, (word >> 32) & 0xFFFFFFFF, word & 0xFFFFFFFF
