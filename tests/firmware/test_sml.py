# SML 1.04 (meterseal.proto.sml, sml_tl): public frames (tests/vectors/sml) to their documented
# values, exact bytes of the TL field, escapes, padding and CRCs, round trips of every message
# type, the stream reader and the reasons malformed input is refused with.
# Runs under CPython and MicroPython.
from mptest import raises, unhex

from meterseal.proto import sml
from meterseal.proto import sml_tl as tl
from meterseal.proto.crc import crc16_x25
from meterseal.proto.sml import FrameError, Time


def _vec(name):
    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return d + "/../vectors/sml/" + name


def _smllib_frames():
    out = {}
    with open(_vec("smllib_frames.txt")) as f:
        for line in f:
            if line[0] != "#" and line.strip():
                name, h = line.split()
                out[name] = unhex(h)
    return out


def test_worked_example_dzg():
    # protocols-reference.md 4.4 (SmlLib 'Frame1'): 232 bytes, pp = 04, frame CRC DA D0.
    b = _smllib_frames()["Frame1"]
    assert len(b) == 232 and b[-3:] == b"\x04\xda\xd0"
    assert crc16_x25(b, 0, len(b) - 2) == 0xD0DA  # sent low byte first
    ms = sml.decode_frame(b)
    assert [m.tag for m in ms] == [sml.OPEN_RES, sml.GET_LIST_RES, sml.CLOSE_RES]
    assert all(m.crc_ok for m in ms)
    assert ms[0].tx_id == unhex("1C414C02")
    o = ms[0].body
    assert o.req_file_id == b"1" and o.server_id == unhex("0A01445A47000282C0B0")
    assert o.ref_time == Time(Time.SEC_INDEX, 88546346) and o.sml_version == 2
    r = ms[1].body
    assert r.server_id == o.server_id and r.list_name == unhex("0100620AFFFF")
    assert r.act_sensor_time == Time(Time.SEC_INDEX, 88546346)
    assert r.list_signature is None and len(r.val_list) == 4
    assert r.entry(unhex("010060320101")).value == b"DZG"
    assert r.entry(unhex("0100600100FF")).value == o.server_id
    e = r.entry(unhex("0100010800FF"))  # 1-0:1.8.0*255
    assert (e.status, e.status_tl, e.unit, e.scaler, e.value) == (0x1C0104, 0x64, 30, 3, 13391)
    assert e.value * 10 ** e.scaler == 13391000  # Wh
    assert r.entry(unhex("0100020800FF")).value == 0
    assert ms[2].body.global_signature is None


def test_smllib_frames_decode():
    fr = _smllib_frames()
    ms = sml.decode_frame(fr["Frame2"])  # Holley: bare Unsigned32 valTime, F1 04 list TL
    r = ms[1].body
    assert len(r.val_list) == 20
    e = r.entry(unhex("0100010800FF"))
    assert (e.status, e.val_time, e.unit, e.scaler, e.value) == (
        0x1C8104, Time(Time.SEC_INDEX, 0x02DBA23D), 30, -1, 0x02AEA132)
    assert r.entry(unhex("0100100700FF")).value == 0x89  # 137 W, Integer16
    assert r.entry(unhex("0100000200 00".replace(" ", ""))).value == b"1.02.007"
    for name in ("Issue8-OK", "Issue8-ERR", "Issue8-FIXED"):
        with raises(FrameError, match="msg crc"):
            sml.decode_frame(fr[name])
        ms = sml.decode_frame(fr[name], check_crc=False)
        assert [m.crc_ok for m in ms] == [False, False, True]  # blanked server IDs
        e = ms[1].body.entry(unhex("0100010800FF"))
        assert e.unit == 30 and e.scaler == -5 and e.value_tl == 0x69
    assert sml.decode_frame(fr["Issue8-OK"], check_crc=False)[1].body.entry(
        unhex("0100100700FF")).value == 0x89D9
    ms = sml.decode_messages(fr["frame-only"], check_crc=False)
    assert [m.tag for m in ms] == [sml.OPEN_RES, sml.GET_LIST_RES, sml.CLOSE_RES]
    e = ms[1].body.entry(unhex("0100100700FF"))
    assert e.value == -1772 and e.value_tl == 0x55
    assert len(ms[1].body.entry(unhex("8181C78205FF")).value) == 48  # public key, 83 02 TL


def test_tl_lengths_exact_bytes():
    # Non-list lengths count the TL bytes: 14 data bytes fit one TL byte, 15 need two.
    for n, head in ((0, b"\x01"), (14, b"\x0f"), (15, b"\x81\x01"), (253, b"\x8f\x0f"),
                    (254, b"\x81\x80\x01")):
        out = bytearray()
        tl.put_octets(out, bytes(n))
        assert bytes(out[: len(head)]) == head and len(out) == len(head) + n
        typ, m, p = tl.read_tl(out, 0, len(out))
        assert (typ, m, p) == (tl.T_OCTETS, n, len(head))
    for n, head in ((15, b"\x7f"), (16, b"\xf1\x00"), (20, b"\xf1\x04")):
        out = bytearray()
        tl.put_tl(out, tl.T_LIST, n)
        assert bytes(out) == head
        assert tl.read_tl(out + bytes(n), 0, len(out) + n) == (tl.T_LIST, n, len(head))


def test_integers_exact_bytes():
    for v, kind, wire in ((0, tl.U8, "6200"), (0x0101, tl.U16, "630101"),
                          (88546346, tl.U32, "6505471c2a"), (-1, tl.I8, "52ff"),
                          (-1772, tl.I32, "55fffff914"), (2918, tl.I64, "590000000000000b66"),
                          (0xFFFFFFFFFFFFFFFF, tl.U64, "69ffffffffffffffff")):
        out = bytearray()
        tl.put_int(out, v, kind)
        assert bytes(out) == unhex(wire)
    for v, kind in ((256, tl.U8), (-1, tl.U32), (128, tl.I8), (-129, tl.I8)):
        with raises(ValueError):
            tl.put_int(bytearray(), v, kind)
    assert tl.int_kind(255) == tl.U8 and tl.int_kind(256) == tl.U16
    assert tl.int_kind(-128) == tl.I8 and tl.int_kind(-129) == tl.I16


def _frame_of(payload):
    # A GetList.Res whose value carries `payload`: exercises escaping inside real messages.
    e = sml.ListEntry(obj_name=b"\x01\x00\x60\x32\x01\x01", value=payload)
    return sml.encode_frame([sml.Message(sml.GetListRes(server_id=b"\x0a" * 10, val_list=[e]))])


def test_escape_sequences():
    for run in (4, 5, 7, 8, 12):
        payload = b"\x00" + b"\x1b" * run + b"\x02"
        fr = _frame_of(payload)
        # Every literal 1B1B1B1B of the data is doubled, left to right.
        body = fr[8:-8]
        assert body.count(b"\x1b" * 8) == run // 4
        assert len(fr) % 4 == 0 and fr[-4] == 0x1A and fr[-3] <= 3
        ms = sml.decode_frame(fr)
        assert ms[0].body.val_list[0].value == payload
    # An escape that is not followed by a second 1B1B1B1B (or the end) is refused.
    fr = bytearray(_frame_of(b"\x1b" * 4))
    i = fr.find(b"\x1b" * 8, 8)
    fr[i + 4 : i + 8] = b"\x1b\x1b\x1b\x02"
    crc = crc16_x25(fr, 0, len(fr) - 2)
    fr[-2], fr[-1] = crc & 0xFF, crc >> 8
    with raises(FrameError, match="escape"):
        sml.decode_frame(fr)


def test_padding_and_frame_crc_byte_order():
    for n in range(4):
        fr = _frame_of(bytes(n))
        pad = fr[-3]
        assert len(fr) % 4 == 0 and 0 <= pad <= 3
        assert fr[len(fr) - 8 - pad : len(fr) - 8] == bytes(pad)
        crc = crc16_x25(fr, 0, len(fr) - 2)
        assert fr[-2] == crc & 0xFF and fr[-1] == crc >> 8
        assert sml.decode_frame(fr)[0].body.val_list[0].value == (bytes(n) if n else None)


def _all_bodies():
    t = Time(Time.LOCAL, 1535475457, 60, 60)
    entries = [
        sml.ListEntry(obj_name=unhex("0100011100FF"), status=0x80040104, status_tl=tl.U32,
                      val_time=t, unit=30, scaler=-1, value=-2918, value_tl=tl.I64,
                      value_signature=b"\x5a" * 66),
        sml.ListEntry(obj_name=unhex("810060080001"), value=Time(Time.SEC_INDEX, 340285)),
        sml.ListEntry(obj_name=unhex("010060320101"), value=b"MSL", val_time=Time(2, 99)),
        sml.ListEntry(obj_name=unhex("0100000009FF"), value=True),
        sml.ListEntry(obj_name=unhex("0100000009FE"), value=sml.ListValue(2, [1, b"x"])),
    ]
    periods = [sml.PeriodEntry(obj_name=unhex("0100010800FF"), unit=30, scaler=0, value=12,
                               value_signature=b"\x11" * 48),
               sml.PeriodEntry(obj_name=unhex("0100020800FF"), unit=30, scaler=-1, value=-5)]
    return [
        sml.OpenReq(codepage=b"cp", client_id=b"client", req_file_id=b"f1", server_id=b"srv",
                    username=b"u", password=b"p", sml_version=1),
        sml.OpenRes(req_file_id=b"f1", server_id=unhex("0A01454D480000BA05B4"),
                    ref_time=Time(Time.TIMESTAMP, 1700000000), sml_version=1),
        sml.GetListReq(client_id=b"c", server_id=b"s", list_name=unhex("0100620AFFFF")),
        sml.GetListRes(client_id=b"c", server_id=unhex("0A01454D480000BA05B4"),
                       list_name=unhex("818081710 3FF".replace(" ", "")),
                       act_sensor_time=Time(Time.SEC_INDEX, 7), val_list=entries,
                       list_signature=b"\x1b" * 66, act_gateway_time=t),
        sml.GetProfileListReq(server_id=b"s", with_rawdata=False, begin_time=Time(2, 1),
                              end_time=Time(2, 900), tree_path=[unhex("8181C78610FF")],
                              object_list=[unhex("0100010800FF")], das_details=[b"x", 1, None]),
        sml.GetProfileListRes(server_id=b"s", act_time=Time(2, 1000), reg_period=900,
                              tree_path=[unhex("8181C78610FF"), b"p2"], val_time=Time(1, 5),
                              status=0x1234, status_tl=tl.U64, period_list=periods,
                              rawdata=b"raw", period_signature=b"\x22" * 64),
        sml.CloseReq(global_signature=b"g" * 20),
        sml.CloseRes(global_signature=b"\x33" * 300),
        sml.AttentionRes(server_id=b"s", attention_no=unhex("8181C7C7FE03"),
                         attention_msg=b"ok", attention_details=[b"t", [1, 2]]),
    ]


def test_round_trip_every_message_type():
    bodies = _all_bodies()
    msgs = [sml.Message(b, bytes((i, 0x1B)), group=i & 1, abort=0) for i, b in enumerate(bodies)]
    fr = sml.encode_frame(msgs)
    got = sml.decode_frame(fr)
    assert len(got) == len(bodies)
    for m, g in zip(msgs, got):
        assert g.tag == m.tag and g.tx_id == m.tx_id and g.group == m.group and g.crc_ok
        assert g.body == m.body, m.body.__class__.__name__
    # The lists carried through, element by element and with their types.
    e = got[3].body.val_list[0]
    assert (e.value, e.value_tl, e.status, e.status_tl) == (-2918, 0x59, 0x80040104, 0x65)
    assert got[3].body.val_list[4].value.raw == [1, b"x"]
    assert got[5].body.period_list[1].value == -5
    assert len(got[7].body.global_signature) == 300
    # Encoding is deterministic: decode -> encode gives the same bytes.
    assert bytes(sml.encode_frame(got)) == bytes(fr)


def test_message_crc_checked():
    fr = bytearray(_frame_of(b"abc"))
    i = fr.find(b"abc")
    fr[i] ^= 1
    crc = crc16_x25(fr, 0, len(fr) - 2)
    fr[-2], fr[-1] = crc & 0xFF, crc >> 8
    with raises(FrameError, match="msg crc"):
        sml.decode_frame(fr)
    assert sml.decode_frame(fr, check_crc=False)[0].crc_ok is False


def test_malformed_reasons():
    good = bytes(_frame_of(b"abc"))
    with raises(FrameError, match="crc"):
        sml.decode_frame(good[:-1] + bytes((good[-1] ^ 1,)))
    with raises(FrameError, match="start"):
        sml.decode_frame(b"\x1b\x1b\x1b\x1c" + good[4:])
    with raises(FrameError, match="truncated"):
        sml.decode_frame(good[:12])
    with raises(FrameError, match="alignment"):
        sml.decode_frame(good[:8] + b"\x00" + good[8:])
    with raises(FrameError, match="end"):
        sml.decode_frame(good[:-4] + b"\x1b" + good[-3:])
    # A claimed length far past the buffer is refused before anything is allocated.
    for bad in ("76 8f ff ff ff 01", "76 05 01 02 03 04 62 00 62 00 72 63 07 01 7f",
                "76 0f 01", "76 42 05"):
        with raises(FrameError):
            sml.decode_messages(unhex(bad.replace(" ", "")))
    with raises(FrameError, match="length"):
        tl.read_tl(unhex("8f0f00"), 0, 3)
    with raises(FrameError, match="int length"):
        tl.read_tl(unhex("6a" + "00" * 9), 0, 10)
    with raises(FrameError, match="type"):
        tl.read_tl(unhex("1200"), 0, 2)
    # Nesting is bounded.
    deep = unhex("7601620062007263099 9".replace(" ", "")) + b"\x71" * 40
    with raises(FrameError, match="depth"):
        sml.decode_messages(deep + b"\x01")


def test_stream_reader_chunks_garbage_and_restart():
    fr = bytes(_frame_of(b"\x1b\x1b\x1b\x1b"))
    dzg = _smllib_frames()["Frame1"]
    r = tl.FrameReader()
    stream = b"\x00\x1b\xff" + fr + b"\x55" * 5 + dzg
    got = []
    for i in range(0, len(stream), 7):  # UART-sized chunks
        r.feed(stream[i : i + 7])
        while True:
            f = r.next_frame()
            if f is None:
                break
            got.append(f)
    assert got == [fr, dzg]
    assert sml.decode_frame(got[1])[1].body.entry(unhex("0100010800FF")).value == 13391
    # A new start inside a frame drops the old one and keeps the new.
    r = tl.FrameReader()
    r.feed(fr[:30] + fr)
    with raises(FrameError, match="restart"):
        r.next_frame()
    assert r.next_frame() == fr
    # A frame longer than the reader's limit is dropped; the reader recovers.
    r = tl.FrameReader(max_frame=64)
    r.feed(tl.START + bytes(100))
    with raises(FrameError, match="too long"):
        r.next_frame()
    small = bytes(_frame_of(b""))
    r.feed(small)
    got = []
    for _ in range(5):
        try:
            f = r.next_frame()
        except FrameError:
            continue
        if f is not None:
            got.append(f)
    assert got == [small]


def test_edl40_files_decode():
    import json

    with open(_vec("edl40.json")) as f:
        d = json.load(f)
    import binascii

    b = binascii.a2b_base64(d["EDL-2"]["sml_b64"])
    emoc = [unhex(h) for h in d["emh_emoc_p256"]["sml_hex"].values()]
    del d
    ms = sml.decode_frame(b)
    assert len(b) == 300 and b[-2:] == b"\x99\x0f"
    r = ms[1].body
    assert r.server_id == unhex("0901454D4800007AC662") and r.list_name == unhex("8180817103FF")
    e = r.entry(unhex("0100011100FF"))
    assert (e.status, e.unit, e.scaler, e.value) == (0x010108, 30, -1, 2918)
    assert e.val_time == Time(Time.LOCAL, 1535475457, 60, 60)
    assert r.entry(unhex("8182815401FF")).value == b"abcdefgh-123"
    assert r.entry(unhex("810060080001")).value == Time(Time.SEC_INDEX, 340285)
    assert r.entry(unhex("8180817101FF")).value == 65
    assert len(r.list_signature) == 50 and r.list_signature[-2:] == b"\x00\x0a"
    for fr in emoc:
        r = sml.decode_frame(fr)[1].body
        assert len(r.list_signature) == 66 and r.entry(unhex("00AF737672FF")).value == 4
        assert r.entry(unhex("0100011100FF")).status == 0x80040104
