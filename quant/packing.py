"""Packing weight codes into memory words, and exporting them.

Encodings (the RTL decodes exactly these):

``"binary"`` (1 bit per weight)
    +1 -> ``1``, -1 -> ``0``.
``"ternary"`` (2 bits per weight)
    0 -> ``00``, +1 -> ``01``, -1 -> ``11``; ``10`` is invalid.
``"trit5"`` (5 ternary weights per byte, 1.6 bits per weight)
    A byte holds ``sum((c_j + 1) * 3**j for j in 0..4)``, 0..242; the first
    weight is the least significant trit. Words are whole bytes.

Within a word, the first code sits in the least significant bits (byte 0 of a
trit5 word holds codes 0..4). The last word is padded with code -1 for binary
(bits 0) and 0 for ternary.
"""

import numpy as np

__all__ = ["PACKING_MODES", "bits_per_code", "codes_per_word", "pack", "unpack",
           "to_readmemh", "from_readmemh", "write_readmemh", "memory_bits", "memory_init"]

PACKING_MODES = ("binary", "ternary", "trit5")
_TERNARY_BITS = {0: 0b00, 1: 0b01, -1: 0b11}
_POW3 = np.array([1, 3, 9, 27, 81], dtype=np.int64)


def _check_mode(mode):
    if mode not in PACKING_MODES:
        raise ValueError(f"packing `mode` must be one of {', '.join(PACKING_MODES)}, not {mode!r}")


def bits_per_code(mode):
    """Memory bits per weight: 1, 2, or 1.6."""
    _check_mode(mode)
    return {"binary": 1, "ternary": 2, "trit5": 8 / 5}[mode]


def codes_per_word(mode, word_bits):
    """How many codes one ``word_bits``-bit word holds."""
    _check_mode(mode)
    if isinstance(word_bits, bool) or not isinstance(word_bits, int) or word_bits < 1:
        raise ValueError(f"`word_bits` must be a positive integer, not {word_bits!r}")
    if mode == "trit5":
        if word_bits % 8:
            raise ValueError(f"trit5 words are whole bytes: `word_bits` must be a multiple of 8, not {word_bits}")
        return 5 * (word_bits // 8)
    if word_bits < bits_per_code(mode):
        raise ValueError(f"`word_bits` must be at least {bits_per_code(mode)} for {mode}, not {word_bits}")
    return word_bits // bits_per_code(mode)


def _check_codes(codes, mode):
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"weight codes must be integers, not {codes.dtype}")
    codes = codes.astype(np.int64).reshape(-1)
    allowed = (-1, 1) if mode == "binary" else (-1, 0, 1)
    bad = ~np.isin(codes, allowed)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{mode} codes must be in {set(allowed)}, not {int(codes[k])} (at index {k})")
    return codes


def _code_fields(codes, mode):
    """Per-code bit fields (binary/ternary) or per-byte values (trit5)."""
    if mode == "binary":
        return (codes > 0).astype(np.int64), 1
    if mode == "ternary":
        return codes & 0b11, 2
    groups = np.zeros(-(-codes.size // 5) * 5, dtype=np.int64)
    groups[:codes.size] = codes
    return (groups.reshape(-1, 5) + 1) @ _POW3, 8


def pack(codes, mode, word_bits):
    """Pack weight codes (any shape, row-major) into a list of ``word_bits``-bit ints."""
    per_word = codes_per_word(mode, word_bits)
    codes = _check_codes(codes, mode)
    fields, field_bits = _code_fields(codes, mode)
    fields_per_word = per_word if mode != "trit5" else word_bits // 8
    n_words = max(1, -(-fields.size // fields_per_word))
    padded = np.zeros(n_words * fields_per_word, dtype=np.int64)
    padded[:fields.size] = fields
    words = []
    for row in padded.reshape(n_words, fields_per_word):
        word = 0
        for j, field in enumerate(row.tolist()):
            word |= field << (j * field_bits)
        words.append(word)
    return words


def unpack(words, mode, word_bits, count):
    """Inverse of `pack`: the first ``count`` codes as an int64 array."""
    per_word = codes_per_word(mode, word_bits)
    if count > per_word * len(words):
        raise ValueError(f"{len(words)} words of {mode} hold at most {per_word * len(words)} codes, not {count}")
    out = []
    for word in words:
        if mode == "binary":
            out.extend(1 if (word >> j) & 1 else -1 for j in range(per_word))
        elif mode == "ternary":
            for j in range(per_word):
                field = (word >> (2 * j)) & 0b11
                if field == 0b10:
                    raise ValueError(f"invalid ternary field 0b10 in word {word:#x}, position {j}")
                out.append({0b00: 0, 0b01: 1, 0b11: -1}[field])
        else:
            for byte_index in range(word_bits // 8):
                value = (word >> (8 * byte_index)) & 0xFF
                if value > 242:
                    raise ValueError(f"invalid trit5 byte {value} (> 242) in word {word:#x}")
                for _ in range(5):
                    out.append(value % 3 - 1)
                    value //= 3
    return np.array(out[:count], dtype=np.int64)


def to_readmemh(words, word_bits):
    """``$readmemh`` text: one zero-padded hex word per line."""
    digits = -(-word_bits // 4)
    for word in words:
        if not 0 <= word < (1 << word_bits):
            raise ValueError(f"word {word:#x} does not fit in {word_bits} bits")
    return "".join(f"{word:0{digits}x}\n" for word in words)


def from_readmemh(text):
    """Parse ``$readmemh`` text (comments and ``@address`` lines not supported)."""
    words = []
    for line_no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            words.append(int(line, 16))
        except ValueError as e:
            raise ValueError(f"line {line_no} of the hex file is not a hex word: {line!r}") from e
    return words


def write_readmemh(path, words, word_bits):
    """Write `to_readmemh` text to ``path`` atomically (temporary file, then rename)."""
    from quant.fsio import atomic_write_text
    atomic_write_text(path, to_readmemh(words, word_bits))


def memory_bits(count, mode, word_bits):
    """Total memory bits to hold ``count`` codes packed into ``word_bits`` words."""
    return -(-count // codes_per_word(mode, word_bits)) * word_bits


def memory_init(codes, mode, word_bits):
    """Keyword arguments for ``amaranth.lib.memory.Memory`` holding packed ``codes``.

    ``Memory(**memory_init(codes, "ternary", 32))`` gives a memory whose word
    ``n`` equals ``pack(codes, "ternary", 32)[n]``.
    """
    words = pack(codes, mode, word_bits)
    return {"shape": word_bits, "depth": len(words), "init": words}
