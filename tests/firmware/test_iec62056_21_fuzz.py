# Fuzzing the IEC 62056-21 decoders and the meter's receive path: mutated and truncated
# messages must decode or raise iec62056_21.FrameError, nothing else, and never hang.
# 100,000 cases under CPython (times METERSEAL_FUZZ_SCALE, `make fuzz`), fewer under
# MicroPython, from a fixed seed so that a failure can be replayed.
import asyncio
import sys

from mptest import Rng as _Rng, fuzz_count as _count, unhex, vector_lines

from iec_loop import pair
from meterseal.proto import iec62056_21 as iec
from meterseal.roles.iec_client import IecClient
from meterseal.roles.iec_server import IecServer

_MP = sys.implementation.name == "micropython"


# Bytes that steer the decoders: control characters, separators, letters of the commands.
_INTERESTING = b"\x00\x01\x02\x03\x04\x06\x15\r\n/?!()*.:-&\\05PRWBE"


def _seeds():
    out = []
    for line in vector_lines("iec62056_21_bcc.txt"):
        m, b, _ = line.split(" ")
        out.append(unhex(m) + unhex(b))
    for line in vector_lines("iec62056_21_identification.txt"):
        out.append(unhex(line.split(" ")[0]))
    for line in vector_lines("iec62056_21_data_sets.txt"):
        out.append(iec.encode_answer(unhex(line.split(" ")[0]) + b"\r\n"))
    out += [b"/?!\r\n", b"/?12345678!\r\n", b"\x06050\r\n", b"\x06051\r\n",
            iec.encode_readout([b"C.1.0(12345678)", b"1.8.0(000012.3456*kWh)",
                                b"1-0:16.7.0*255(-000.400*kW)"]),
            iec.encode_command("W", "1", b"1.8.0(000000.0000)"), iec.encode_error("ERROR")]
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
        c = _INTERESTING[rng.below(len(_INTERESTING))] if rng.below(2) else rng.below(128)
        b = b[:i] + bytes((c,)) + b[i:]
    elif op == 3:
        i = rng.below(len(b))
        b = b[:i] + b[i + 1:]
    else:
        # a steering character somewhere, then a repaired BCC so the decoders behind the
        # BCC check (data sets, commands) are what gets exercised
        b[rng.below(len(b))] = _INTERESTING[rng.below(len(_INTERESTING))]
        if op == 5 and len(b) > 3 and b[0] in (1, 2):
            b[-1] = iec.bcc(b, 1, len(b) - 1)
    return bytes(b)


def _decode_all(m):
    for fn in (iec.decode_request, iec.decode_identification, iec.decode_ack_option):
        try:
            fn(m)
        except iec.FrameError:
            pass
    blk = iec.find_block(m)
    if blk is not None:
        s, e = blk
        assert 0 <= s < e <= len(m)
    try:
        if m[:1] == b"\x01":
            c, t, ds, de = iec.decode_command(m)
            if ds is not None:
                for a, v, u in iec.parse_data_sets(m, ds, de):
                    if a:
                        iec.parse_id(a)
        else:
            s, e, _ = iec.decode_data_message(m)
            for a, v, u in iec.parse_data_sets(m, s, e):
                if a:
                    iec.parse_id(a)
    except iec.FrameError:
        pass
    try:
        iec.parse_data_sets(m)
    except iec.FrameError:
        pass


def test_decoders_survive_mutated_messages():
    rng = _Rng(0x1EC62056)
    seeds = _seeds()
    n = _count(100000, 5000)
    for i in range(n):
        seed = seeds[rng.below(len(seeds))]
        m = _mutate(rng, seed)
        if rng.below(8) == 0:
            m = _mutate(rng, m) if m else m
        try:
            _decode_all(m)
        except iec.FrameError:
            pass
        except Exception as e:  # anything else is a bug: show the input to replay it
            raise AssertionError("case %d: %r raised %r" % (i, m, e))


def test_parse_id_survives_mutated_addresses():
    rng = _Rng(0xB15)
    ids = ["1.8.0", "1-0:1.8.0*255", "C.1.0", "F.F", "0.9.1", "1.8.0&12", "2-1:2.3.4*255"]
    for i in range(_count(20000, 2000)):
        s = bytearray(ids[rng.below(len(ids))].encode())
        for _ in range(1 + rng.below(3)):
            op = rng.below(3)
            if op == 0 and s:
                s[rng.below(len(s))] = _INTERESTING[rng.below(len(_INTERESTING))]
            elif op == 1 and s:
                s = s[:rng.below(len(s))]
            else:
                s.append(0x30 + rng.below(10))
        try:
            obis = iec.parse_id(bytes(s).decode())
            assert len(obis) == 6
            iec.format_id(obis)
        except iec.FrameError:
            pass


def test_meter_keeps_answering_after_garbage():
    # The meter's receive path (idle, option select, programming mode) fed with mutated
    # messages, then a normal readout must still work.
    rng = _Rng(0x0D0)
    seeds = _seeds()
    probe, muart = pair(9600)
    probe.log = muart.log = None  # a long run: keep the heap for the meter
    srv = IecServer(muart, lambda: [], {"id": 1}, lambda: 0, password="pw", initial_baud=9600,
                    reaction_ms=5, tt_ms=200)

    async def main():
        task = asyncio.create_task(srv.run())
        try:
            for round_ in range(_count(15, 8)):
                await probe.write(b"/?!\r\n" if round_ % 2 else b"/?1!\r\n")
                await asyncio.sleep(0.02)
                await probe.write(b"\x06051\r\n" if round_ % 3 else b"\x06" + bytes(
                    (rng.below(128),)) + b"1\r\n")
                await asyncio.sleep(0.02)
                for _ in range(10):
                    await probe.write(_mutate(rng, seeds[rng.below(len(seeds))]))
                    await asyncio.sleep(0.005)
                await probe.write(iec.encode_command("B", "0"))
                await asyncio.sleep(0.03)
                probe.discard_input()
            await asyncio.sleep(0.3)  # tt: whatever session is open ends
            info = await IecClient(probe, initial_baud=9600, max_baud=9600,
                                   reaction_ms=20).readout()
            assert info["records"][0] == ("C.1.0", "00000001", None)
        finally:
            task.cancel()
            await asyncio.sleep(0)

    asyncio.run(main())
