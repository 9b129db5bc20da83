# EN 13757-2 link layer: the ready-made master telegrams of protocols-reference.md 1.6/1.7 (their
# checksums were recomputed there), parsing, rejection reasons, secondary-address matching.
from mptest import raises, unhex

from meterseal.proto import mbus


def test_master_telegrams_exact_bytes():
    assert mbus.build_short(mbus.C_SND_NKE, 1) == unhex("1040014116")
    assert mbus.build_short(mbus.C_SND_NKE, 0xFF) == unhex("1040FF3F16")
    assert mbus.build_short(mbus.C_SND_NKE, 0xFD) == unhex("1040FD3D16")
    assert mbus.build_short(mbus.C_REQ_UD2, 1) == unhex("105B015C16")
    assert mbus.build_short(mbus.C_REQ_UD2 | mbus.C_FCB, 1) == unhex("107B017C16")
    assert mbus.build_short(mbus.C_REQ_UD2, 0xFD) == unhex("105BFD5816")
    assert mbus.build_long(mbus.C_SND_UD, 1, 0xBD) == unhex("6803036853 01BD1116".replace(" ", ""))
    assert mbus.build_long(mbus.C_SND_UD, 1, mbus.CI_DATA_SEND, b"\x01\x7a\x05") == unhex(
        "68060668530151017A052516")
    assert mbus.build_long(mbus.C_SND_UD, 1, mbus.CI_APP_RESET) == unhex("680303685301 50A416"
                                                                          .replace(" ", ""))
    sel = unhex("78563412FFFFFFFF")
    assert mbus.build_long(mbus.C_SND_UD | mbus.C_FCB, 0xFD, mbus.CI_SELECT, sel) == unhex(
        "680B0B6873FD5278563412FFFFFFFFD216")
    sel = unhex("02376200A8150002")
    assert mbus.build_long(0x73, 0xFD, 0x52, sel) == unhex("680B0B6873FD5202376200A81500021C16")


def test_parse_each_kind():
    assert mbus.parse(b"\xe5") == (mbus.KIND_ACK, None, None, None, 1, 1)
    assert mbus.parse(unhex("107B017C16")) == (mbus.KIND_SHORT, 0x7B, 1, None, 5, 5)
    assert mbus.parse(unhex("680303685301BD1116")) == (mbus.KIND_CONTROL, 0x53, 1, 0xBD, 7, 7)
    f = unhex("68060668530151017A052516")
    assert mbus.parse(f) == (mbus.KIND_LONG, 0x53, 1, 0x51, 7, 10)
    # a frame in the middle of a buffer, by (buf, start, end)
    buf = b"\x00\x00" + f + b"\x99"
    assert mbus.parse(buf, 2, 2 + len(f))[4:] == (9, 12)
    assert mbus.frame_length(buf, 2) == len(f)
    assert mbus.frame_length(f, 0, 3) == 0
    assert mbus.frame_length(b"\x10", 0) == 5
    assert mbus.frame_length(b"\xe5", 0) == 1
    assert mbus.function(0x7B) == mbus.F_REQ_UD2 == mbus.function(mbus.C_REQ_UD2)
    assert mbus.function(0x73) == mbus.F_SND_UD and mbus.function(0x28) == mbus.F_RSP_UD
    assert mbus.is_request(0x40) and not mbus.is_request(0x08)


def test_bad_frames_have_reasons():
    for raw, reason in (("107B017D16", "checksum"), ("107B017C17", "stop"), ("107B017C", "truncated"),
                        ("107B017C1600", "length"), ("6806056853 01510 17A052516", "length"),
                        ("680606685301510 17A052616", "checksum"), ("680606685301510 17A052515", "stop"),
                        ("68060668530151017A05", "truncated"), ("680202685301540016", "length"),
                        ("6806066953 01510 17A052516", "length"), ("E5E5", "length"), ("00", "start"),
                        ("", "truncated")):
        with raises(mbus.FrameError, match=reason):
            mbus.parse(unhex(raw.replace(" ", "")))
    with raises(mbus.FrameError, match="start"):
        mbus.frame_length(b"\x16", 0)
    with raises(mbus.FrameError, match="length"):
        mbus.frame_length(unhex("68060568"), 0)
    with raises(mbus.FrameError, match="length"):
        mbus.build_long(0x53, 1, 0x51, bytes(253))
    assert len(mbus.build_long(0x08, 1, 0x72, bytes(252))) == mbus.MAX_FRAME


def test_secondary_selection_wildcards():
    me = unhex("78563412A8150102")  # 12345678, EMH, version 1, electricity
    for sel, hit in (("78563412A8150102", True), ("78563412FFFFFFFF", True),
                     ("FFFFFFFFFFFFFFFF", True), ("7856341FFFFFFFFF", True),
                     ("F8563412FFFFFFFF", True), ("78563F12FFFF01FF", True),
                     ("78563412A815FF02", True), ("78563413FFFFFFFF", False),
                     ("77563412FFFFFFFF", False), ("78563412A915FFFF", False),
                     ("78563412A8FFFFFF", False),  # manufacturer is wild only as FF FF
                     ("78563412FFFF02FF", False), ("78563412FFFFFF07", False)):
        assert mbus.secondary_matches(unhex(sel), 0, me) == hit, sel
    assert mbus.secondary_to_text(unhex("0110491457100106")) == "14491001" + "57100106"
