# proto/oms.py sealing and opening (modes 5 and 7), and the receiver's rejections with their
# exact reasons (roles/wmbus_receiver.py): wrong key, bad MAC, stale counter, replay,
# truncated, unencrypted, unknown meter. Both interpreters.
from mptest import raises, unhex

from meterseal.crypto.errors import InvalidTag
from meterseal.proto import oms, wmbus

try:
    from meterseal.proto import mbus_encode as enc
except ImportError:  # before the wired M-Bus writer moved to mbus_encode.py
    from meterseal.proto import mbus_records as enc
from meterseal.proto.wmbus import FrameError
import kshelp
from meterseal.roles import wmbus_keys, wmbus_radio
from meterseal.roles.wmbus_receiver import Receiver, Rejected

_K = unhex("000102030405060708090A0B0C0D0E0F")
_K2 = unhex("0F0E0D0C0B0A09080706050403020100")
_MSL = wmbus.manufacturer_code("MSL")
_APL = unhex("0413E8030000")  # 1000 l


def _m5(acc=1, key=_K, apl=_APL):
    return oms.seal_mode5(key, wmbus.SND_NR, _MSL, "12345678", 1, 7, acc, 0, apl)


def _m7(counter, acc=1, key=_K, apl=_APL):
    return oms.seal_mode7(key, wmbus.SND_NR, _MSL, "12345678", 1, 7, acc, 0, counter, apl)


def test_mode5_round_trip_and_iv():
    f = _m5(acc=0x42)
    t = oms.parse(f)
    assert (t.ci, t.acc, t.mode, t.blocks, t.cf) == (0x7A, 0x42, 5, 1, 0x0510)
    assert oms._iv5(t) == f[2:10] + b"\x42" * 8
    apl = oms.open_apl(t, f, _K)
    assert apl[:2] == b"\x2f\x2f" and apl[2:8] == _APL and apl[8:] == b"\x2f" * 8


def test_mode7_round_trip_layout():
    f = _m7(0x01020304)
    # DLL, then AFL: 90 0F FC=2C00 MCL=25 MCR (LE) MAC(8), then TPL 7A ACC STS CF(0x0710) CF-ext 10.
    assert f[10:19] == unhex("900F002C2504030201")
    t = oms.parse(f)
    assert (t.counter, t.mode, t.blocks, t.cf, t.cf_ext) == (0x01020304, 7, 1, 0x0710, 0x10)
    assert f[t.tpl:t.tpl + 6] == unhex("7A0100100710")
    assert oms.open_apl(t, f, _K)[2:8] == _APL


def test_mode5_wrong_key():
    f = _m5()
    with raises(InvalidTag, match="key"):
        oms.open_apl(oms.parse(f), f, _K2)


def test_mode7_wrong_key_and_altered_bytes_fail_the_mac():
    f = _m7(5)
    with raises(InvalidTag, match="mismatch"):
        oms.open_apl(oms.parse(f), f, _K2)
    for pos in (16, 22, 28, len(f) - 1):  # counter, MAC, TPL, ciphertext
        bad = bytearray(f)
        bad[pos] ^= 1
        with raises(InvalidTag):
            oms.open_apl(oms.parse(bad), bad, _K)


def test_truncated_and_bad_ci():
    f = _m7(5)
    for n in (11, 14, 20, 30, len(f) - 1):
        cut = bytes((n - 1,)) + f[1:n]
        with raises(FrameError):
            oms.open_apl(oms.parse(cut), cut, _K)
    bad = bytearray(_m5())
    bad[10] = 0x55
    with raises(FrameError, match="ci"):
        oms.parse(bad)
    with raises(FrameError, match="encrypted"):
        oms.open_apl(oms.parse(_m5()), _m5(), None)


def _board():
    # A simulated board (littlefs image under MicroPython): the keys live in its keystore.
    return kshelp.fresh_board("oms", blocks=24)


def _rx():
    b = _board()
    wmbus_keys.put_key(b, "MSL12345678", _K)
    return Receiver(b), b


def _reason(rx, frame):
    try:
        rx.handle(frame)
    except Rejected as e:
        return e.args[1]
    return None


def test_receiver_accepts_and_reads_records():
    rx, _ = _rx()
    r = rx.handle(_m7(10))
    assert r["meter"] == "MSL12345678" and r["counter"] == 10 and r["mode"] == 7
    assert r["records"] == [[0, 0, 0, 0, 0x13, 1000]] and r["authenticated"] is True
    # once a meter has used mode 7, a telegram with less protection is a downgrade
    assert _reason(rx, _m5(acc=7)) == "downgrade"
    rx, _ = _rx()
    r = rx.handle(_m5(acc=7))
    assert r["access"] == 7 and r["authenticated"] is False
    assert rx.handle(_m7(1))["counter"] == 1  # an upgrade is fine


def test_receiver_rejections_have_exact_reasons():
    rx, _ = _rx()
    assert _reason(rx, _m7(10)) is None
    assert _reason(rx, _m7(10)) == "replay"
    assert _reason(rx, _m7(9)) == "stale counter"
    assert _reason(rx, _m7(11, key=_K2)) == "bad MAC"
    assert _reason(rx, _m5(key=_K2)) == "wrong key"
    bad = bytearray(_m7(12))
    bad[-1] ^= 0xFF
    assert _reason(rx, bad) == "bad MAC"
    assert _reason(rx, _m7(12)[:-1]) == "malformed: length"
    cut = _m7(12)[:30]
    assert _reason(rx, bytes((29,)) + cut[1:]) == "malformed: short"
    other = oms.seal_mode7(_K, 0x44, _MSL, "87654321", 1, 7, 1, 0, 1, _APL)
    assert _reason(rx, other) == "no key"
    plain = wmbus.encode(0x44, _MSL, "12345678", 1, 7, unhex("7A0100000004" "13E8030000"))
    assert _reason(rx, plain) == "unencrypted"
    assert _reason(rx, _m7(12)) is None  # the rejections moved nothing
    assert rx.accepted == 2


def test_mode5_replay_by_access_number():
    rx, _ = _rx()
    assert _reason(rx, _m5(acc=1)) is None
    assert _reason(rx, _m5(acc=2)) is None
    assert _reason(rx, _m5(acc=1)) == "replay"
    assert _reason(rx, _m5(acc=3)) is None


def test_counters_survive_a_restart():
    rx, b = _rx()
    assert _reason(rx, _m7(100)) is None
    rx2 = Receiver(kshelp.reopen(b))  # the same storage after a power cut
    assert _reason(rx2, _m7(100)) == "replay"
    assert _reason(rx2, _m7(50)) == "stale counter"
    assert _reason(rx2, _m7(101)) is None


def test_public_mode7_telegram_through_the_receiver():
    raw = unhex("C244C5140443054300048C200E900F002C25895E02003B0877D31DA840B17A0E009007100F8FAD4C4E"
                "61400DA4F3B1F7E273CC4C5C07F93CD20B237345DB39F9A98F8415E1C4B7A25C86E4C22D05C3352FA7"
                "E2E5627031F14643063F1DC8FE2C32459B6F02E4234B447B18E4BFDA8C4DA9B1EDE6CF29D0B2122A3E"
                "8B9DEEBEE3E6DBE6617B4E709EC6B595179CB01C2C0BDE6723A345B708652880C114A58DA07C73AD9E"
                "B8ACB17FA0A88F19BC84CB1FC56672DE8A9603FD0C05010002FD0B2111F60B")
    b = _board()
    wmbus_keys.put_key(b, "EFE43054304", unhex("622b9656991ff0c1574c0950cf9278d1"))
    rx = Receiver(b)
    f = wmbus.strip_crc_b(raw)
    r = rx.handle(f)
    assert [0, 0, 0, 0, 0x06, 9341] in r["records"] and [0, 0, 0, 0, 0x13, 1348631] in r["records"]
    assert _reason(rx, f) == "replay"


def test_radio_tx_bytes():
    f = _m5()
    assert wmbus_radio.tx_bytes("air", f) == f
    # RC1180-MBUS: L CI data; the module adds C, M, A (9 bytes after L).
    assert wmbus_radio.tx_bytes("rc1180", f) == bytes((f[0] - 9,)) + f[10:]
    sim = _board()
    sim.config["hal"] = "sim"
    assert wmbus_radio.kind(sim) == "air"


def test_meter_records_encode():
    out = bytearray()
    enc.encode_record(out, 4, 0x13, 1000)
    assert bytes(out) == _APL


def _afl_mode5(counter, mac=False):
    # A mode 5 telegram behind an AFL that claims a message counter (and, with mac, a MAC).
    f = _m5()
    fc = 0x2000 | 0x0800 | (0x0400 if mac else 0)
    body = bytes((0x25,)) + bytes((counter & 255, counter >> 8 & 255, counter >> 16 & 255,
                                   counter >> 24)) + (bytes(8) if mac else b"")
    afl = bytes((0x90, 2 + len(body), fc & 255, fc >> 8)) + body
    body = afl + f[10:]
    return bytes((len(body) + 9,)) + f[1:10] + body


def test_an_afl_counter_outside_mode_7_moves_nothing():
    # Without a MAC a counter proves nothing: it must not pass a replay or push the real
    # counter up (which would lock the meter out).
    rx, _ = _rx()
    for frame in (_afl_mode5(0xFFFFFFFF), _afl_mode5(1, mac=True)):
        assert _reason(rx, frame) == "malformed: afl"
    assert _reason(rx, _m7(8)) is None


def test_afl_message_length_follows_the_mac_and_is_covered_by_it():
    # EN 13757-7 AFL order: FCL MCL [KI] [MCR] [MAC] [ML]; the MAC input is MCL..MCR, ML, TPL.
    counter = 77
    f = _m7(counter)
    t = oms.parse(f)
    tpl = f[t.tpl:]
    ml = bytes((len(tpl) & 255, len(tpl) >> 8))
    mcl = 0x25 | 0x40  # the MCL says an ML is present
    mac_in = bytes((mcl,)) + f[15:19] + ml
    from meterseal.crypto import cmac

    mac = cmac.cmac(oms._kdf(_K, 1, t), mac_in + tpl)[:8]
    fc = 0x2000 | 0x0800 | 0x0400 | 0x1000
    afl_body = bytes((mcl,)) + f[15:19] + mac + ml
    body = bytes((0x90, 2 + len(afl_body), fc & 255, fc >> 8)) + afl_body + tpl
    frame = bytes((len(body) + 9,)) + f[1:10] + body
    t2 = oms.parse(frame)
    assert t2.counter == counter and t2.mac == mac
    assert oms.open_apl(t2, frame, _K)[2:8] == _APL and t2.authenticated


def test_mode5_drops_unencrypted_records_after_its_blocks():
    f = _m5()
    tail = unhex("0413" "3F420F00")  # 999999 l, in the clear after the encrypted block
    forged = bytes((f[0] + len(tail),)) + f[1:] + tail
    t = oms.parse(forged)
    apl = oms.open_apl(t, forged, _K)
    assert t.plain_tail == len(tail) and tail not in apl
    rx, _ = _rx()
    assert rx.handle(forged)["records"] == [[0, 0, 0, 0, 0x13, 1000]]


def test_mode5_replay_older_than_the_meters_clock_is_refused():
    # Date/time record (type F) 2026-03-01 10:15 and 10:30, then the older one again with a new
    # access number: mode 5 has no counter, but the meter's clock tells.
    def at(minute, acc):
        out = bytearray()
        enc.encode_record(out, 4, 0x6D, (2026, 3, 1, 10, minute))
        return _m5(acc=acc, apl=bytes(out) + _APL)

    rx, _ = _rx()
    assert _reason(rx, at(15, 1)) is None
    assert _reason(rx, at(30, 2)) is None
    assert _reason(rx, at(15, 3)) == "stale time"
    assert _reason(rx, at(30, 4)) is None  # the same minute again: meters send every few s


def test_key_names_are_normalised_and_checked():
    b = _board()
    wmbus_keys.put_key(b, "msl12345678", _K)
    assert wmbus_keys.meters(b) == ["MSL12345678"]
    for bad in ("K@M7634879!", "MSL1234567", "1SL12345678"):
        with raises(ValueError):
            wmbus_keys.put_key(b, bad, _K)
