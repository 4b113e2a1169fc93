import json

import pytest

from quant import FixedFormat


def test_parse_and_str_round_trip():
    assert FixedFormat.parse("16.12") == FixedFormat(total=16, frac=12, signed=True)
    assert FixedFormat.parse("u8.8") == FixedFormat(total=8, frac=8, signed=False)
    for text in ("16.12", "u8.8", "1.0", "48.47"):
        assert str(FixedFormat.parse(text)) == text
        assert FixedFormat.from_json(json.loads(json.dumps(FixedFormat.parse(text).to_json()))) \
            == FixedFormat.parse(text)


def test_ranges():
    f = FixedFormat.parse("8.4")
    assert (f.min_code, f.max_code) == (-128, 127)
    assert (f.min_value, f.max_value, f.resolution) == (-8.0, 127 / 16, 1 / 16)
    u = FixedFormat.parse("u8.8")
    assert (u.min_code, u.max_code, u.max_value) == (0, 255, 255 / 256)
    assert FixedFormat.parse("8.4").int_bits == 4


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(total=0, frac=0), ValueError, "`total` must be a positive integer of at most 48 bits, not 0"),
    (dict(total=-3, frac=0), ValueError, "not -3"),
    (dict(total=49, frac=0), ValueError, "not 49"),
    (dict(total=8, frac=9), ValueError, "`frac` must be between 0 and total=8, not 9"),
    (dict(total=8, frac=-1), ValueError, "`frac` must be between 0 and total=8, not -1"),
    (dict(total=8.0, frac=1), TypeError, "`total` must be an integer, not 8.0"),
    (dict(total=8, frac=1, signed="yes"), TypeError, "`signed` must be a bool"),
])
def test_invalid_formats(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        FixedFormat(**kwargs)


@pytest.mark.parametrize("text", ["16", "16.", "a.b", "s16.12", "16.12.1", "-8.4"])
def test_parse_rejects(text):
    with pytest.raises(ValueError, match="format must look like 'TOTAL.FRAC'"):
        FixedFormat.parse(text)


def test_parse_rejects_non_string():
    with pytest.raises(TypeError, match="format must be a string"):
        FixedFormat.parse(16.12)


def test_frozen_and_hashable():
    f = FixedFormat.parse("8.4")
    with pytest.raises(AttributeError):
        f.total = 9
    assert {f: 1}[FixedFormat(total=8, frac=4)] == 1
