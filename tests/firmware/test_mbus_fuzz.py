# Fuzzing the M-Bus decoders (EN 13757-2 frames, EN 13757-3 header and records) and the slave's
# receive path: mutated and truncated telegrams must decode or raise mbus.FrameError, nothing
# else, and never hang. 100,000 cases under CPython (times METERSEAL_FUZZ_SCALE, `make fuzz`),
# fewer under MicroPython, from a fixed seed so a failure can be replayed.
import sys

from mptest import Rng as _Rng, fuzz_count as _count, unhex

from meterseal.proto import mbus
from meterseal.proto import mbus_records as mr

_MP = sys.implementation.name == "micropython"


def _seeds():
    path = __file__.rsplit("/", 1)[0] + "/../vectors/mbus/wired_telegrams.txt"
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("T "):
                out.append(unhex(line.split()[2]))
    out.append(unhex("107B017C16"))
    out.append(unhex("680B0B6873FD5278563412FFFFFFFFD216"))
    out.append(b"\xe5")
    return out


def _mutate(rng, seed):
    b = bytearray(seed)
    op = rng.below(6)
    if op == 0:
        b = b[:rng.below(len(b) + 1)]  # truncated
    elif op == 1:
        for _ in range(1 + rng.below(4)):
            b[rng.below(len(b))] = rng.below(256)
    elif op == 2:
        i = rng.below(len(b) + 1)
        b = b[:i] + bytes((rng.below(256),)) + b[i:]
    elif op == 3:
        i = rng.below(len(b))
        b = b[:i] + b[i + 1:]
    else:
        # inside the records: mutate user data, then repair L and CS so the frame itself is
        # good and the EN 13757-3 decoder is what gets exercised
        if len(b) > 9 and b[0] == 0x68:
            for _ in range(1 + rng.below(3)):
                b[7 + rng.below(len(b) - 9)] = rng.below(256)
            if op == 5 and len(b) > 10:
                cut = 7 + rng.below(len(b) - 9)
                b = b[:cut] + b[-2:]
            n = len(b) - 6
            if 3 <= n <= 255:
                b[1] = b[2] = n
                b[-2] = mbus.checksum(b, 4, len(b) - 2)
    return bytes(b)


def _decode(frame):
    kind, c, a, ci, ds, de = mbus.parse(frame)
    if kind == mbus.KIND_LONG and ci == mbus.CI_RSP_VARIABLE:
        mr.parse_header(frame, ds, de)
        mr.parse_records(frame, ds + mbus.HEADER_LEN, de)
    elif kind == mbus.KIND_LONG and ci == mbus.CI_DATA_SEND:
        mr.parse_records(frame, ds, de)
    return kind


def test_fuzz_decoders_raise_only_frame_error():
    rng = _Rng(0x4D427573)  # "MBus"
    seeds = _seeds()
    counts = [0, 0]
    for _ in range(_count(100000, 5000)):
        frame = _mutate(rng, seeds[rng.below(len(seeds))])
        try:
            _decode(frame)
            counts[0] += 1
        except mbus.FrameError:
            counts[1] += 1
    assert counts[0] > 0 and counts[1] > 0, counts


def test_fuzz_slave_receive_path():
    # the slave's buffer loop over a stream of mutated frames: never raises, always drains
    from meterseal.roles.mbus_slave import MBusSlave

    ident = {"id": 12345678, "manufacturer": "MSL", "version": 1, "medium": 2,
             "primary_address": 1}
    slave = MBusSlave(None, ident, lambda: [], now=None)
    rng = _Rng(0x51A7E)
    seeds = _seeds() + [unhex("1040014116"), unhex("68060668530151017A052516")]
    for _ in range(_count(20000, 2000)):
        slave._rx.extend(_mutate(rng, seeds[rng.below(len(seeds))]))
        while slave._next_answer() is not None:
            pass
        assert len(slave._rx) <= 2 * mbus.MAX_FRAME
    assert slave.stats["bad_frames"] > 0
