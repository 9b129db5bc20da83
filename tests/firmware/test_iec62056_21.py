# IEC 62056-21 codec: public BCC vectors, real meters' identifications and data sets, the
# example exchanges of protocols-reference.md 3.8, OBIS reduced IDs, rejections.
from mptest import raises, unhex, vector_lines

from meterseal.proto import iec62056_21 as iec

_SOH, _STX, _ETX = b"\x01", b"\x02", b"\x03"


def _text(h):
    return "" if h == "''" else unhex(h).decode()


def test_bcc_public_vectors():
    n = 0
    for line in vector_lines("iec62056_21_bcc.txt"):
        msg_hex, bcc_hex, _src = line.split(" ")
        msg = unhex(msg_hex)
        want = int(bcc_hex, 16)
        assert iec.bcc(msg, 1) == want, line
        block = msg + bytes((want,))
        if msg[0] == 1:
            iec.decode_command(block)
        else:
            iec.decode_data_message(block)
        bad = msg + bytes((want ^ 0x01,))
        with raises(iec.FrameError, match="bcc"):
            (iec.decode_command if msg[0] == 1 else iec.decode_data_message)(bad)
        n += 1
    assert n == 12


def test_bcc_is_seven_bit_xor_with_parity_bit_ignored():
    # The parity bit is the UART's (7E1): a received BCC with bit 7 set is the same character.
    block = b"\x01B0\x03q"
    assert iec.bcc(block, 1, 4) == 0x71
    iec.decode_command(block[:4] + b"\xf1")
    assert iec.bcc(b"\x02\xff\x03", 1) == (0xFF ^ 0x03) & 0x7F


def test_encoders_give_the_published_bytes():
    # protocols-reference.md 3.4 / 3.8; pwitab tests/test_data.py.
    assert iec.encode_command("B", "0") == b"\x01B0\x03q"
    assert iec.encode_command("P", "1", b"(00000000)") == b"\x01P1\x02(00000000)\x03a"
    assert iec.encode_command("R", "1", iec.encode_data_set("1.8.0", "")) == \
        b"\x01R1\x021.8.0()\x03Z"
    assert iec.encode_command("R", "1", iec.encode_data_set("1.8.0", "1")) == \
        b"\x01R1\x021.8.0(1)\x03k"
    assert iec.encode_command("P", "0", b"()") == b"\x01P0\x02()\x03`"
    assert iec.encode_answer(b"(0032835.698*kWh)") == b"\x02(0032835.698*kWh)\x03Z"
    assert iec.encode_answer(b"3:171.0(0)") == b"\x023:171.0(0)\x03\x12"
    assert iec.encode_readout([b"1.8.0(001234.567*kWh)"]) == \
        b"\x021.8.0(001234.567*kWh)\r\n!\r\n\x03z"
    assert iec.encode_readout([b"3:14(314*kWh)4:15(415*kWh)"]) == \
        b'\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03"'
    assert iec.encode_request() == b"/?!\r\n"
    assert iec.encode_request("45678903") == b"/?45678903!\r\n"
    assert iec.encode_ack_option("5", "0") == b"\x06050\r\n"
    assert iec.encode_ack_option("5", "1") == b"\x06051\r\n"
    assert iec.encode_identification("Els", "6", "EK280", "2") == b"/Els6\\2EK280\r\n"
    assert iec.encode_identification("ISK", "5", "ME162-0033") == b"/ISK5ME162-0033\r\n"
    err = iec.encode_error("ERROR")  # LEM EM4TII manual p.17's example text
    s, e, _ = iec.decode_data_message(err)
    assert err[:9] == b"\x02(ERROR)\x03" and iec.parse_data_sets(err, s, e) == [("", "ERROR", None)]


def test_iskra_me162_readout_exchange():
    # protocols-reference.md 3.8 (wdoekes/pe32me162ir_pub, ISKRA ME-162 session).
    assert iec.decode_request(b"/?!\r\n") == ""
    man, z, ident, enh = iec.decode_identification(b"/ISK5ME162-0033\r\n")
    assert (man, z, ident, enh) == ("ISK", "5", "ME162-0033", None)
    assert iec.mode_of(z) == ("C", 9600)
    assert iec.decode_ack_option(b"\x06050\r\n") == ("0", "5", "0")
    data = b"\x02C.1.0(12345678)\r\n1.8.0(0032835.698*kWh)\r\n!\r\n\x03"
    data += bytes((iec.bcc(data, 1),))
    s, e, partial = iec.decode_data_message(data)
    assert not partial
    assert iec.parse_data_sets(data, s, e) == [("C.1.0", "12345678", None),
                                               ("1.8.0", "0032835.698", "kWh")]


def test_iskra_me162_programming_exchange():
    # protocols-reference.md 3.8: ACK 051, P0 (), R1 1.8.0(), answer, B0.
    assert iec.decode_ack_option(b"\x06051\r\n") == ("0", "5", "1")
    cmd, ctype, ds, de = iec.decode_command(b"\x01P0\x02()\x03`")
    assert (cmd, ctype) == ("P", "0")
    assert iec.parse_data_sets(b"\x01P0\x02()\x03`", ds, de) == [("", "", None)]
    msg = b"\x01R1\x021.8.0()\x03Z"
    cmd, ctype, ds, de = iec.decode_command(msg)
    assert (cmd, ctype) == ("R", "1")
    assert iec.parse_data_sets(msg, ds, de) == [("1.8.0", "", None)]
    ans = b"\x02(0032835.698*kWh)\x03Z"
    s, e, _ = iec.decode_data_message(ans)
    assert iec.parse_data_sets(ans, s, e) == [("", "0032835.698", "kWh")]
    assert iec.decode_command(b"\x01B0\x03q") == ("B", "0", None, None)


def test_emh_password_exchange():
    # protocols-reference.md 3.8 (LEM EM4TII manual p.14): /EMH5\@..., ACK 051, P0, P1 (00000000).
    man, z, ident, enh = iec.decode_identification(b"/EMH5\\@D4EM4TWII001--\r\n")
    assert (man, z, ident, enh) == ("EMH", "5", "D4EM4TWII001--", "@")
    msg = b"\x01P1\x02(00000000)\x03a"
    cmd, ctype, ds, de = iec.decode_command(msg)
    assert (cmd, ctype) == ("P", "1")
    assert iec.parse_data_sets(msg, ds, de) == [("", "00000000", None)]


def test_identifications_of_real_meters():
    n = 0
    for line in vector_lines("iec62056_21_identification.txt"):
        msg, man, z, ident, enh, _src = line.split(" ")
        got = iec.decode_identification(unhex(msg))
        assert got == (man, z, _text(ident), None if enh == "-" else enh), line
        n += 1
    assert n == 9


def test_data_sets_of_real_meters():
    n = 0
    for line in vector_lines("iec62056_21_data_sets.txt"):
        ds, a, v, u, _src = line.split(" ")
        raw = unhex(ds) + b"\r\n"
        want = (_text(a), _text(v), None if u == "-" else _text(u))
        assert iec.parse_data_sets(raw) == [want], line
        n += 1
    assert n == 14


def test_data_line_with_several_sets_and_partial_block():
    # pwitab tests/test_data.py: one line, three sets; the EOT variant of an answer.
    got = iec.parse_data_sets(b"12(12*kWh)13(13*kWh)14(14*kwh)\r\n")
    assert got == [("12", "12", "kWh"), ("13", "13", "kWh"), ("14", "14", "kwh")]
    blk = b"\x023:14(314*kWh)4:15(415*kWh)\r\n\x03\x04"
    s, e, partial = iec.decode_data_message(blk)
    assert not partial and len(iec.parse_data_sets(blk, s, e)) == 2
    part = iec.encode_answer(b"P.01(1)\r\n", partial=True)
    assert part[-2] == 0x04 and iec.decode_data_message(part)[2]


def test_find_block_skips_junk_and_waits_for_bcc():
    # pe32me162ir skips 0x7F/NUL after a baud switch (protocols-reference.md 3.9).
    blk = iec.encode_answer(b"(1)")
    assert iec.find_block(b"\x7f\x00" + blk[:-1]) is None
    assert iec.find_block(b"\x7f\x00" + blk + b"xx") == (2, 2 + len(blk))
    assert iec.find_block(b"") is None


def test_obis_reduced_ids():
    assert iec.parse_id("1.8.0") == b"\xff\xff\x01\x08\x00\xff"
    assert iec.parse_id("1-0:1.8.0*255") == b"\x01\x00\x01\x08\x00\xff"
    assert iec.parse_id("C.1.0") == b"\xff\xff\x60\x01\x00\xff"
    assert iec.parse_id("F.F") == b"\xff\xff\x61\x61\xff\xff"
    assert iec.parse_id("1.8.0*12") == b"\xff\xff\x01\x08\x00\x0c"
    assert iec.parse_id("1.8.0&12") == b"\xff\xff\x01\x08\x00\x0c"
    assert iec.parse_id("0-0:C.1.0*255") == b"\x00\x00\x60\x01\x00\xff"
    assert iec.format_id(b"\x01\x00\x01\x08\x00\xff") == "1.8.0"
    assert iec.format_id(b"\x01\x00\x01\x08\x00\xff", full=True) == "1-0:1.8.0*255"
    assert iec.format_id(b"\x00\x00\x60\x01\x00\xff") == "C.1.0"
    assert iec.format_id(b"\xff\xff\x61\x61\xff\xff") == "F.F"
    assert iec.format_id(b"\x01\x00\x10\x07\x00\xff") == "16.7.0"
    assert iec.format_id(b"\x01\x00\x01\x08\x00\x0c") == "1.8.0*12"
    for bad in ("", "1", "1.8.0.0.0", "1-0:1.x.0", "1.8.256", "1-0.1.8.0", "1.8.0*", "A.1"):
        with raises(iec.FrameError, match="obis"):
            iec.parse_id(bad)
    assert iec.id_matches(b"\x01\x00\x01\x08\x00\xff", iec.parse_id("1.8.0"))
    assert not iec.id_matches(b"\x01\x00\x01\x08\x00\xff", iec.parse_id("2.8.0"))
    assert not iec.id_matches(b"\x01\x00\x01\x08\x00\xff", iec.parse_id("1.8.0*1"))


def test_format_decimal_without_floats():
    assert iec.format_decimal(123456, 4, 6) == "000012.3456"
    assert iec.format_decimal(5, 4, 6) == "000000.0005"
    assert iec.format_decimal(0, 3, 3) == "000.000"
    assert iec.format_decimal(-400, 3, 3) == "-000.400"
    assert iec.format_decimal(7, -2, 1) == "700"
    assert iec.format_decimal(98765432109876543210, 2, 1) == "987654321098765432.10"


def test_modes_and_baud_characters():
    assert [iec.mode_of(c) for c in "0123456"] == [("C", b) for b in iec.BAUDS_C]
    assert iec.mode_of("A") == ("B", 300) and iec.mode_of("F") == ("B", 9600)
    assert iec.mode_of("k") == ("A", 300)
    assert iec.baud_char(9600) == "5" and iec.baud_char(19200) == "6"


def test_rejections_with_reasons():
    cases = [
        (iec.decode_request, b"/?12!\r", "request"),
        (iec.decode_request, b"/!12!\r\n", "request"),
        (iec.decode_request, b"/?1(2!\r\n", "address"),
        (iec.decode_identification, b"/?!\r\n", "identification"),
        (iec.decode_identification, b"/IS5ME\r\n", "manufacturer"),
        (iec.decode_identification, b"/ISK\\ME162\r\n", "baud"),
        (iec.decode_identification, b"/ISK5ME!62\r\n", "ident"),
        (iec.decode_identification, b"/ISK5" + b"X" * 33 + b"\r\n", "ident"),
        (iec.decode_ack_option, b"\x0605\r\n", "option select"),
        (iec.decode_ack_option, b"\x06A50\r\n", "option select"),
        (iec.decode_data_message, b"\x01B0\x03q", "start"),
        (iec.decode_data_message, b"\x02(1)\x03(1)\x03\x00", "end"),
        (iec.decode_data_message, b"\x02(1)\r\n", "end"),
        (iec.decode_command, b"\x01X0\x03" + bytes((iec.bcc(b"X0\x03"),)), "command"),
        (iec.decode_command, b"\x01B0x\x03" + bytes((iec.bcc(b"B0x\x03"),)), "command"),
        (iec.decode_command, b"\x02B0\x03q", "start"),
        (iec.parse_data_sets, b"1.8.0(12", "data set"),
        (iec.parse_data_sets, b"1.8.0\r\n", "data set"),
        (iec.parse_data_sets, b"1.8/0(1)\r\n", "address"),
        (iec.parse_data_sets, b"1.8.0(1/2)\r\n", "value"),
        (iec.parse_data_sets, b"!\r\n1.8.0(1)\r\n", "data after end"),
        (iec.parse_data_sets, b"1.8.0(" + b"1" * 129 + b")\r\n", "value"),
    ]
    for fn, data, reason in cases:
        with raises(iec.FrameError, match=reason):
            fn(data)
    for bad in (lambda: iec.encode_error("a(b"), lambda: iec.encode_error("x" * 33),
                lambda: iec.encode_data_set("1.8.0", "1*2"),
                lambda: iec.encode_identification("IS", "5", "x"),
                lambda: iec.encode_identification("ISK", "5", "x" * 17),
                lambda: iec.encode_request("a/b"), lambda: iec.encode_command("X", "1")):
        with raises(ValueError):
            bad()


def test_data_sets_without_address_keep_the_lines_address():
    # L+G maximum demand and its time; a load profile line (protocols-reference.md 3.x).
    assert iec.parse_data_sets(b"1.6.1(00.4375*kW)(12-07-03 13:00)\r\n") == [
        ("1.6.1", "00.4375", "kW"), ("1.6.1", "12-07-03 13:00", None)]
    assert iec.parse_data_sets(b"P.01(1120301000000)(00)(15)\r\n(1)\r\n") == [
        ("P.01", "1120301000000", None), ("P.01", "00", None), ("P.01", "15", None),
        ("", "1", None)]  # a new line starts without one
    assert iec.parse_data_sets(b"1.8.0(1*kWh)1.8.1(2*kWh)(3*kWh)") == [
        ("1.8.0", "1", "kWh"), ("1.8.1", "2", "kWh"), ("1.8.1", "3", "kWh")]
    assert iec.parse_data_sets(b"(ISK1234567)") == [("", "ISK1234567", None)]


def test_data_sets_skip_blanks_and_nul_between_sets():
    assert iec.parse_data_sets(b"\x001.8.0(1*kWh) \r\n\x00 2.8.0(2*kWh)\t(3)\r\n!\r\n \x00") == [
        ("1.8.0", "1", "kWh"), ("2.8.0", "2", "kWh"), ("2.8.0", "3", None)]
    assert iec.parse_data_sets(b"0.0.0( 20000)\r\n") == [("0.0.0", " 20000", None)]
    for bad in (b"1.8.0(1*kWh)\r\n!\r\nx", b"1.8.0(1*kWh) x\r\n", b"1.8.0(1\r\n"):
        with raises(iec.FrameError):
            iec.parse_data_sets(bad)
