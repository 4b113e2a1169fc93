"""Every building block against its quant/ golden model: Amaranth simulator, Verilator, Icarus."""

import json

import pytest

from accel.blocks import build_block, BLOCKS
from sim.amaranth_sim import run_vectors_amaranth
from sim.runner import run_cocotb
from sim.vectors import block_vectors, compare_outputs, MIN_RANDOM
from tests.accel.block_cases import RTL_CASES, AMARANTH_CASES, case_id


@pytest.mark.parametrize("case", AMARANTH_CASES, ids=case_id)
def test_amaranth_simulator(case):
    name, cfg = case
    vectors = block_vectors(name, cfg, n_random=2000)
    outputs = run_vectors_amaranth(build_block(name, cfg), vectors)
    mismatches, first = compare_outputs(vectors, outputs)
    assert mismatches == 0, first


@pytest.mark.rtl
@pytest.mark.parametrize("case", RTL_CASES, ids=case_id)
def test_rtl_matches_golden(case, simulator, tmp_path, build_root):
    name, cfg = case
    vectors = block_vectors(name, cfg, seed=7)
    assert vectors.exhaustive or len(vectors) >= MIN_RANDOM
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors.to_json()))
    result = run_cocotb(build_block(name, cfg), sim=simulator, test_module="sim.tb.vectors_tb",
                        name=name, build_root=build_root,
                        params={"vectors": str(path), "signed": {"y": cfg.out_fmt.signed}})
    assert result.passed, result.summary()


@pytest.mark.rtl
def test_mismatch_is_reported_with_first_divergence(simulator, tmp_path, build_root):
    """The checker is not vacuous: hardware rounding to nearest, model flooring."""
    from models.mulround import MulRoundConfig
    hw = MulRoundConfig("4.2", "4.2", "4.1", "nearest", "saturate")
    model = MulRoundConfig("4.2", "4.2", "4.1", "floor", "saturate")
    vectors = block_vectors("mulround", model)
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors.to_json()))
    outputs = run_vectors_amaranth(build_block("mulround", hw), vectors)
    mismatches, first = compare_outputs(vectors, outputs, {"y": 4})
    assert mismatches > 0
    assert first.startswith("vector ") and "expected" in first and "got" in first
    result = run_cocotb(build_block("mulround", hw), sim=simulator, test_module="sim.tb.vectors_tb",
                        name="mutant", build_root=build_root, params={"vectors": str(path)})
    assert not result.passed
    assert f"{mismatches} mismatches; first: vector" in result.tests[0].message


def test_every_block_is_covered():
    assert {name for name, _ in RTL_CASES} == set(BLOCKS)
    assert {name for name, _ in AMARANTH_CASES} == set(BLOCKS)
