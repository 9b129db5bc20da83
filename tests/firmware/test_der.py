# Strict DER (X.690 section 10) reading and writing; runs under CPython and MicroPython.
from mptest import raises, unhex

from meterseal.crypto import der
from meterseal.crypto.errors import DecodeError


def _reason(fn, *args):
    try:
        fn(*args)
    except DecodeError as e:
        return e.args[0]
    raise AssertionError("no DecodeError")


def test_read_tlv_short_and_long_form():
    buf = b"\x04\x03abc"
    assert der.read_tlv(buf, 0, len(buf)) == (4, 2, 5)
    long = b"\x04\x81\x80" + bytes(128)
    assert der.read_tlv(long, 0, len(long)) == (4, 3, 131)
    two = b"\x04\x82\x01\x00" + bytes(256)
    assert der.read_tlv(memoryview(two), 0, len(two)) == (4, 4, 260)
    # In place: a TLV in the middle of a bigger buffer, bounded by `end`.
    mid = b"\xff\xff\x02\x01\x05\xff"
    assert der.read_tlv(mid, 2, 5) == (2, 4, 5)


def test_read_tlv_rejects_non_der_lengths():
    assert _reason(der.read_tlv, b"\x30\x80\x00\x00", 0, 4) == "length"  # indefinite
    assert _reason(der.read_tlv, b"\x04\x81\x05abcde", 0, 8) == "length"  # should be short form
    assert _reason(der.read_tlv, b"\x04\x82\x00\x81" + bytes(0x81), 0, 0x85) == "length"  # leading 0
    assert _reason(der.read_tlv, b"\x04\xff" + bytes(8), 0, 10) == "length"  # reserved
    assert _reason(der.read_tlv, b"\x04\x85\x01\x00\x00\x00\x00", 0, 7) == "length"  # too big


def test_read_tlv_truncation_and_high_tag():
    assert _reason(der.read_tlv, b"", 0, 0) == "truncated"
    assert _reason(der.read_tlv, b"\x04", 0, 1) == "truncated"
    assert _reason(der.read_tlv, b"\x04\x03ab", 0, 4) == "truncated"
    assert _reason(der.read_tlv, b"\x04\x82\x01", 0, 3) == "truncated"
    # `end` bounds the read even when the buffer goes on.
    assert _reason(der.read_tlv, b"\x04\x03abc", 0, 4) == "truncated"
    assert _reason(der.read_tlv, b"\x1f\x21\x01\x00", 0, 4) == "tag"
    assert _reason(der.read_tlv, b"\xbf\x81\x00\x00", 0, 4) == "tag"


def test_expect_and_read_all():
    with raises(DecodeError, match="tag"):
        der.expect(b"\x04\x00", 0, 2, der.SEQUENCE)
    with raises(DecodeError, match="trailing"):
        der.read_all(b"\x30\x00\x00", der.SEQUENCE)
    assert der.read_all(b"\x30\x02\x05\x00", der.SEQUENCE) == (2, 4)


def test_integer_edge_cases():
    cases = [
        (0, "020100"), (1, "020101"), (127, "02017f"), (128, "02020080"), (255, "020200ff"),
        (256, "02020100"), (-1, "0201ff"), (-128, "020180"), (-129, "0202ff7f"),
        (2**64, "0209010000000000000000"),
    ]
    for v, h in cases:
        enc = unhex(h)
        assert der.encode_integer(v) == enc, h
        assert der.read_integer(enc, 0, len(enc), True) == (v, len(enc)), h
    for bad in ("0200", "02020000", "0202007f", "0202ff80", "0203000001"):
        enc = unhex(bad)
        assert _reason(der.read_integer, enc, 0, len(enc), True) == "integer", bad
    # Negative where a positive is required.
    assert _reason(der.read_integer, b"\x02\x01\x80", 0, 3) == "integer"
    assert _reason(der.read_integer, b"\x02\x01\xff", 0, 3) == "integer"


def test_boolean_and_bit_string():
    assert der.read_boolean(b"\x01\x01\xff", 0, 3) == (True, 3)
    assert der.read_boolean(b"\x01\x01\x00", 0, 3) == (False, 3)
    assert _reason(der.read_boolean, b"\x01\x01\x01", 0, 3) == "boolean"  # X.690 11.1
    assert _reason(der.read_boolean, b"\x01\x02\xff\xff", 0, 4) == "boolean"
    assert der.read_bit_string(b"\x03\x02\x05\xa0", 0, 4) == (5, 3, 4, 4)
    assert der.read_bit_string(b"\x03\x01\x00", 0, 3) == (0, 3, 3, 3)
    assert _reason(der.read_bit_string, b"\x03\x00", 0, 2) == "bitstring"
    assert _reason(der.read_bit_string, b"\x03\x01\x01", 0, 3) == "bitstring"
    assert _reason(der.read_bit_string, b"\x03\x02\x08\x00", 0, 4) == "bitstring"
    assert _reason(der.read_bit_string, b"\x03\x02\x05\xa1", 0, 4) == "bitstring"  # unused != 0


def test_oid_round_trips():
    known = [
        ("1.2.840.10045.4.3.2", "2a8648ce3d040302"),
        ("1.2.840.10045.2.1", "2a8648ce3d0201"),
        ("1.2.840.10045.3.1.7", "2a8648ce3d030107"),
        ("1.3.36.3.3.2.8.1.1.7", "2b2403030208010107"),
        ("2.5.29.19", "551d13"),
        ("2.999.3", "883703"),
        ("0.0", "00"),
    ]
    for dotted, h in known:
        assert der.encode_oid_body(dotted) == unhex(h), dotted
        enc = der.encode_oid(dotted)
        assert der.read_oid(enc, 0, len(enc)) == (dotted, len(enc))
    role = "2.25.198461893791906648751128240102168423630"
    enc = der.encode_oid(role)
    assert der.read_oid(memoryview(enc), 0, len(enc))[0] == role
    long_ok = der.encode_oid_body("1.2." + ".".join(["127"] * 63))
    assert len(long_ok) == 64 and der.oid_str(long_ok, 0, 64).endswith(".127.127")
    assert _reason(der.oid_str, long_ok + b"\x01", 0, 65) == "oid"  # over 64 octets
    for bad in ("", "8001", "2a86"):  # empty, non-minimal subidentifier, unterminated
        body = unhex(bad)
        assert _reason(der.oid_str, body, 0, len(body)) == "oid", bad
    for bad in ("1", "3.1", "1.40", "a.b"):
        assert _reason(der.encode_oid_body, bad) == "oid", bad


def _t(tag, text):
    b = text.encode()
    return bytes((tag, len(b))) + b


def test_time_parsing_and_century_rule():
    # RFC 5280 4.1.2.5.1: YY >= 50 is 19YY, YY < 50 is 20YY.
    assert der.read_time(_t(der.UTC_TIME, "500101000000Z"), 0, 15)[0] == -631152000
    assert der.read_time(_t(der.UTC_TIME, "491231235959Z"), 0, 15)[0] == 2524607999
    assert der.read_time(_t(der.UTC_TIME, "700101000000Z"), 0, 15)[0] == 0
    assert der.read_time(_t(der.GENERALIZED_TIME, "20500101000000Z"), 0, 17)[0] == 2524608000
    assert der.read_time(_t(der.GENERALIZED_TIME, "20240229120000Z"), 0, 17)[0] == 1709208000
    assert der.read_time(_t(der.GENERALIZED_TIME, "99991231235959Z"), 0, 17)[0] == 253402300799
    for bad in ("500101000000", "5001010000Z", "500101000000+0100", "501301000000Z",
                "500132000000Z", "230229000000Z", "500101240000Z", "500101006000Z",
                "500101000060Z", "5001010000 0Z", "-00101000000Z"):
        tlv = _t(der.UTC_TIME, bad)
        assert _reason(der.read_time, tlv, 0, len(tlv)) in ("time", "length"), bad
    for bad in ("20500101000000.5Z", "205001010000Z", "2050010100000Z0", "21000229000000Z"):
        tlv = _t(der.GENERALIZED_TIME, bad)
        assert _reason(der.read_time, tlv, 0, len(tlv)) == "time", bad
    assert _reason(der.read_time, b"\x04\x00", 0, 2) == "tag"


def test_calendar_against_known_days():
    assert der.days_from_civil(1970, 1, 1) == 0
    assert der.days_from_civil(1969, 12, 31) == -1
    assert der.days_from_civil(2000, 3, 1) == 11017
    assert der.days_from_civil(2100, 3, 1) == 47541
    # Walk 400 years (one Gregorian cycle) day by day from the month lengths.
    n = der.days_from_civil(1900, 1, 1)
    for y in range(1900, 2300):
        for m in range(1, 13):
            assert der.days_from_civil(y, m, 1) == n, (y, m)
            n += der._month_days(y, m)


def test_ecdsa_sig_round_trip_and_strictness():
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    for r, s in ((1, 1), (n - 1, n - 1), (0x80, 0x7F), (2**255, 3)):
        sig = der.encode_ecdsa_sig(r, s)
        assert der.decode_ecdsa_sig(sig) == (r, s)
        assert der.decode_ecdsa_sig(memoryview(sig)) == (r, s)
    assert der.encode_ecdsa_sig(1, 0x80) == unhex("3007020101020200" + "80")
    good = der.encode_ecdsa_sig(5, 7)
    assert _reason(der.decode_ecdsa_sig, good + b"\x00") == "trailing"
    assert _reason(der.decode_ecdsa_sig, good[:-1]) == "truncated"
    assert _reason(der.decode_ecdsa_sig, unhex("3009020105020107020101")) == "trailing"
    assert _reason(der.decode_ecdsa_sig, unhex("3003020105")) == "truncated"
    assert _reason(der.decode_ecdsa_sig, unhex("300602010502 01ff".replace(" ", ""))) == "integer"
    assert _reason(der.decode_ecdsa_sig, unhex("3081060201050201 07".replace(" ", ""))) == "length"
    assert _reason(der.decode_ecdsa_sig, unhex("31060201050201 07".replace(" ", ""))) == "tag"
    assert _reason(der.decode_ecdsa_sig, unhex("3007020200050201 07".replace(" ", ""))) == "integer"
    assert _reason(der.decode_ecdsa_sig, unhex("3080020105020107 0000".replace(" ", ""))) == "length"
    with raises(ValueError):
        der.encode_ecdsa_sig(-1, 1)


def test_encoders_match_known_bytes():
    assert der.encode_tlv(der.OCTET_STRING, b"") == b"\x04\x00"
    assert der.encode_tlv(der.OCTET_STRING, bytes(127))[:2] == b"\x04\x7f"
    assert der.encode_tlv(der.OCTET_STRING, bytes(128))[:3] == b"\x04\x81\x80"
    assert der.encode_tlv(der.OCTET_STRING, bytes(0x1234))[:4] == b"\x04\x82\x12\x34"
    assert der.encode_boolean(True) == b"\x01\x01\xff"
    assert der.encode_bit_string(b"\x80", 7) == b"\x03\x02\x07\x80"
    assert der.encode_utf8("operator") == b"\x0c\x08operator"
    assert der.encode_sequence(der.encode_integer(1), b"\x05\x00") == b"\x30\x05\x02\x01\x01\x05\x00"
    # Three length octets: only the header is built, `end` stands for the 70000-byte value.
    hdr = b"\x04" + der.encode_length(70000)
    assert hdr == b"\x04\x83\x01\x11\x70"
    assert der.read_tlv(hdr, 0, 70005) == (4, 5, 70005)
