# Sealed readings made by MeterSeal (meterseal.security.sealed.seal, EMOC P-256 profile): they
# verify, and every altered covered field or byte fails with a reason naming the reading and
# the field; the two public EMOC vectors (EMH eHZ) verify with the same code (the P-192 vectors:
# test_sealed.py, in their own process for RAM). Runs under CPython and MicroPython.
from mptest import IS_MICROPYTHON, raises, unhex

from meterseal.proto import sml
from meterseal.proto import sml_tl as tl
from meterseal.proto.crc import crc16_x25
from meterseal.security import sealed
from meterseal.crypto import ecdsa
from meterseal.crypto.errors import InvalidSignature

_D = 0x1D2C3B4A59687786950A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20


class _Signer:
    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, _D, digest)


def _pub():
    x, y = ecdsa.public_point(ecdsa.P256, _D)
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _res(frame):
    return [m.body for m in sml.decode_frame(frame) if isinstance(m.body, sml.GetListRes)][0]


def _reading(**kw):
    args = dict(server_id=unhex("0A014D534C0100BC614E"), value_wh=123456, scaler=0,
                time=sml.Time(sml.Time.LOCAL, 1700000000, 60, 0), seconds_index=99,
                pagination=7, contract_id=b"DE*MSL*E12345", status=0x00000104,
                contract_time=sml.Time(sml.Time.LOCAL, 1699999990, 60, 0))
    args.update(kw)
    return sealed.make_reading(**args)


def _vectors(*names):
    import json

    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(d + "/../vectors/sml/edl40.json") as f:
        v = json.load(f)
    return [v[n] for n in names]


def test_emh_emoc_p256_vectors():
    (v,) = _vectors("emh_emoc_p256")
    key = unhex(v["public_key_hex"])
    frames = [unhex(h) for h in v["sml_hex"].values()]
    del v
    for fr in frames:
        (res,) = sealed.verify_sealed(fr, key)
        block = sealed.build_block(res)
        assert block[14] == 0x88  # EMOC bit mapping of the status word 80040104
        assert block[23:29] == sealed.OBIS_READING and block[29] == 30 and block[30] == 0xFF
        assert block[173:181] == block[181:189] != bytes(8)  # historical values, LE
        assert block[189:191] == b"\xe8\x03"  # powerline resistance 1000, LE
        assert block[195:197] == b"\x00\x00" and block[197:] == bytes(123)
        # Without the signature-version entry the 66 bytes are not the EMOC form.
        res.val_list = [e for e in res.val_list if e.obj_name != sealed.OBIS_SIGNATURE_VERSION]
        with raises(InvalidSignature, match="reading 1: EMOC form needs signature version 4"):
            sealed.verify_sealed(res, key)
    with raises(InvalidSignature, match="P-192 key needs the 50-byte"):
        sealed.verify_sealed(frames[0], bytes(48))


def test_seal_verify_and_profile_shape():
    res = sealed.seal(_reading(), _Signer(), logbook=b"\x12\x34")
    assert len(res.list_signature) == 66 and res.list_signature[-2:] == b"\x12\x34"
    assert res.entry(sealed.OBIS_SIGNATURE_VERSION).value == 4
    e = res.entry(sealed.OBIS_READING)
    assert e.status_tl == tl.U32 and e.value_tl == tl.I64 and e.unit == 30
    frame = sealed.sml_file(res)
    got = sml.decode_frame(frame)
    assert [m.tag for m in got] == [sml.OPEN_RES, sml.GET_LIST_RES, sml.CLOSE_RES]
    (v,) = sealed.verify_sealed(frame, _pub())
    assert v.entry(sealed.OBIS_READING).value == 123456
    assert sealed.build_block(v) == sealed.build_block(res)
    sealed.verify_sealed(frame, b"\x04" + _pub())  # SEC 1 form of the key too
    with raises(InvalidSignature, match="reading 1: a P-256 key needs the 66-byte"):
        r2 = _reading()
        r2.list_signature = bytes(50)
        sealed.verify_sealed(r2, _pub())
    with raises(ValueError):
        sealed.seal(_reading(value_wh=1), _Signer(), logbook=b"\x00")
    bad = _reading()
    bad.entry(sealed.OBIS_READING).value_tl = tl.U32
    with raises(ValueError, match="Integer64"):
        sealed.seal(bad, _Signer())


def _field_changes():
    # (what to change, expected reason)
    def ch(attr, v, obis=sealed.OBIS_READING):
        def f(res):
            setattr(res.entry(obis), attr, v)
        return f

    def srv(res):
        res.server_id = res.server_id[:9] + b"\x00"

    def drop(obis):
        def f(res):
            res.val_list = [e for e in res.val_list if e.obj_name != obis]
        return f

    mism = "signature does not match"
    return [
        (srv, mism),
        (ch("value", 123457), mism),
        (ch("scaler", 1), mism),
        (ch("status", 0x00000004), mism),  # bit 8: EMOC covers bits 8, 9, 11, 16, 17, 31
        (ch("status_tl", tl.U64), mism),  # status then not read: byte 0 is signed instead
        (ch("val_time", sml.Time(sml.Time.LOCAL, 1700000000, 0, 0)), mism),
        (ch("val_time", sml.Time(sml.Time.LOCAL, 1700000001, 60, 0)), mism),
        (ch("val_time", sml.Time(sml.Time.TIMESTAMP, 1700000000)), "reading time: needs a localTimestamp"),
        (ch("unit", 27), "reading unit: Wh (30) expected"),
        (ch("value_tl", tl.U64), "reading value: not Integer64"),
        (ch("value", b"1"), "reading value: not Integer64"),
        (ch("value", 8, sealed.OBIS_PAGINATION), mism),
        (ch("value", sml.Time(1, 100), sealed.OBIS_SECONDS_INDEX), mism),
        (ch("value", b"DE*MSL*E12346", sealed.OBIS_CONTRACT), mism),
        (ch("val_time", sml.Time(sml.Time.LOCAL, 1699999991, 60, 0), sealed.OBIS_CONTRACT), mism),
        (drop(sealed.OBIS_CONTRACT), "contract id 129-130:129.84.1*255 missing"),
        (drop(sealed.OBIS_PAGINATION), "pagination 129-128:129.113.1*255 missing"),
        (drop(sealed.OBIS_SECONDS_INDEX), "seconds index 129-0:96.8.0*1 missing"),
        (drop(sealed.OBIS_READING), "reading 1-0:1.17.0*255 missing"),
        (drop(sealed.OBIS_SIGNATURE_VERSION), "EMOC form needs signature version 4"),
    ]


def test_every_covered_field_altered_fails_with_reason():
    base = sealed.sml_file(sealed.seal(_reading(), _Signer()))
    for change, reason in _field_changes():
        res = _res(base)
        change(res)
        frame = sealed.sml_file(res)  # re-encoded: CRCs are right, only the content changed
        with raises(InvalidSignature, match="reading 1: " + reason):
            sealed.verify_sealed(frame, _pub())
    # What the block does not cover, by the format: status bits outside the EMOC mapping and
    # how the local time splits into zone and season offset (docs/sealed-readings.md).
    for change in (lambda e: setattr(e, "status", 0x00000105),
                   lambda e: setattr(e, "val_time", sml.Time(sml.Time.LOCAL, 1700000000, 0, 60))):
        res = _res(base)
        change(res.entry(sealed.OBIS_READING))
        sealed.verify_sealed(sealed.sml_file(res), _pub())
    # Adding an optional field that the block covers changes the block too.
    res = _res(base)
    res.val_list.append(sml.ListEntry(obj_name=sealed.OBIS_PRICE, value=3, value_tl=tl.U8))
    with raises(InvalidSignature, match="reading 1: signature does not match"):
        sealed.verify_sealed(res, _pub())
    res = _res(base)
    res.val_list.append(res.val_list[0])
    with raises(InvalidSignature, match="reading 1: duplicate entry 8182815401ff"):
        sealed.verify_sealed(res, _pub())


def _fix_crcs(b):
    # Recompute the message and frame CRCs of one of our frames (no escapes, 63 lo hi 00 ends).
    pad = b[-3]
    p, end = 8, len(b) - 8 - pad
    while p < end:
        try:
            _, q = sml.decode_message(b, p, end, check_crc=False)
        except sml.FrameError:
            break
        crc = crc16_x25(b, p, q - 4)
        b[q - 3], b[q - 2] = crc & 0xFF, crc >> 8
        p = q
    crc = crc16_x25(b, 0, len(b) - 2)
    b[-2], b[-1] = crc & 0xFF, crc >> 8


def test_any_altered_byte_fails_or_leaves_the_block_unchanged():
    frame = bytes(sealed.sml_file(sealed.seal(_reading(), _Signer())))
    assert frame.find(tl.ESC, 8) == len(frame) - 8  # no escapes: byte positions are stable
    block = sealed.build_block(_res(frame))
    step = 7 if IS_MICROPYTHON else 1
    changed = 0
    for i in range(0, len(frame), step):
        bad = bytearray(frame)
        bad[i] ^= 0x04
        with raises(InvalidSignature):  # the frame CRC alone catches every single change
            sealed.verify_sealed(bad, _pub())
        _fix_crcs(bad)
        try:
            (res,) = sealed.verify_sealed(bad, _pub())
        except InvalidSignature as e:
            r = e.args[0]
            assert r.startswith("sml: ") or r.startswith("reading 1: ") or r == "no GetList.Res"
            changed += 1
            continue
        # Accepted only if the signed content is the same (the byte was in an uncovered field).
        assert sealed.build_block(res) == block, i
    assert changed > len(frame) // step // 2
