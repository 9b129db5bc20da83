# Fuzzing the SML decoder: mutated and truncated frames (fixed seed) must each decode or raise
# FrameError, nothing else, and never hang. 100,000 cases under CPython (times
# METERSEAL_FUZZ_SCALE for `make fuzz`), 2,000 under MicroPython.
# Three kinds of case: raw frame mutations (the transport checks: CRC, escapes, padding),
# message-body mutations with the CRCs left unchecked (reach the TLV parser behind the CRC),
# and the stream reader fed mutated streams in random chunks.
import os

from mptest import Rng as _Rng, IS_MICROPYTHON, unhex

from meterseal.proto import sml
from meterseal.proto import sml_tl as tl
from meterseal.proto.sml import FrameError


def _count():
    scale = int(os.getenv("METERSEAL_FUZZ_SCALE") or "1")
    return (2000 if IS_MICROPYTHON else 100000) * scale


def _seeds():
    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    out = []
    with open(d + "/../vectors/sml/smllib_frames.txt") as f:
        for line in f:
            if line[0] != "#" and line.strip():
                name, h = line.split()
                if name in ("Frame1", "Frame2"):
                    out.append(unhex(h))
    t = sml.Time(sml.Time.LOCAL, 1535475457, 60, 60)
    res = sml.GetListRes(server_id=b"\x0a" * 10, list_signature=b"\x1b" * 66, val_list=[
        sml.ListEntry(obj_name=b"\x01\x00\x01\x11\x00\xff", status=5, val_time=t, unit=30,
                      scaler=-1, value=2918),
        sml.ListEntry(obj_name=b"\x81\x00\x60\x08\x00\x01",
                      value=sml.Time(sml.Time.SEC_INDEX, 3))])
    prof = sml.GetProfileListRes(server_id=b"s", act_time=t, reg_period=900, tree_path=[b"p"],
                                 val_time=t, status=1, period_list=[
                                     sml.PeriodEntry(obj_name=b"\x01" * 6, unit=30, scaler=0,
                                                     value=1, value_signature=b"x")])
    out.append(bytes(sml.encode_frame([sml.Message(res), sml.Message(prof),
                                       sml.Message(sml.CloseRes(global_signature=b"g"))])))
    return out


_INTERESTING = (0x00, 0x01, 0x1B, 0x1A, 0x62, 0x65, 0x69, 0x72, 0x76, 0x7F, 0x80, 0x8F, 0xF1,
                0xFF)


def _mutate(rng, b):
    b = bytearray(b)
    for _ in range(1 + rng.below(4)):
        op = rng.below(6)
        i = rng.below(len(b)) if b else 0
        if op == 0 and b:
            b[i] ^= 1 << rng.below(8)
        elif op == 1 and b:
            b[i] = _INTERESTING[rng.below(len(_INTERESTING))]
        elif op == 2:
            b = b[: rng.below(len(b) + 1)]  # truncate
        elif op == 3 and b:
            b = b[:i] + b[i + 1 :]  # MicroPython's bytearray has no del or slice insert
        elif op == 4:
            b = b[:i] + bytes((rng.below(256),)) + b[i:]
        elif b:
            j = rng.below(len(b))
            b[i], b[j] = b[j], b[i]
    return b


def _fix_crc(b):
    # Make the transport accept a mutated frame so the message parser behind it gets tested.
    if len(b) >= 16:
        from meterseal.proto.crc import crc16_x25

        crc = crc16_x25(b, 0, len(b) - 2)
        b[-2], b[-1] = crc & 0xFF, crc >> 8
    return b


def test_fuzz_decoder():
    rng = _Rng(0x5EED5EED)
    seeds = _seeds()
    bodies = []
    for s in seeds:
        body, a, e = tl.unframe(s)
        bodies.append(bytes(body[a:e]))
    n = _count()
    decoded = rejected = 0
    for k in range(n):
        kind = k % 3
        try:
            if kind == 0:
                sml.decode_frame(_mutate(rng, seeds[rng.below(len(seeds))]))
            elif kind == 1:
                sml.decode_frame(_fix_crc(_mutate(rng, seeds[rng.below(len(seeds))])))
            else:
                sml.decode_messages(_mutate(rng, bodies[rng.below(len(bodies))]),
                                    check_crc=False)
            decoded += 1
        except FrameError as e:
            assert e.args and isinstance(e.args[0], str)
            rejected += 1
    assert decoded + rejected == n
    # The mutations must reach past the CRC: a good share of body cases decode.
    assert decoded > n // 50 and rejected > n // 3


def test_fuzz_stream_reader():
    rng = _Rng(0xC0FFEE)
    seeds = _seeds()
    frames = 0
    for _ in range(max(50, _count() // 200)):
        r = tl.FrameReader(max_frame=1024)
        stream = bytearray()
        for _ in range(3):
            stream.extend(_mutate(rng, seeds[rng.below(len(seeds))]) if rng.below(2)
                          else seeds[rng.below(len(seeds))])
        i = 0
        while i < len(stream):
            step = 1 + rng.below(64)
            r.feed(stream[i : i + step])
            i += step
            for _ in range(8):  # bounded: never loops forever on one buffer
                try:
                    f = r.next_frame()
                except FrameError:
                    continue
                if f is None:
                    break
                frames += 1
                try:
                    sml.decode_frame(f)
                except FrameError:
                    pass
    assert frames > 0
