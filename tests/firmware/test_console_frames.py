# Console framing (proto/console.py, proto/crc.py): exact bytes, resynchronisation, bounded memory.
from meterseal.proto import console as cp
from meterseal.proto.crc import crc16_x25
from mptest import raises, unhex


def test_crc16_x25_check_value():
    # The catalogue check value of CRC-16/X-25 (alias CRC-16/IBM-SDLC) over "123456789".
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_x25(b"xx123456789yy", 2, 11) == 0x906E


def test_encode_exact_bytes():
    f = cp.encode_frame(cp.T_REQUEST, 0x1234, b"\x82dinfo\xa0")
    header = bytes([0xA5, 1, 1, 0x12, 0x34, 0, 7])
    hc = crc16_x25(header, 1)
    pc = crc16_x25(b"\x82dinfo\xa0")
    assert f == header + bytes([hc >> 8, hc & 0xFF]) + b"\x82dinfo\xa0" + bytes([pc >> 8, pc & 0xFF])


def test_round_trip_byte_by_byte_after_noise():
    r = cp.FrameReader()
    data = b"\x00\xa5garbage\xa5\xa5" + cp.encode_frame(cp.T_RESPONSE, 7, b"abc") \
        + cp.encode_frame(cp.T_ERROR, 8, b"")
    got = []
    for i in range(len(data)):
        r.feed(data[i:i + 1])
        while True:
            fr = r.next_frame()
            if fr is None:
                break
            got.append(fr)
    assert got == [(cp.T_RESPONSE, 7, b"abc"), (cp.T_ERROR, 8, b"")]
    assert r.pending() == 0


def test_bad_payload_crc_is_answerable():
    f = bytearray(cp.encode_frame(cp.T_REQUEST, 99, b"hello"))
    f[-1] ^= 1
    r = cp.FrameReader()
    r.feed(f)
    with raises(cp.FrameError) as e:
        r.next_frame()
    assert e.value.args[0] == cp.E_FRAME and e.value.args[2] == 99
    assert r.next_frame() is None and r.pending() == 0


def test_oversized_and_wrong_version_rejected_from_header():
    r = cp.FrameReader(max_payload=16)
    r.feed(cp.encode_frame(cp.T_REQUEST, 5, b"x" * 17))
    with raises(cp.FrameError) as e:
        r.next_frame()
    assert e.value.args[0] == cp.E_TOO_LARGE and e.value.args[2] == 5
    hdr = bytearray([0xA5, 2, 1, 0, 6, 0, 0])
    c = crc16_x25(hdr, 1)
    r = cp.FrameReader()
    r.feed(bytes(hdr) + bytes([c >> 8, c & 0xFF]) + b"\x00\x00")
    with raises(cp.FrameError) as e:
        r.next_frame()
    assert e.value.args[0] == cp.E_VERSION


def test_corrupt_length_does_not_stall():
    # A flipped bit in the length is caught by the header check; the next frame still parses.
    bad = bytearray(cp.encode_frame(cp.T_REQUEST, 1, b"abc"))
    bad[6] ^= 0x40
    r = cp.FrameReader()
    r.feed(bytes(bad) + cp.encode_frame(cp.T_REQUEST, 2, b"ok"))
    assert r.next_frame() == (cp.T_REQUEST, 2, b"ok")


def test_noise_keeps_memory_bounded():
    r = cp.FrameReader(max_payload=64)
    for _ in range(200):
        r.feed(b"\xa5" * 50)
        r.next_frame()
    assert r.pending() <= 2 * (cp.HEADER_LEN + 64 + 2)


def test_encode_refuses_oversized_payload():
    with raises(ValueError):
        cp.encode_frame(cp.T_RESPONSE, 1, b"x" * (cp.MAX_PAYLOAD + 1))


def test_known_frame_vector():
    # Computed once with an independent bitwise CRC-16/X-25 (not this table-driven one).
    assert cp.encode_frame(cp.T_REQUEST, 1, b"") == unhex("a5010100010000a23c0000")
