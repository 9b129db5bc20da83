# Fuzz: mutated and truncated wireless M-Bus frames through the link layer (CRC formats A, B),
# the OMS layer and the MUC's receiver. Each one decodes or is rejected with the codec's error
# (FrameError, InvalidTag) / the receiver's Rejected; nothing else may escape, nothing may hang.
# 100,000 frames per decoder under CPython, 2,000 under MicroPython; METERSEAL_FUZZ_SCALE
# multiplies both (`make fuzz`). Fixed seed: a failure reproduces.
import os
import sys

from mptest import Rng as _Rng, unhex

from meterseal.crypto.errors import InvalidTag
from meterseal.proto import oms, wmbus
from meterseal.proto.wmbus import FrameError
from meterseal.roles import wmbus_keys
from meterseal.roles.wmbus_receiver import Receiver, Rejected

_K = unhex("000102030405060708090A0B0C0D0E0F")
_MP = sys.implementation.name == "micropython"
_N = (2000 if _MP else 100000) * int(os.getenv("METERSEAL_FUZZ_SCALE") or "1")
_VEC = __file__.rsplit("/", 1)[0] + "/../vectors/wmbus/telegrams.txt"


def _seeds():
    m = wmbus.manufacturer_code("MSL")
    apl = unhex("0413E8030000046D2A0B2F3A")
    out = [oms.seal_mode5(_K, 0x44, m, "12345678", 1, 7, 3, 0, apl),
           oms.seal_mode7(_K, 0x44, m, "12345678", 1, 7, 3, 0, 77, apl)]
    with open(_VEC) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                _, crcs, _, h = line.split()
                raw = unhex(h)
                out.append(wmbus.strip_crc_a(raw) if crcs == "A" else
                           wmbus.strip_crc_b(raw) if crcs == "B" else raw)
    return out


def _mutate(rng, f):
    b = bytearray(f)
    op = rng.below(5)
    if op == 0:  # truncate
        b = b[:rng.below(len(b) + 1)]
    elif op == 1:  # insert bytes
        p = rng.below(len(b) + 1)
        b = b[:p] + bytes(rng.below(256) for _ in range(1 + rng.below(4))) + b[p:]
    else:  # flip 1..4 bytes, mostly in the headers where the parsers branch
        for _ in range(1 + rng.below(4)):
            if not b:
                break
            p = rng.below(min(len(b), 40) if rng.below(2) else len(b))
            b[p] = rng.below(256)
    if b and rng.below(4):
        b[0] = (len(b) - 1) & 0xFF  # keep L consistent most of the time to get past it
    return bytes(b)


def test_fuzz_link_layer_formats_a_and_b():
    rng = _Rng(0x5EED0001)
    framed = []
    for f in _seeds():
        framed.append((wmbus.strip_crc_a, wmbus.add_crc_a(f)))
        if len(f) <= 252:
            framed.append((wmbus.strip_crc_b, wmbus.add_crc_b(f)))
    ok = 0
    for i in range(_N):
        strip, raw = framed[i % len(framed)]
        m = _mutate(rng, raw)
        try:
            f = strip(m)
            assert len(f) == f[0] + 1
            ok += 1
        except FrameError:
            pass
    assert 0 < ok < _N


def test_fuzz_oms_parse_and_open():
    rng = _Rng(0x5EED0002)
    seeds = _seeds()
    keys = {}
    for line in open(_VEC):
        if line.strip() and not line.startswith("#"):
            _, _, k, _ = line.split()
            keys[len(keys)] = None if k == "-" else unhex(k)
    opened = 0
    for i in range(_N):
        j = i % len(seeds)
        key = _K if j < 2 else keys[j - 2]
        m = _mutate(rng, seeds[j])
        try:
            t = oms.parse(m)
            oms.open_apl(t, m, key)
            opened += 1
        except (FrameError, InvalidTag):
            pass
    assert 0 < opened < _N


def test_fuzz_receiver():
    import kshelp

    b = kshelp.fresh_board("wfz", blocks=24)
    wmbus_keys.put_key(b, "MSL12345678", _K)
    rx = Receiver(b)
    rng = _Rng(0x5EED0003)
    seeds = _seeds()[:2]
    reasons = {}
    for i in range(_N // 4):
        try:
            rx.handle(_mutate(rng, seeds[i & 1]))
            reasons["ok"] = reasons.get("ok", 0) + 1
        except Rejected as e:
            reasons[e.args[1]] = reasons.get(e.args[1], 0) + 1
    assert "bad MAC" in reasons and "malformed: length" in reasons or _MP
