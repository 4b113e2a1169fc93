import numpy as np
import pytest

from quant import (pack, unpack, to_readmemh, from_readmemh, write_readmemh, memory_bits,
                   memory_init, codes_per_word)


@pytest.mark.parametrize("mode, word_bits", [
    ("binary", 1), ("binary", 8), ("binary", 13), ("ternary", 2), ("ternary", 32),
    ("ternary", 7), ("trit5", 8), ("trit5", 32)])
def test_round_trip(mode, word_bits):
    rng = np.random.default_rng(word_bits)
    values = [-1, 1] if mode == "binary" else [-1, 0, 1]
    for n in (1, 5, 37, 200):
        codes = rng.choice(values, size=n)
        words = pack(codes, mode, word_bits)
        assert all(0 <= w < (1 << word_bits) for w in words)
        assert len(words) == -(-n // codes_per_word(mode, word_bits))
        assert unpack(words, mode, word_bits, n).tolist() == codes.tolist()


def test_encodings_are_the_documented_ones():
    assert pack([1, -1, -1, 1], "binary", 4) == [0b1001]
    assert pack([0, 1, -1], "ternary", 6) == [0b11_01_00]
    # trit5: sum((c+1) * 3**j): codes 1,-1,0,1,0 -> 2 + 0*3 + 1*9 + 2*27 + 1*81 = 146
    assert pack([1, -1, 0, 1, 0], "trit5", 8) == [146]
    assert pack([1] * 5, "trit5", 8) == [242]


def test_readmemh_round_trip(tmp_path):
    words = pack(np.array([1, 0, -1] * 11), "ternary", 16)
    text = to_readmemh(words, 16)
    assert text.splitlines()[0] == f"{words[0]:04x}"
    path = tmp_path / "w.hex"
    write_readmemh(path, words, 16)
    assert from_readmemh(path.read_text()) == words
    assert [p.name for p in tmp_path.iterdir()] == ["w.hex"]  # no temporary left behind


def test_memory_init_matches_pack():
    codes = np.array([1, -1, 0, 0, 1])
    init = memory_init(codes, "ternary", 4)
    assert init == {"shape": 4, "depth": 3, "init": pack(codes, "ternary", 4)}


def test_memory_bits_density():
    assert memory_bits(1000, "binary", 32) == 1024
    assert memory_bits(1000, "ternary", 32) == 2016
    assert memory_bits(1000, "trit5", 8) == 1600


def test_bad_input():
    with pytest.raises(ValueError, match=r"binary codes must be in \{1, -1\}, not 0 \(at index 1\)"):
        pack([1, 0], "binary", 8)
    with pytest.raises(ValueError, match="ternary codes must be in .*, not 2 "):
        pack([2], "ternary", 8)
    with pytest.raises(TypeError, match="weight codes must be integers, not float64"):
        pack(np.array([1.0]), "ternary", 8)
    with pytest.raises(ValueError, match="trit5 words are whole bytes"):
        pack([1], "trit5", 12)
    with pytest.raises(ValueError, match="packing `mode` must be one of binary, ternary, trit5, not 'quad'"):
        pack([1], "quad", 8)
    with pytest.raises(ValueError, match="invalid ternary field 0b10"):
        unpack([0b10], "ternary", 2, 1)
    with pytest.raises(ValueError, match="invalid trit5 byte 250"):
        unpack([250], "trit5", 8, 5)
    with pytest.raises(ValueError, match="not a hex word: 'xyz'"):
        from_readmemh("00\nxyz\n")
    with pytest.raises(ValueError, match="does not fit in 4 bits"):
        to_readmemh([16], 4)


def test_memory_init_loads_into_an_amaranth_memory():
    from amaranth.hdl import Module
    from amaranth.lib.memory import Memory
    from amaranth.sim import Simulator
    codes = np.random.default_rng(0).choice([-1, 0, 1], size=45)
    init = memory_init(codes, "ternary", 8)
    m = Module()
    m.submodules.mem = mem = Memory(**init)
    port = mem.read_port(domain="comb")
    seen = []

    async def bench(ctx):
        for addr in range(init["depth"]):
            ctx.set(port.addr, addr)
            seen.append(ctx.get(port.data))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert unpack(seen, "ternary", 8, 45).tolist() == codes.tolist()
