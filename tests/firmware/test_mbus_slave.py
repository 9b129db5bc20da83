# The meter's M-Bus slave and the master, talking over an in-memory bus (several slaves hear
# every byte; answers from several slaves interleave as a collision). Both interpreters.
import asyncio

from mptest import unhex

from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me
from meterseal.proto import mbus_records as mr
from meterseal.roles.mbus_master import PROBE_COLLISION, PROBE_NONE, PROBE_SINGLE, MBusMaster, NoReply
from meterseal.roles.mbus_readout import readout_records, split_telegrams
from meterseal.roles.mbus_slave import MBusSlave

_IMPORT = b"\x01\x00\x01\x08\x00\xff"
_EXPORT = b"\x01\x00\x02\x08\x00\xff"
_POWER = b"\x01\x00\x10\x07\x00\xff"
_NOW = 1767225599  # 2025-12-31 23:59:59 UTC
_BAUD = 38400  # fast line: short answer windows keep the tests quick


class Line:
    def __init__(self):
        self.ends = []

    def end(self):
        e = End(self)
        self.ends.append(e)
        return e


class End:
    def __init__(self, line):
        self.line = line
        self.baud = _BAUD
        self.q = bytearray()
        self.ev = asyncio.Event()
        self.sent = []

    async def read(self, n):
        while not self.q:
            self.ev.clear()
            await self.ev.wait()
        data = bytes(self.q[:n])
        self.q = self.q[n:]
        return data

    async def write(self, data):
        self.sent.append(bytes(data))
        for e in self.line.ends:
            if e is not self:
                e.q.extend(data)
                e.ev.set()
        await asyncio.sleep(0)

    def set_baud(self, baud):
        self.baud = baud


def _ident(n, addr=5):
    return {"id": n, "manufacturer": "MSL", "version": 1, "medium": 2, "primary_address": addr}


def _readout():
    return [(_IMPORT, 12345678, -1, 30), (_EXPORT, 4321, -1, 30), (_POWER, -250, 0, 27)]


def _slave(line, n, addr=5, max_data=252, saved=None):
    return MBusSlave(line.end(), _ident(n, addr), _readout, now=lambda: _NOW,
                     save_ident=(saved.append if saved is not None else None), max_data=max_data)


def _run(coro_fn, slaves):
    async def main():
        tasks = [asyncio.create_task(s.run()) for s in slaves]
        try:
            return await coro_fn()
        finally:
            for t in tasks:
                t.cancel()
    return asyncio.run(main())


def _values(readout):
    return [(r.function, r.storage, r.tariff, r.subunit, r.vif, r.vife, r.value)
            for r in readout.records]


_EXPECTED = [(0, 0, 0, 0, 0x02, b"", 12345678), (0, 0, 0, 0, 0x02, b"\x3c", 4321),
             (0, 0, 0, 0, 0x2B, b"", -250), (0, 0, 0, 0, 0x78, b"", 12345678),
             (0, 0, 0, 0, 0x6D, b"", (2025, 12, 31, 23, 59))]


def test_read_by_primary_address():
    line = Line()
    s = _slave(line, 12345678)
    m = MBusMaster(line.end(), slack_ms=0)

    async def go():
        return await m.read(5)
    r = _run(go, [s])
    assert r.header[:4] == (12345678, "MSL", 1, 2) and len(r.frames) == 1
    assert _values(r) == _EXPECTED
    # the exact first request bytes: SND_NKE then REQ_UD2 with FCB set (protocols-reference 1.6)
    assert m.uart.sent[:2] == [unhex("1040054516"), unhex("107B058016")]


def test_fcb_repeat_and_toggle():
    s = MBusSlave(End(Line()), _ident(1, 7), _readout, now=lambda: _NOW)

    def ask(c, a=7):
        f = mbus.parse(mbus.build_short(c, a))
        return s.handle(f[0], f[1], f[2], f[3], b"", 0, 0)
    assert ask(0x40) == b"\xe5"
    first = ask(0x7B)
    acc = mr.parse_header(first, 7, len(first) - 2)[4]
    assert ask(0x7B) == first  # FCB did not toggle: the answer was lost, send it again
    second = ask(0x5B)
    assert mr.parse_header(second, 7, len(second) - 2)[4] == (acc + 1) & 0xFF
    assert ask(0x5B) == second
    assert ask(0x40) == b"\xe5"  # a link reset: the next request is new whatever its FCB
    third = ask(0x5B)
    assert mr.parse_header(third, 7, len(third) - 2)[4] == (acc + 2) & 0xFF
    fourth = ask(0x4B)  # FCV clear: no repeat detection, always a fresh answer
    assert mr.parse_header(fourth, 7, len(fourth) - 2)[4] == (acc + 3) & 0xFF
    assert ask(0x7B, a=8) is None  # not my address
    assert ask(0x5B, a=0xFF) is None  # broadcast without answer
    assert ask(0x40, a=0xFE) == b"\xe5"  # broadcast with answer
    assert ask(0x40, a=0xFD) is None  # not selected


def test_multi_telegram_readout():
    line = Line()
    s = _slave(line, 12345678, max_data=40)
    m = MBusMaster(line.end(), slack_ms=0)

    async def go():
        return await m.read(5)
    r = _run(go, [s])
    assert len(r.frames) >= 2 and _values(r) == _EXPECTED
    for raw in r.frames[:-1]:
        assert raw[-3] == 0x1F  # DIF "more records follow" before CS and stop
    assert all(len(raw) <= 40 + 9 for raw in r.frames)
    recs = readout_records(_readout(), _ident(1), _NOW)
    parts = split_telegrams(recs, 28)
    assert sum(len(p) for p in parts) == len(recs) and len(parts) > 1


def test_secondary_search_finds_every_slave_and_reads_it():
    line = Line()
    ids = (12345678, 12349999, 87654321)
    slaves = [_slave(line, n, addr=0) for n in ids]
    m = MBusMaster(line.end(), slack_ms=0)

    async def go():
        assert await m.select(unhex("FFFFFFFFFFFFFFFF")) == PROBE_COLLISION
        assert await m.select(unhex("11111111FFFFFFFF")) == PROBE_NONE
        assert await m.select(unhex("21436587FFFFFFFF")) == PROBE_SINGLE  # 87654321
        found, unresolved = await m.search_secondary()
        r = await m.read_secondary(me.pack_address(12349999, "MSL", 1, 2))
        with_wild = await m.read_secondary(mbus.secondary_from_text("8765FFFF"))
        return found, unresolved, r, with_wild
    found, unresolved, r, with_wild = _run(go, slaves)
    assert sorted(found) == sorted(me.pack_address(n, "MSL", 1, 2) for n in ids)
    assert unresolved == []
    assert r.header[0] == 12349999 and with_wild.header[0] == 87654321
    assert sum(s.selected for s in slaves) == 1


def test_set_primary_address_by_secondary_then_read_by_primary():
    line = Line()
    saved = []
    s = _slave(line, 55667788, addr=0, saved=saved)
    m = MBusMaster(line.end(), slack_ms=0)

    async def go():
        assert await m.select(me.pack_address(55667788, "MSL", 1, 2)) == PROBE_SINGLE
        await m.set_primary_address(mbus.ADDR_SELECTED, 17)
        return await m.read(17)
    r = _run(go, [s])
    assert saved and saved[-1]["primary_address"] == 17 and r.header[0] == 55667788


def test_broadcasts_and_baud_switch():
    line = Line()
    s = _slave(line, 1)
    m = MBusMaster(line.end(), slack_ms=0)

    async def go():
        await m.send_nke(mbus.ADDR_BROADCAST)  # executed, never answered
        got = await m._collect(m.window_ms())
        assert got == b""
        await m.send_nke(mbus.ADDR_BROADCAST_REPLY)
        await m.send_ud(5, 0xBB)  # 2400 Bd: acknowledged at the old rate, then switched
        await asyncio.sleep(0.05)
    _run(go, [s])
    assert s.uart.baud == 2400 and s.stats["answers"] == 2


def test_garbage_and_bad_frames_are_skipped():
    line = Line()
    s = _slave(line, 1)
    m = MBusMaster(line.end(), slack_ms=0, retries=0)

    async def go():
        await m.uart.write(b"\x00\x68\x03\x03\x68\x53\x05\xbd\x00\x16\x10\x7b\x05\x00\x16\xff")
        got = await m._collect(m.window_ms())
        assert got == b""  # nothing good in there: no answer
        await m.uart.write(b"\x68\x16\x16" + mbus.build_short(0x40, 5))
        got = await m._collect(m.window_ms())
        assert got == b"\xe5"  # the good frame after the noise is found and answered
        try:
            await m.read(99)
            assert False
        except NoReply:
            pass
    _run(go, [s])
    assert s.stats["bad_frames"] >= 1


def test_slave_ram_per_readout():
    import gc

    s = MBusSlave(End(Line()), _ident(12345678, 7), _readout, now=lambda: _NOW)
    f = mbus.parse(mbus.build_short(0x7B, 7))
    s.handle(f[0], f[1], f[2], f[3], b"", 0, 0)
    gc.collect()
    before = gc.mem_free() if hasattr(gc, "mem_free") else 0
    for i in range(20):
        f = mbus.parse(mbus.build_short(0x5B if i % 2 else 0x7B, 7))
        assert s.handle(f[0], f[1], f[2], f[3], b"", 0, 0)[0] == 0x68
    gc.collect()
    after = gc.mem_free() if hasattr(gc, "mem_free") else 0
    assert before - after < 1024  # no growth from one readout to the next


def test_untoggled_fcb_is_a_repeat_only_within_a_retry_interval():
    # pyMeterBus and libmbus poll with 10 5B A (FCV 1, FCB 0) every time: after a retry's few
    # seconds an untoggled FCB is a new poll and must get a fresh reading (EN 13757-2 5.5).
    from meterseal.roles import mbus_slave

    clock = [1000]
    regs = {"e": 1000}
    s = MBusSlave(End(Line()), _ident(1, 5), lambda: [(_IMPORT, regs["e"], 0, 30)])

    def poll():
        f = mbus.parse(mbus.build_short(0x5B, 5))
        a = s.handle(f[0], f[1], f[2], f[3], b"", 0, 0)
        recs = mr.parse_records(a, 7 + mbus.HEADER_LEN, len(a) - 2)[0]
        return a, recs[0].value
    real = mbus_slave.ticks_ms
    mbus_slave.ticks_ms = lambda: clock[0]
    try:
        first, v = poll()
        assert v == 1000
        regs["e"] = 1500
        clock[0] += 300  # the master lost the answer and asks again at once: the same bytes
        assert poll() == (first, 1000) and s.stats["repeats"] == 1
        clock[0] += 15 * 60 * 1000  # the next poll, 15 minutes later, same FCB
        second, v = poll()
        assert v == 1500 and second != first
        regs["e"] = 2000
        clock[0] += 60 * 1000
        assert poll()[1] == 2000
    finally:
        mbus_slave.ticks_ms = real


def test_untoggled_fcb_after_a_pause_restarts_a_multi_telegram_readout():
    from meterseal.roles import mbus_slave

    clock = [0]
    s = MBusSlave(End(Line()), _ident(1, 5), _readout, now=lambda: _NOW, max_data=40)

    def ask(c):
        f = mbus.parse(mbus.build_short(c, 5))
        return s.handle(f[0], f[1], f[2], f[3], b"", 0, 0)
    real = mbus_slave.ticks_ms
    mbus_slave.ticks_ms = lambda: clock[0]
    try:
        part1 = ask(0x5B)
        part2 = ask(0x7B)
        assert part2[7:15] == part1[7:15] and part2[19:-2] != part1[19:-2]
        clock[0] += 60 * 1000
        again = ask(0x7B)  # not a retry any more: the readout starts over at part 1
        assert again[19:-2] == part1[19:-2]
    finally:
        mbus_slave.ticks_ms = real


class AndBus:
    """A line on which the slaves answer bit-synchronously: overlapping answers are the bitwise
    AND of their bytes (a 0 bit is the dominant current step), so identical E5s merge into one
    clean E5 while different RSP_UDs garble. The master's UART."""

    def __init__(self, slaves):
        self.slaves = slaves
        self.baud = _BAUD
        self.q = bytearray()
        self.ev = asyncio.Event()

    async def write(self, frame):
        answers = []
        for s in self.slaves:
            s._rx.extend(frame)
            while True:
                a = s._next_answer()
                if a is None:
                    break
                if a:
                    answers.append(a)
        if answers:
            n = max(len(a) for a in answers)
            out = bytearray(b"\xff" * n)
            for a in answers:
                for i in range(len(a)):
                    out[i] &= a[i]
            self.q.extend(out)
            self.ev.set()
        await asyncio.sleep(0)

    async def read(self, n):
        while not self.q:
            self.ev.clear()
            await self.ev.wait()
        data = bytes(self.q[:n])
        self.q = self.q[n:]
        return data


def test_secondary_search_narrows_when_the_e5s_of_several_slaves_merge():
    ids = (12345678, 12349999, 87654321)
    slaves = [MBusSlave(End(Line()), _ident(n, 0), _readout, now=lambda: _NOW) for n in ids]
    m = MBusMaster(AndBus(slaves), slack_ms=0, retries=0)

    async def go():
        assert await m.select(unhex("FFFFFFFFFFFFFFFF")) == PROBE_SINGLE  # one merged E5
        return await m.search_secondary()
    found, unresolved = asyncio.run(go())
    assert sorted(found) == sorted(me.pack_address(n, "MSL", 1, 2) for n in ids)
    assert unresolved == []


def test_secondary_search_same_id_twice_with_merged_e5s_is_unresolved():
    slaves = [MBusSlave(End(Line()), {"id": 12345678, "manufacturer": man, "version": 1,
                                      "medium": 2, "primary_address": 0}, _readout)
              for man in ("MSL", "KAM")]
    m = MBusMaster(AndBus(slaves), slack_ms=0, retries=0)
    found, unresolved = asyncio.run(m.search_secondary())
    assert found == [] and unresolved == [unhex("78563412FFFFFFFF")]


def test_baud_switch_broadcast_to_255_takes_effect_at_once():
    # EN 13757-2: 255 is executed by all and answered by none, so no E5 will carry the switch
    s = MBusSlave(End(Line()), _ident(1, 5), _readout)
    f = mbus.parse(mbus.build_long(0x53, 255, 0xBD))  # 9600 Bd
    assert s.handle(f[0], f[1], f[2], f[3], mbus.build_long(0x53, 255, 0xBD), f[4], f[5]) is None
    assert s.uart.baud == 9600 and s._baud is None
    frame = mbus.build_long(0x53, 5, 0xBB)  # to the slave's own address: after its E5
    f = mbus.parse(frame)
    assert s.handle(f[0], f[1], f[2], f[3], frame, f[4], f[5]) == b"\xe5" and s.uart.baud == 9600
