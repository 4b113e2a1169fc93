"""Power, performance and area of a synthesized netlist: timing, switching activity, energy, memories.

Above `rtl` (generation and synthesis) and `sim` (simulation): this layer
turns a mapped netlist, its activity on a workload and the library into the
figures every report and sweep uses.
"""

from .activity import count_activity, settled_steps, read_header, SwitchingActivity
from .saif import write_saif, read_saif
from .timing import analyze_timing, analyze_netlist, TimingReport, find_sta
from .memories import macros_for, plan_memory, macro_timing, MemoryPlan, Macro
from .power import analyze_vcd, net_energies
from .estimate import estimate, measure, Workload, TimingNotMet
from .flow import estimate_verilog

__all__ = ["count_activity", "settled_steps", "read_header", "SwitchingActivity", "write_saif", "read_saif",
           "analyze_timing", "analyze_netlist", "TimingReport", "find_sta", "macros_for", "plan_memory",
           "macro_timing", "MemoryPlan", "Macro", "analyze_vcd", "net_energies", "estimate", "measure", "Workload",
           "TimingNotMet", "estimate_verilog"]
