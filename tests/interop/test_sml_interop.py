"""meterseal.proto.sml and security.sealed against code we did not write.

* smllib (SmlLib 1.7) reads our frames: SmlStreamReader accepts the frame CRC, its parser gets
  the same values from Open.Res / GetList.Res / Close.Res, its generic TLV parser the same tree
  from GetProfileList and Attention, and its own X.25 table confirms every per-message CRC.
* Our decoder reads SmlLib's public frames to the values SmlLib reads.
* Sealed readings: the 320-byte block is rebuilt here from the spec table
  (protocols-reference.md 4.5 + errata) out of smllib's raw parse, independently of
  sealed.build_block, and the signature checked with pyca/cryptography (OpenSSL): our P-256
  seals (CPython- and MicroPython-made), the EMH EMOC vectors and the P-192 EDL40 vectors.
"""
import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from smllib.crc import x25 as smllib_x25
from smllib.reader import SmlFrame, SmlStreamReader

from meterseal.crypto import ecdsa
from meterseal.proto import sml
from meterseal.proto import sml_tl as tl
from meterseal.security import sealed
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
VEC = ROOT / "tests" / "vectors" / "sml"
D = 0x6E1F2A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7


def _smllib_frames():
    out = {}
    for line in (VEC / "smllib_frames.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, h = line.split()
            out[name] = bytes.fromhex(h)
    return out


def _edl40():
    return json.loads((VEC / "edl40.json").read_text())


def _read_with_smllib(frame):
    r = SmlStreamReader()
    r.add(bytes(frame))
    f = r.get_frame()  # raises CrcError on a bad frame CRC
    assert f is not None
    return f


def _raw_messages(f):
    """smllib's generic TLV parse: one snippet tree per message (values and raw bytes)."""
    out = []
    f.next_pos = 0
    while f.next_pos < f.buf_len:
        out.append(f._parse_msg(f.get_value()))
    return out


def _check_message_crcs(f):
    for m in _raw_messages(f):
        lst = m.value
        body_end = lst[3].pos + len(lst[3].msg)
        raw = bytes(f.buffer[m.pos : body_end])
        assert lst[4].value == smllib_x25.get_crc(raw)  # smllib's value is the wire order


def _sample_messages():
    t = sml.Time(sml.Time.LOCAL, 1700000000, 60, 60)
    e = [sml.ListEntry(obj_name=bytes.fromhex("0100010800ff"), status=0x1C0104, val_time=t,
                       unit=30, scaler=-1, value=123456789, value_tl=tl.I64,
                       value_signature=bytes(range(48))),
         sml.ListEntry(obj_name=bytes.fromhex("0100100700ff"), unit=27, scaler=0, value=-1772),
         sml.ListEntry(obj_name=bytes.fromhex("010060320101"), value=b"MSL"),
         sml.ListEntry(obj_name=bytes.fromhex("810060080001"),
                       value=sml.Time(sml.Time.SEC_INDEX, 340285)),
         sml.ListEntry(obj_name=bytes.fromhex("0100000009ff"), value=b"\x1b\x1b\x1b\x1b\x01")]
    sid = bytes.fromhex("0a014d534c0100bc614e")
    return [
        sml.Message(sml.OpenRes(req_file_id=b"F1", server_id=sid,
                                ref_time=sml.Time(sml.Time.SEC_INDEX, 88546346), sml_version=1),
                    b"\x00\x01"),
        sml.Message(sml.GetListRes(server_id=sid, list_name=bytes.fromhex("0100620affff"),
                                   act_sensor_time=sml.Time(sml.Time.SEC_INDEX, 5), val_list=e,
                                   list_signature=b"\x5a" * 50,
                                   act_gateway_time=sml.Time(sml.Time.TIMESTAMP, 1700000001)),
                    b"\x00\x02"),
        sml.Message(sml.CloseRes(global_signature=b"\x1b" * 64), b"\x00\x03"),
    ]


def test_smllib_reads_open_getlist_close():
    frame = sml.encode_frame(_sample_messages())
    assert frame.count(b"\x1b" * 8) >= 2  # the escapes are exercised
    f = _read_with_smllib(frame)
    _check_message_crcs(f)
    msgs = f.parse_frame()
    assert [m.message_body.__class__.__name__ for m in msgs] == [
        "SmlOpenResponse", "SmlGetListResponse", "SmlCloseResponse"]
    o, g, c = (m.message_body for m in msgs)
    assert (o.req_file_id, o.server_id, o.ref_time, o.sml_version) == (
        "4631", "0a014d534c0100bc614e", 88546346, 1)  # smllib: octets as hex
    assert g.server_id == "0a014d534c0100bc614e" and g.list_name == "0100620affff"
    assert g.list_signature == "5a" * 50 and g.act_sensor_time == 5
    assert g.act_gateway_time.timestamp() == 1700000001
    v = {e.obis: e for e in g.val_list}
    e = v["0100010800ff"]
    assert (e.status, e.unit, e.scaler, e.value) == (0x1C0104, 30, -1, 123456789)
    assert e.val_time.timestamp() == 1700000000 and e.val_time.utcoffset().seconds == 7200
    assert e.value_signature == bytes(range(48)).hex() and e.get_value() == 12345678.9
    assert v["0100100700ff"].value == -1772 and v["010060320101"].value == "MSL"
    assert v["810060080001"].value == 340285
    assert v["0100000009ff"].value == "1b1b1b1b01"  # an escaped 1B1B1B1B inside a value
    assert c.global_signature == "1b" * 64


def test_smllib_generic_parse_of_profile_list_and_attention():
    t = sml.Time(sml.Time.TIMESTAMP, 1700000000)
    periods = [sml.PeriodEntry(obj_name=bytes.fromhex("0100010800ff"), unit=30, scaler=-1,
                               value=4711, value_signature=b"\x11" * 64)]
    msgs = [
        sml.Message(sml.GetProfileListReq(server_id=b"srv", with_rawdata=True, begin_time=t,
                                          end_time=t, tree_path=[bytes.fromhex("8181c78610ff")]),
                    b"\x01"),
        sml.Message(sml.GetProfileListRes(server_id=b"srv", act_time=t, reg_period=900,
                                          tree_path=[bytes.fromhex("8181c78610ff")], val_time=t,
                                          status=0x0102, status_tl=tl.U64, period_list=periods,
                                          period_signature=b"\x22" * 64), b"\x02"),
        sml.Message(sml.AttentionRes(server_id=b"srv", attention_no=bytes.fromhex("8181c7c7fe03")),
                    b"\x03"),
    ]
    f = _read_with_smllib(sml.encode_frame(msgs))
    _check_message_crcs(f)
    raw = _raw_messages(f)
    tags = [m.value[3].value[0].value for m in raw]
    assert tags == [0x0400, 0x0401, 0xFF01]
    req = [s.value for s in raw[0].value[3].value[1].value]
    assert req[0] == "737276" and req[3] is True and req[4][1].value == 1700000000
    assert [p.value for p in req[6]] == ["8181c78610ff"]
    res = raw[1].value[3].value[1].value
    assert len(res) == 9 and res[2].value == 900 and res[5].value == 0x0102
    assert bytes(res[5].msg)[0] == 0x69  # status sent as Unsigned64, as the standard types it
    pe = res[6].value[0].value
    assert [pe[i].value for i in range(4)] == ["0100010800ff", 30, -1, 4711]
    assert pe[4].value == "11" * 64 and res[8].value == "22" * 64
    att = raw[2].value[3].value[1].value
    assert att[1].value == "8181c7c7fe03"


@pytest.mark.parametrize("name", ["Frame1", "Frame2", "Issue8-OK", "Issue8-FIXED"])
def test_smllib_frames_read_alike(name):
    b = _smllib_frames()[name]
    theirs = _read_with_smllib(b).get_obis()
    ours = [m.body for m in sml.decode_frame(b, check_crc=name.startswith("Frame"))
            if isinstance(m.body, sml.GetListRes)][0].val_list
    # smllib's get_obis() finds entries by searching 77 07 01, so it skips names not starting
    # with 01 (EBZ's 81 81 C7 82 03 FF); every entry it finds must match ours.
    by_name = {o.obj_name.hex(): o for o in ours}
    assert len(theirs) >= 4 and len(by_name) == len(ours)
    assert [o for o in ours if o.obj_name[0] == 1] == [by_name[t.obis] for t in theirs]
    for t in theirs:
        o = by_name[t.obis]
        assert (o.status, o.unit, o.scaler) == (t.status, t.unit, t.scaler)
        if isinstance(o.value, bytes):
            assert t.value in (o.value.hex(), o.value.decode("latin-1"))
        else:
            assert o.value == t.value


# ---- sealed readings: independent block builder (spec table, protocols-reference.md 4.5) ----

def _time_local_seconds(snip):
    choice, val = snip.value
    assert choice.value == 3, "needs a localTimestamp"
    ts, lo, so = (s.value for s in val.value)
    return (ts + (lo + so) * 60) & 0xFFFFFFFF


def _num(snip):
    tlb = bytes(snip.msg)[0]
    assert 0x56 <= tlb <= 0x59 or 0x62 <= tlb <= 0x65
    return snip.value


def independent_block(frame):
    """(block, listSignature, signature version) from smllib's raw parse of an SML file."""
    f = _read_with_smllib(frame)
    res = [m.value[3].value[1].value for m in _raw_messages(f) if m.value[3].value[0].value == 0x0701][0]
    server_id, sig = bytes.fromhex(res[1].value), bytes.fromhex(res[5].value)
    emoc = len(sig) == 66
    entries = {e.value[0].value: [s for s in e.value] for e in res[4].value}
    b = bytearray(320)
    b[0:10] = server_id
    r = entries["0100011100ff"]
    b[10:14] = _time_local_seconds(r[2]).to_bytes(4, "little")
    status_tl = bytes(r[1].msg)[0] if r[1].value is not None else 0
    if status_tl in (0x64, 0x65):
        w = r[1].value
        if emoc:
            bits = {0: 17, 3: 31, 4: 16, 5: 11, 6: 9, 7: 8}
            b[14] = sum(1 << i for i, src in bits.items() if w >> src & 1)
        else:
            b[14] = w & 0xFF
    si = entries["810060080001"][5].value  # SML_ListType [1, SML_Time [1, secIndex]]
    assert si[0].value == 1 and si[1].value[0].value == 1
    b[15:19] = si[1].value[1].value.to_bytes(4, "little")
    b[19:23] = (_num(entries["8180817101ff"][5]) & 0xFFFFFFFF).to_bytes(4, "little")
    b[23:29] = bytes.fromhex("0100011100ff")
    assert r[3].value == 30
    b[29] = 30
    b[30] = r[4].value & 0xFF
    b[31:39] = (_num(r[5]) & (2**64 - 1)).to_bytes(8, "little")
    b[39:41] = sig[-2:]
    c = entries["8182815401ff"]
    cid = bytes.fromhex(c[5].value)
    b[41 : 41 + len(cid)] = cid
    b[169:173] = _time_local_seconds(c[2]).to_bytes(4, "little")
    for obis, off, n, order in (("0100011100" + "64", 173, 8, "little"),
                                ("0100011100" + "c8", 181, 8, "little"),
                                ("00af6c6c72ff", 189, 2, "little"),
                                ("00af647572ff", 191, 4, "little"),
                                ("00af707263ff", 195, 2, "big")):
        if obis in entries:
            v = _num(entries[obis][5]) & ((1 << (8 * n)) - 1)
            b[off : off + n] = v.to_bytes(n, order)
    ver = entries.get("00af737672ff")
    return bytes(b), sig, (ver[5].value if ver else None)


def _crypto_verify(block, sig, pub_raw):
    size = len(pub_raw) // 2
    curve = cec.SECP256R1() if size == 32 else cec.SECP192R1()
    key = cec.EllipticCurvePublicNumbers(int.from_bytes(pub_raw[:size], "big"),
                                         int.from_bytes(pub_raw[size:], "big"), curve).public_key()
    der = encode_dss_signature(int.from_bytes(sig[:size], "big"),
                               int.from_bytes(sig[size : 2 * size], "big"))
    # OpenSSL truncates the SHA-256 digest to 192 bits for P-192, as ECDSA prescribes.
    key.verify(der, hashlib.sha256(block).digest(), cec.ECDSA(Prehashed(hashes.SHA256())))


class _Signer:
    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, D, digest)


def _pub_raw():
    x, y = ecdsa.public_point(ecdsa.P256, D)
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _our_sealed_frame(value=123456):
    res = sealed.make_reading(
        server_id=bytes.fromhex("0a014d534c0100bc614e"), value_wh=value, scaler=0, status=0x80040104,
        time=sml.Time(sml.Time.LOCAL, 1700000000, 60, 0), seconds_index=4242, pagination=17,
        contract_id=b"DE*MSL*E0001", contract_time=sml.Time(sml.Time.LOCAL, 1699999000, 60, 0))
    res.val_list.append(sml.ListEntry(obj_name=sealed.OBIS_PRICE, unit=10, scaler=-3,
                                      value=0x0123, value_tl=tl.U16))
    return bytes(sealed.sml_file(sealed.seal(res, _Signer(), logbook=b"\x00\x07")))


def test_our_seal_verified_by_cryptography_over_an_independent_block():
    frame = _our_sealed_frame()
    block, sig, ver = independent_block(frame)
    assert len(sig) == 66 and ver == 4 and sig[-2:] == b"\x00\x07"
    assert block[14] == 0x88 and block[195:197] == b"\x01\x23"  # EMOC status; price big-endian
    _crypto_verify(block, sig, _pub_raw())
    assert block == sealed.build_block(sealed.verify_sealed(frame, _pub_raw())[0])


def test_public_vectors_verified_by_cryptography_over_an_independent_block():
    v = _edl40()
    cases = [(base64.b64decode(v["EDL-2"]["sml_b64"]), v["EDL-2"]["public_key_hex"])]
    cases += [(bytes.fromhex(h), v["easymeter_p192"]["public_key_hex"])
              for h in v["easymeter_p192"]["sml_hex"].values()]
    cases += [(bytes.fromhex(h), v["emh_emoc_p256"]["public_key_hex"])
              for h in v["emh_emoc_p256"]["sml_hex"].values()]
    for frame, key in cases:
        block, sig, _ = independent_block(frame)
        _crypto_verify(block, sig, bytes.fromhex(key))
        (res,) = sealed.verify_sealed(frame, bytes.fromhex(key))
        assert sealed.build_block(res) == block
    edl2 = independent_block(cases[0][0])[0]
    assert edl2[:41] == bytes.fromhex(v["EDL-2"]["block_bytes_0_41_hex"].replace(" ", ""))


def test_micropython_made_seal_verified_by_cryptography():
    mp = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
    code = (
        "import binascii\n"
        "from meterseal.proto import sml\n"
        "from meterseal.security import sealed\n"
        "from meterseal.crypto import ecdsa\n"
        "class S:\n"
        "    def sign_digest(self, d):\n"
        "        return ecdsa.sign_raw(ecdsa.P256, %d, d)\n"
        "r = sealed.make_reading(server_id=binascii.unhexlify('0a014d534c0100bc614e'),"
        " value_wh=98765, scaler=-1, status=0x20104,"
        " time=sml.Time(3, 1700000000, 60, 60), seconds_index=7, pagination=3,"
        " contract_id=b'DE*MSL*E0002', contract_time=sml.Time(3, 1699990000, 60, 60))\n"
        "print(binascii.hexlify(sealed.sml_file(sealed.seal(r, S(), b'\\x00\\x01'))).decode())\n"
        % D)
    env = frozen.mp_env()
    out = subprocess.run(frozen.mp_command() + ["-c", code], env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout.strip()
    frame = bytes.fromhex(out)
    block, sig, ver = independent_block(frame)
    assert ver == 4 and block[14] == 0x81  # status word bits 17, 8 -> block bits 0, 7
    _crypto_verify(block, sig, _pub_raw())
    sealed.verify_sealed(frame, _pub_raw())
