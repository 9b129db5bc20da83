# proto/wmbus.py (EN 13757-4 link layer) and the CRC in proto/crc.py: check values, frame
# formats A and B both ways, header fields, rejections with their reasons. Both interpreters.
from mptest import raises, unhex

from meterseal.proto import wmbus
from meterseal.proto.crc import crc16_en13757
from meterseal.proto.wmbus import FrameError

_HDR = unhex("EE449ACE0100008023 07".replace(" ", ""))


def test_crc_check_values():
    # protocols-reference 2.3 [V]: the catalogue check value and wmbusmeters' test_crc() inputs.
    assert crc16_en13757(b"123456789") == 0xC2B7
    assert crc16_en13757(unhex("01FD1F01")) == 0xCC22
    assert crc16_en13757(unhex("01FD1F00")) == 0xF147
    assert crc16_en13757(unhex("EE449ACE010000802307")) == 0xAABC
    assert crc16_en13757(b"x123456789y", 1, 10) == 0xC2B7


def test_manufacturer_and_id():
    assert wmbus.manufacturer_code("APA") == 0x0601
    assert wmbus.manufacturer_code("EFE") == 0x14C5
    assert wmbus.manufacturer_letters(0x2C2D) == "KAM"
    assert wmbus.id_bytes("12345678") == unhex("78563412")
    assert wmbus.id_str(unhex("0078563412"), 1) == "12345678"
    assert wmbus.meter_key_name(0x0601, "88888888") == "APA88888888"
    with raises(FrameError, match="manufacturer"):
        wmbus.manufacturer_code("A1B")


def test_encode_decode_header():
    f = wmbus.encode(wmbus.SND_NR, 0x0601, "88888888", 5, 7, unhex("7A010000 00".replace(" ", "")))
    assert f[:11] == unhex("0E4401068888888805077A")
    assert wmbus.decode_header(f) == (0x44, 0x0601, "88888888", 5, 7)


def _frame(n):
    # A link frame of n bytes (L = n - 1) with a recognisable body.
    body = bytes((0x78,)) + bytes(i & 0xFF for i in range(n - 11))
    return wmbus.encode(wmbus.SND_NR, 0x0601, "88888888", 5, 7, body)


def test_format_a_round_trip_all_lengths():
    for n in range(11, 256):
        f = _frame(n)
        a = wmbus.add_crc_a(f)
        blocks = 1 + (n - 10 + 15) // 16
        assert len(a) == n + 2 * blocks and a[0] == n - 1  # L never counts CRCs in format A
        assert wmbus.strip_crc_a(a) == f


def test_format_b_round_trip_all_lengths():
    for n in range(11, 253):
        f = _frame(n)
        b = wmbus.add_crc_b(f)
        ncrc = 1 if n <= 126 else 2
        assert len(b) == n + 2 * ncrc and b[0] == len(b) - 1  # format B's L counts them
        assert wmbus.strip_crc_b(b) == f


def test_bad_crc_is_rejected_in_every_block():
    f = _frame(60)
    a = bytearray(wmbus.add_crc_a(f))
    for pos in (3, 12, 20, 40, len(a) - 1):
        bad = bytearray(a)
        bad[pos] ^= 0x01
        with raises(FrameError, match="crc"):
            wmbus.strip_crc_a(bad)
    b = bytearray(wmbus.add_crc_b(_frame(200)))
    for pos in (5, 126, 150, len(b) - 2):
        bad = bytearray(b)
        bad[pos] ^= 0x80
        with raises(FrameError, match="crc"):
            wmbus.strip_crc_b(bad)


def test_truncated_and_length_mismatch():
    a = wmbus.add_crc_a(_frame(60))
    with raises(FrameError, match="length"):
        wmbus.strip_crc_a(a[:-1])
    with raises(FrameError, match="short"):
        wmbus.strip_crc_a(a[:5])
    with raises(FrameError, match="length"):
        wmbus.strip_crc_b(wmbus.add_crc_b(_frame(60))[:-3])
    f = _frame(30)
    with raises(FrameError, match="length"):
        wmbus.decode_header(f[:-1])
    with raises(FrameError, match="short"):
        wmbus.decode_header(f[:10])


def test_encode_refuses_too_long():
    with raises(ValueError):
        wmbus.encode(wmbus.SND_NR, 0x0601, "88888888", 5, 7, bytes(250))
