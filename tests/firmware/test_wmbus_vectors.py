# Public wireless M-Bus telegrams (tests/vectors/wmbus, sources in its README) through
# proto/wmbus.py, proto/oms.py and proto/mbus_records.py, to their documented values.
# Runs under CPython and MicroPython.
from mptest import unhex

from meterseal.proto import mbus_records, oms, wmbus

_FILE = __file__.rsplit("/", 1)[0] + "/../vectors/wmbus/telegrams.txt"


def _vectors():
    out = {}
    with open(_FILE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, crcs, key, hexs = line.split()
                out[name] = (crcs, None if key == "-" else unhex(key), unhex(hexs))
    return out


def _open(name):
    crcs, key, raw = _vectors()[name]
    if crcs == "A":
        frame = wmbus.strip_crc_a(raw)
    elif crcs == "B":
        frame = wmbus.strip_crc_b(raw)
    else:
        frame = raw
    t = oms.parse(frame)
    apl = oms.open_apl(t, frame, key)
    return t, apl


def _records(apl):
    recs, more = mbus_records.parse_records(apl, 0, len(apl))
    assert not more
    return recs


def _find(recs, vif, storage=0, subunit=0):
    for r in recs:
        if r.vif == vif and r.storage == storage and r.subunit == subunit and r.function == 0:
            return r.value
    raise AssertionError("no record with VIF %x" % vif)


def test_at_least_five_public_telegrams():
    assert len(_vectors()) >= 5


def test_tv_w1_apator_mode5_plaintext():
    t, apl = _open("tv_w1_apator_mode5")
    assert (t.c, wmbus.manufacturer_letters(t.manufacturer), t.ident, t.version,
            t.device_type) == (0x44, "APA", "88888888", 5, 7)
    assert (t.ci, t.acc, t.cf, t.mode, t.blocks) == (0x7A, 0x85, 0x8560, 5, 6)
    assert apl == unhex(
        "2F2F80C84AFD9308020043820183000A5415586302FCA91510F01200007B01F0120000C91200006D110000D20E0000F509"
        "0000B30400006D0000002B0000002B0000002B0000002B0000002B000000A085D9A103FFFFFFFFFFFFFFFFFFFF0A8D")


def test_tv_w2_elf2_mode5_records():
    t, apl = _open("tv_w2_elf2_mode5")
    assert t.meter() == "APA24271170" and t.cf == 0x2560
    recs = _records(apl)
    assert _find(recs, 0x06) == 144  # 0C 06: 144 kWh
    assert _find(recs, 0x13) == 17856  # 0C 13: 17856 l = 17.856 m3
    assert _find(recs, 0x5A) == 225  # 0A 5A: flow temperature 22.5 C (0.1 C)
    assert _find(recs, 0x5E) == 226  # 0A 5E: return temperature 22.6 C
    assert _find(recs, mbus_records.VIF_DATETIME) == (2025, 10, 15, 14, 39)


def test_tv_w3_multical21_ell_ctr():
    t, apl = _open("tv_w3_multical21_ell_ctr")
    assert t.meter() == "KAM76348799" and (t.version, t.device_type) == (0x1B, 0x16)
    assert (t.ell_cc, t.ell_acc, t.ci) == (0x20, 0x91, 0x78)
    assert t.acc == 0x91  # no TPL: the ELL's access number is the telegram's (replay checks)
    assert apl == unhex("02FF207100041308190000441308190000615B7F616713")
    assert _find(_records(apl), 0x13) == 6408  # 6.408 m3


def test_tv_w4_sensostar_mode7_format_b():
    t, apl = _open("tv_w4_sensostar_mode7")
    assert t.meter() == "EFE43054304" and t.device_type == 4
    assert (t.counter, t.mode, t.blocks, t.cf_ext) == (0x00025E89, 7, 9, 0x10)
    assert t.mac == unhex("3B0877D31DA840B1")
    recs = _records(apl)
    assert _find(recs, 0x06) == 9341  # kWh
    assert _find(recs, 0x13) == 1348631  # l: 1348.631 m3
    assert apl.endswith(unhex("03FD0C05010002FD0B2111"))  # the plain tail under the MAC


def test_tv_w4_kdf_keys():
    crcs, key, raw = _vectors()["tv_w4_sensostar_mode7"]
    t = oms.parse(wmbus.strip_crc_b(raw))
    assert oms._kdf(key, 0, t) == unhex("bb13ab0fbbc1f043bdaa104cc8d2d428")
    assert oms._kdf(key, 1, t) == unhex("a69bd3f061c0c21e90d55d3f34117650")


def test_iperl_plain():
    t, apl = _open("iperl_plain")
    assert t.meter() == "SEN33225544" and (t.version, t.device_type, t.mode) == (0x68, 7, 0)
    recs = _records(apl)
    assert _find(recs, 0x13) == 123529  # total 123.529 m3
    assert _find(recs, 0x3B) == 0  # max flow


def test_sontex_format_a_crcs():
    crcs, key, raw = _vectors()["sontex868_format_a"]
    frame = wmbus.strip_crc_a(raw)
    assert len(frame) == frame[0] + 1 == 0x35
    c, m, ident, ver, dtype = wmbus.decode_header(frame)
    assert (m, wmbus.manufacturer_letters(m), ident, ver, dtype) == (0x4DEE, "SON", "27293981",
                                                                     0x16, 0x08)
    assert wmbus.add_crc_a(frame) == raw
    t = oms.parse(frame)
    _records(oms.open_apl(t, frame, None))
