# EN 13757-3 records: public telegrams (tests/vectors/mbus) to their documented values, and our
# encoder's exact bytes. Runs under CPython and MicroPython.
from mptest import raises, unhex

from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me
from meterseal.proto import mbus_records as mr
from meterseal.proto.mbus_units import KIND_DATE, describe, describe_record

_FN = {"inst": mbus.FN_INSTANT, "max": mbus.FN_MAXIMUM, "min": mbus.FN_MINIMUM, "err": mbus.FN_ERROR,
       "mfr": mbus.FN_MANUFACTURER}


def _vector_path():
    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return d + "/../vectors/mbus/wired_telegrams.txt"


def _telegrams():
    """Yield (name, frame, header fields, [record lines], more, [unit texts]) per telegram."""
    cur = None
    with open(_vector_path()) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] == "#":
                continue
            parts = line.split()
            if parts[0] == "T":
                if cur:
                    yield cur
                cur = [parts[1], unhex(parts[2]), None, [], False, []]
            elif parts[0] == "H":
                cur[2] = parts[1:]
            elif parts[0] == "R":
                cur[3].append(parts[1:])
            elif parts[0] == "M":
                cur[4] = True
            elif parts[0] == "U":
                cur[5].append(parts[1])
    if cur:
        yield cur


def _expected_value(s):
    if s == "none":
        return None
    if s.startswith("date:"):
        y, m, d = s[5:].split("-")
        return (int(y), int(m), int(d))
    if s.startswith("time:"):
        date, t = s[5:].split("T")
        y, m, d = date.split("-")
        hh, mm = t.split(":")
        return (int(y), int(m), int(d), int(hh), int(mm))
    if s.startswith("hex:"):
        return unhex(s[4:])
    if s.startswith("bin:"):  # libmbus prints a binary number most significant byte first
        b = unhex(s[4:])
        return bytes(b[i] for i in range(len(b) - 1, -1, -1))
    return int(s)


def _decode(frame):
    kind, c, a, ci, ds, de = mbus.parse(frame)
    assert kind == mbus.KIND_LONG and c & 0x4F == mbus.C_RSP_UD and ci == mbus.CI_RSP_VARIABLE
    header = mr.parse_header(frame, ds, de)
    recs, more = mr.parse_records(frame, ds + mbus.HEADER_LEN, de)
    return header, recs, more


def test_public_telegrams_decode_to_documented_values():
    n = 0
    for name, frame, h, rlines, more, texts in _telegrams():
        header, recs, got_more = _decode(frame)
        ident, man, ver, med, acc, st, cfg = header
        assert (ident, man, ver, med, acc, st) == (
            None if h[0] == "none" else int(h[0]), h[1], int(h[2]), int(h[3], 16), int(h[4]), int(h[5], 16)), (name, header)
        assert cfg == 0
        assert len(recs) == len(rlines), (name, len(recs), len(rlines))
        for i in range(len(recs)):
            r = recs[i]
            fn, st_no, tariff, sub, unit, exp, value = rlines[i]
            where = (name, i, r)
            assert r.function == _FN[fn], where
            assert (r.storage, r.tariff, r.subunit) == (int(st_no), int(tariff), int(sub)), where
            if fn != "mfr":
                q, u, e, kind = describe_record(r.vif, r.vife, r.text)
                if kind == KIND_DATE:
                    # "date (/time) of" VIFEs (6F): the vectors give the bare VIF's unit
                    u, e = describe(r.vif, b"", r.text)[1:]
                assert (u or "-") == unit and e == int(exp), (where, q, u, e)
            assert r.value == _expected_value(value), (where, r.value)
        assert got_more == more, name
        got_texts = [r.text for r in recs if r.text is not None]
        assert got_texts == texts, name
        n += 1
    assert n >= 10


def test_reference_examples_by_name():
    # protocols-reference.md 1.12 and 1.13, checked field by field once more in plain words
    frame = unhex("6821216808017202376200A815000207000000"
                  "8C1004090400 00C4002A0000000001FD17008C16".replace(" ", ""))
    header, recs, more = _decode(frame)
    assert header[:2] == (623702, "EMH")
    assert describe(recs[0].vif) == ("energy", "Wh", 1) and recs[0].value * 10 == 4090
    assert describe(recs[2].vif) == ("error flags", "", 0)
    frame = unhex("68202068 08FD72 7856341293153303 2A000000 0C1427048502 046D32371F15 "
                  "02FD170000 8916".replace(" ", ""))
    header, recs, more = _decode(frame)
    assert header[:4] == (12345678, "ELS", 0x33, 3)
    assert describe(recs[0].vif) == ("volume", "m3", -2) and recs[0].value == 2850427
    assert recs[1].value == (2008, 5, 31, 23, 50)


def test_manufacturer_codes():
    for text, code in (("EMH", 0x15A8), ("ELS", 0x1593), ("KAM", 0x2C2D), ("APA", 0x0601),
                       ("EFE", 0x14C5), ("DZG", 0x1347), ("ESY", 0x1679), ("ISK", 0x266B),
                       ("LGB", 0x30E2)):
        assert me.manufacturer_code(text) == code
        assert mr.manufacturer_text(code) == text
    with raises(mbus.FrameError, match="manufacturer"):
        me.manufacturer_code("M5L")


def test_bcd_and_integers():
    out = bytearray()
    me.bcd_encode(out, 409, 4)
    assert bytes(out) == b"\x09\x04\x00\x00"
    out = bytearray()
    me.bcd_encode(out, -234, 2)
    assert bytes(out) == b"\x34\xf2" and mr.bcd_decode(out, 0, 2) == -234
    assert mr.bcd_decode(b"\x0a\x00", 0, 2) is None
    for n in (1, 2, 3, 4, 6, 8):
        for v in (0, 1, -1, (1 << (8 * n - 1)) - 1, -(1 << (8 * n - 1))):
            out = bytearray()
            me.int_encode(out, v, n)
            assert len(out) == n and mr.int_decode(out, 0, n) == v
        with raises(mbus.FrameError, match="range"):
            me.int_encode(bytearray(), 1 << (8 * n - 1), n)
    with raises(mbus.FrameError, match="range"):
        me.bcd_encode(bytearray(), 100000000, 4)
    with raises(mbus.FrameError, match="range"):
        me.bcd_encode(bytearray(), -10000000, 4)


def test_time_points_both_ways():
    for raw, t in (("3A0DE602", (2007, 2, 6, 13, 58)), ("32371F15", (2008, 5, 31, 23, 50)),
                   ("272E2F3A", (2025, 10, 15, 14, 39))):
        assert mr.date_decode(unhex(raw), 0, 4) == t
        out = bytearray()
        me.date_encode(out, t, 4)
        assert mr.date_decode(out, 0, 4) == t
    assert mr.date_decode(unhex("E101"), 0, 2) == (2007, 1, 1)
    assert mr.date_decode(unhex("8A0DE602"), 0, 4) is None  # IV bit: time invalid
    out = bytearray()
    me.date_encode(out, (2026, 3, 1, 12, 0), 4)
    assert out[1] >> 5 == 1  # hundred-year bits say 20xx (EN 13757-3 Annex A type F)
    assert me.civil(0) == (1970, 1, 1, 0, 0, 0)
    assert me.civil(951782400) == (2000, 2, 29, 0, 0, 0)
    assert me.civil(1767225599) == (2025, 12, 31, 23, 59, 59)
    assert me.civil(4107542400) == (2100, 3, 1, 0, 0, 0)


def test_encode_records_exact_bytes():
    out = bytearray()
    # the EMH record of protocols-reference 1.12: tariff 1, 10 Wh, BCD8 409
    me.encode_record(out, mbus.DF_BCD8, 0x04, 409, tariff=1)
    assert bytes(out) == unhex("8C100409040000")
    out = bytearray()
    me.encode_record(out, mbus.DF_INT32, 0x2A, 0, storage=1)
    assert bytes(out) == unhex("442A00000000")  # storage 1 is DIF bit 6: no (empty) DIFE
    out = bytearray()
    me.encode_record(out, mbus.DF_INT8, 0xFD17, 0)
    assert bytes(out) == unhex("01FD1700")
    out = bytearray()
    me.encode_record(out, mbus.DF_INT8, mbus.VIF_BUS_ADDRESS, 5)
    assert bytes(out) == unhex("017A05")  # set primary address (protocols-reference 1.6)
    out = bytearray()
    me.encode_record(out, mbus.DF_INT32, 0x03, 1234, vife=b"\x3c", storage=2, tariff=5, subunit=2)
    recs, more = mr.parse_records(out, 0, len(out))
    r = recs[0]
    assert (r.storage, r.tariff, r.subunit, r.vif, r.vife, r.value) == (2, 5, 2, 3, b"\x3c", 1234)
    assert describe(r.vif, r.vife) == ("energy backward", "Wh", 0)
    out = bytearray()
    me.encode_record(out, mbus.DF_VARIABLE, 0xFD0E, "1.2.3")
    assert bytes(out) == b"\x0d\xfd\x0e\x05" + b"3.2.1"
    recs, more = mr.parse_records(out, 0, len(out))
    assert recs[0].value == "1.2.3"


def test_header_round_trip_and_secondary_text():
    h = me.pack_header(12345678, "EMH", 1, 2, 7, 0)
    assert bytes(h) == unhex("78563412A8150102070000 00".replace(" ", ""))
    assert mr.parse_header(h, 0, 12) == (12345678, "EMH", 1, 2, 7, 0, 0)
    a = me.pack_address(12345678, "EMH", 1, 2)
    assert mbus.secondary_to_text(a) == "12345678A8150102"
    assert mbus.secondary_from_text("12345678A8150102") == a
    assert mbus.secondary_from_text("12345678") == unhex("78563412FFFFFFFF")
    # ID digits A-E are no BCD, but meters use them and libmbus selects them
    assert mbus.secondary_from_text("1234567A") == unhex("7A563412FFFFFFFF")
    with raises(mbus.FrameError):
        mbus.secondary_from_text("1234567G")
    with raises(mbus.FrameError):
        mr.parse_header(h, 0, 11)
    assert mr.parse_header(unhex("E5020005000012022500000"+"0"), 0, 12)[0] is None


def test_bad_records_raise_frame_error():
    for raw, reason in (("04", "truncated"), ("0403", "truncated"), ("040300", "truncated"),
                        ("3F", "dif"), ("8480808080808080808080800300000000", "dife"),
                        ("0483FFFFFFFFFFFFFFFFFFFF7F00000000", "vife"), ("0D03F7", "lvar"),
                        ("0D0305414243", "truncated"), ("037C0541", "truncated")):
        with raises(mbus.FrameError, match=reason):
            mr.parse_records(unhex(raw), 0, len(raw) // 2)
    recs, more = mr.parse_records(unhex("2F2F0403E80300002F1F0102"), 0, 12)
    assert [r.value for r in recs] == [1000, b"\x01\x02"] and more


def test_plain_text_unit_before_the_vifes_is_read_too():
    # libmbus test frame ELV-Elvaco-CMa10: "02 FC 03 48 52 25 74 22 15" puts the text ("%RH"
    # reversed) right after the VIF and the VIFE 74 after it; EN 13757-3 puts it after the VIFEs
    # (libmbus PR #229). The standard placement is tried first, then this one.
    frame = unhex("68535368080B7261150124961516003F00000001FD1B0202FC0348522574221522FC"
                  "0348522574240D12FC0348522574C31C02652E0822655C051265A20B01721842652C08"
                  "8201651F080C786115012403FD0F0000041FBD16")
    header, recs, more = _decode(frame)
    assert header[:2] == (24011561, "ELV") and len(recs) == 13 and more
    rh = [r for r in recs if r.vif == 0x7C]
    assert [(r.text, r.vife, r.value) for r in rh] == [
        ("%RH", b"\x74", 5410), ("%RH", b"\x74", 3364), ("%RH", b"\x74", 7363)]
    assert recs[-3].value == 24011561  # the records after them are in step
    # the standard placement still wins when it parses (example_plain_text_placement)
    recs = mr.parse_records(unhex("03FC2003434241153100"), 0, 10)[0]
    assert (recs[0].text, recs[0].vife, recs[0].value) == ("ABC", b"\x20", 12565)


def test_every_combinable_vife_is_applied():
    # EN 13757-3 table 15: 70-77 scale by 10**(nnn-6), 7D by 1000, 6A/6B/6E/6F "date (/time) of",
    # 50-5F durations of limit exceeds, 28-2B per pulse; anything unknown gives no exponent.
    from meterseal.proto.mbus_units import KIND_DATE, KIND_UNKNOWN, describe_record
    assert describe(0x16, b"\xf4\x3c") == ("volume backward", "m3", -2)  # VIFE 74, then 3C
    assert describe(0x06, b"\x7d") == ("energy", "Wh", 6)
    assert describe(0x06, b"\x7d\x7f\x12") == ("energy", "Wh", 6)  # 7F: manufacturer's VIFEs
    q, u, e, k = describe_record(0x5A, b"\x6f")
    assert (u, e, k) == ("", None, KIND_DATE) and "date" in q and "flow temperature" in q
    q, u, e, k = describe_record(0x3E, b"\x50")
    assert (u, e, k) == ("s", 0, None) and "duration" in q and "limit" in q
    assert describe(0x10, b"\x28") == ("volume per input pulse, channel 0", "m3", -6)
    q, u, e, k = describe_record(0x06, b"\x78")  # additive correction: not handled
    assert e is None and k == KIND_UNKNOWN
    assert describe(0x7F, b"\x68") == ("manufacturer specific", "", 0)
    assert describe(0xFD48, b"\x74") == ("voltage", "V", -3)  # FD VIFs take VIFEs too
