# Deterministic CBOR codec: RFC 8949 Appendix A examples, section 4.2.1 rules, strict decoding.
# Runs under CPython and the MicroPython interpreter.
from mptest import Rng as _Rng, raises, unhex

from meterseal.crypto.cbor import Tag, decode, dumps, encode_into, head, loads, put_head, read_head
from meterseal.crypto.errors import DecodeError

# RFC 8949 Appendix A, Table 6: the examples within our subset (no floats, no undefined), whose
# encodings are already the deterministic ones.
_APPENDIX_A = [
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (Tag(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"),
    (Tag(1, 1363896240), "c11a514b67b0"),
    (Tag(23, b"\x01\x02\x03\x04"), "d74401020304"),
    (Tag(24, b"dIETF"), "d818456449455446"),
    (Tag(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
    (Tag(2, b"\x01\x00\x00\x00\x00\x00\x00\x00\x00"), "c249010000000000000000"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ('"\\', "62225c"),
    ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    ({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}, "a56161614161626142616361436164614461656145"),
]

# Appendix A items outside the deterministic subset, each with the reason the decoder gives.
_APPENDIX_A_REFUSED = [
    ("f7", "unsupported simple value"),  # undefined
    ("f0", "unsupported simple value"),  # simple(16)
    ("f8ff", "unsupported simple value"),  # simple(255)
    ("f90000", "float"),  # 0.0
    ("fb3ff199999999999a", "float"),  # 1.1
    ("fa47c35000", "float"),  # 100000.0
    ("f97c00", "float"),  # Infinity
    ("5f42010243030405ff", "indefinite"),
    ("7f657374726561646d696e67ff", "indefinite"),
    ("9fff", "indefinite"),
    ("9f018202039f0405ffff", "indefinite"),
    ("83018202039f0405ff", "indefinite"),
    ("bf61610161629f0203ffff", "indefinite"),
    ("bf6346756ef563416d7421ff", "indefinite"),
]


def test_appendix_a_encode():
    for value, hx in _APPENDIX_A:
        assert dumps(value) == unhex(hx), hx


def test_appendix_a_decode():
    for value, hx in _APPENDIX_A:
        got = loads(unhex(hx))
        assert got == value, hx
        assert type(got) is type(value) or isinstance(value, list), hx


def test_appendix_a_refused():
    for hx, reason in _APPENDIX_A_REFUSED:
        with raises(DecodeError, match=reason):
            loads(unhex(hx))


def test_encode_input_types():
    assert dumps(bytearray(b"\x01\x02")) == unhex("420102")
    assert dumps(memoryview(b"abc")[1:]) == unhex("426263")
    assert dumps((1, (2,))) == unhex("82018102")
    assert dumps(2**64 - 1) == unhex("1bffffffffffffffff")
    assert dumps(-(2**64)) == unhex("3bffffffffffffffff")
    for bad in (2**64, -(2**64) - 1, 1.5, set(), object()):
        with raises(ValueError):
            dumps(bad)
    for badkey in ({True: 1}, {None: 1}, {(1,): 2}):
        with raises(ValueError, match="map key"):
            dumps(badkey)


def test_head_boundaries():
    # Section 4.2.1 preferred serialisation: the argument in the fewest bytes, at every boundary.
    cases = [
        (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65535, "19ffff"),
        (65536, "1a00010000"), (2**32 - 1, "1affffffff"), (2**32, "1b0000000100000000"),
    ]
    for n, hx in cases:
        assert head(0, n) == unhex(hx)
        assert loads(unhex(hx)) == n
        assert dumps(-1 - n) == bytes((0x20 | unhex(hx)[0],)) + unhex(hx)[1:]
    big = b"x" * 300
    assert dumps(big)[:3] == unhex("59012c")
    assert loads(dumps(big)) == big


def test_map_key_order():
    # Section 4.2.1: sorted by the bytes of the encoded keys, so shorter encodings first and
    # major type order before value order: 10, 100, -1, h'00', "z", "aa".
    m = {"aa": 6, "z": 5, b"\x00": 4, -1: 3, 100: 2, 10: 1}
    enc = dumps(m)
    assert enc == unhex("a6" "0a01" "186402" "2003" "410004" "617a05" "62616106")
    assert loads(enc) == m
    # Insertion order must not matter.
    m2 = {}
    for k in (10, 100, -1, b"\x00", "z", "aa"):
        m2[k] = m[k]
    assert dumps(m2) == enc
    # COSE labels: 1 (alg) before 4 (kid) before 33 (x5chain) before -1.
    assert dumps({33: 0, -1: 0, 4: 0, 1: 0}) == unhex("a4" "0100" "0400" "182100" "2000")


def test_reject_non_shortest():
    for hx in (
        "1800", "1817", "190000", "1900ff", "1a00000000", "1a0000ffff", "1b0000000000000000",
        "1b00000000ffffffff", "3817", "39001f", "5800", "590001" "00", "7800", "9800",
        "b800", "d800" "00", "d90012" "00",
    ):
        with raises(DecodeError, match="non-shortest"):
            loads(unhex(hx))


def test_reject_reserved_and_indefinite():
    for major in range(0, 7):
        for ai in (28, 29, 30):
            with raises(DecodeError, match="reserved"):
                loads(bytes((major << 5 | ai, 0, 0, 0, 0, 0, 0, 0, 0)))
    for ib in (0x1F, 0x3F, 0x5F, 0x7F, 0x9F, 0xBF, 0xDF, 0xFF):
        with raises(DecodeError, match="indefinite"):
            loads(bytes((ib, 0xFF)))
    for ib in (0xFC, 0xFD, 0xFE):
        with raises(DecodeError, match="reserved"):
            loads(bytes((ib,)))
    with raises(DecodeError, match="unsupported simple"):
        loads(unhex("f814"))  # false in the two-byte form is not well-formed (section 3.3)


def test_reject_map_order_and_duplicates():
    with raises(DecodeError, match="unsorted"):
        loads(unhex("a2" "0200" "0100"))
    with raises(DecodeError, match="unsorted"):
        loads(unhex("a2" "2000" "0a00"))  # -1 before 10
    with raises(DecodeError, match="unsorted"):
        loads(unhex("a2" "626161" "00" "617a" "00"))  # "aa" before "z"
    with raises(DecodeError, match="duplicate"):
        loads(unhex("a2" "0100" "0100"))
    with raises(DecodeError, match="duplicate"):
        loads(unhex("a3" "0100" "0200" "0200"))
    for hx in ("a1f500", "a1f600", "a1800000", "a1a00000", "a1c10000"):
        with raises(DecodeError, match="map key"):
            loads(unhex(hx))


def test_reject_trailing_bytes_and_stream_decode():
    with raises(DecodeError, match="trailing"):
        loads(unhex("0000"))
    buf = bytearray(unhex("ff" "83010203" "6161" "ff"))
    obj, pos = decode(buf, 1, len(buf))
    assert obj == [1, 2, 3] and pos == 5
    obj, pos = decode(buf, pos, len(buf) - 1)
    assert obj == "a" and pos == 7
    with raises(DecodeError, match="truncated"):
        decode(buf, 1, 4)  # the end bound is respected even though the buffer goes on
    with raises(DecodeError):
        decode(buf, 3, 99)
    assert decode(memoryview(buf), 1, 5) == ([1, 2, 3], 5)


def test_reject_invalid_utf8():
    for bad in ("ff", "c080", "c1bf", "e08080", "eda080", "edbfbf", "f08f8080", "f4908080", "f5808080",
                "e282", "80", "c3", "e2a8", "f09080"):
        raw = unhex(bad)
        with raises(DecodeError, match="utf-8"):
            loads(bytes((0x60 | len(raw),)) + raw)
    # Boundaries that are valid: U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF,
    # U+10000, U+10FFFF.
    for good in ("7f", "c280", "dfbf", "e0a080", "ed9fbf", "ee8080", "efbfbf", "f0908080", "f48fbfbf"):
        raw = unhex(good)
        s = loads(bytes((0x60 | len(raw),)) + raw)
        assert s.encode("utf-8") == raw


def test_reject_depth():
    ok = b"\x81" * 16 + b"\x00"
    v = loads(ok)
    for _ in range(16):
        v = v[0]
    assert v == 0
    with raises(DecodeError, match="nested"):
        loads(b"\x81" * 17 + b"\x00")
    with raises(DecodeError, match="nested"):
        loads(b"\xc1" * 40 + b"\x00")
    deep = 0
    for _ in range(17):
        deep = [deep]
    with raises(ValueError, match="nested"):
        dumps(deep)


def test_reject_lengths_beyond_buffer():
    # Claimed lengths are checked against the remaining bytes before anything is allocated.
    for hx in ("5affffffff", "7bffffffffffffffff", "9b00000001000000000102", "bbffffffffffffffff",
               "43010203"[:-2], "820102"[:-2], "a20102"):
        with raises(DecodeError, match="truncated"):
            loads(unhex(hx))


_SAMPLE = {
    1: -7,
    4: b"kid-1",
    33: [b"\x30\x82" + b"\x00" * 40, b"\x30\x81" + b"\x11" * 30],
    "cmd": "set_tariff",
    "args": [1, -2, 300, 70000, 2**40, -(2**33), True, False, None],
    "n": {"x": Tag(1, 1700000000)},
}


def test_truncation_at_every_position():
    enc = dumps(_SAMPLE)
    assert loads(enc) == _SAMPLE
    for cut in range(len(enc)):
        with raises(DecodeError, match="truncated"):
            loads(enc[:cut])
        with raises(DecodeError, match="truncated"):
            decode(enc, 0, cut)


def test_encode_into_appends():
    out = bytearray(b"\xaa")
    encode_into(out, [1, "a"])
    encode_into(out, b"\x00")
    assert out == unhex("aa" "82016161" "4100")


def _check_strict(buf):
    # Anything accepted must be canonical: re-encoding gives the same bytes back. Anything else
    # must raise DecodeError, and nothing else.
    try:
        v = loads(buf)
    except DecodeError:
        return 0
    assert dumps(v) == bytes(buf), buf
    return 1


def test_random_garbage():
    rng = _Rng(0x1234567)
    accepted = 0
    for i in range(1500):
        # Mostly short inputs, so that a fair share forms complete items; every third starts with
        # a small array or map head so the decoder also recurses.
        n = 1 + rng.next() % (24 if i % 4 == 0 else 4)
        buf = rng.bytes(n)
        if i % 3 == 0:
            buf = bytes((0x80 | rng.next() % 0x40,)) + buf
        accepted += _check_strict(buf)
    assert accepted > 30  # the generator does reach valid items (54 with this seed)


def test_mutations_of_valid_encoding():
    rng = _Rng(0xBEEF)
    enc = dumps(_SAMPLE)
    accepted = 0
    for _ in range(800):
        buf = bytearray(enc)
        for _ in range(1 + rng.next() % 3):
            pos = rng.next() % len(buf)
            buf[pos] = rng.next() & 0xFF
        accepted += _check_strict(buf)
    assert accepted > 0


def test_read_head_and_put_head():
    buf = unhex("00" "59012c" "9a00010000" "c1")
    assert read_head(buf, 0, len(buf)) == (0x00, 0, 1)
    assert read_head(buf, 1, len(buf)) == (0x40, 300, 4)
    assert read_head(buf, 4, len(buf)) == (0x80, 65536, 9)
    assert read_head(buf, 9, len(buf)) == (0xC0, 1, 10)
    with raises(DecodeError, match="truncated"):
        read_head(buf, 1, 3)
    with raises(DecodeError, match="not a head"):
        read_head(b"\xf5", 0, 1)
    out = bytearray()
    for major, n in ((0x20, 0), (0x40, 24), (0x60, 256), (0x80, 65536), (0xA0, 2**32)):
        put_head(out, major, n)
    assert out == unhex("20" "5818" "790100" "9a00010000" "bb0000000100000000")
    with raises(ValueError):
        put_head(out, 0, 2**64)
