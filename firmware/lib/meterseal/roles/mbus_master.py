# The wired M-Bus master (EN 13757-2/-3): the MUC's reader on its "mbus" UART, and the host's
# (`meterseal mbus`) through host_tools/serial_uart.py, which offers the same UART interface.
#
# Timing (EN 13757-2 5.7.2): a slave answers between 11 bit times and 330 bit times + 50 ms after
# the request; the master waits that window plus `slack_ms` for USB adapters and level converters
# (libmbus allows ~100 ms more at 2400 Bd), repeats a request `retries` times with the same FCB
# (so a slave whose answer was lost sends it again), and toggles the FCB after each success.
# A multi-telegram readout (a telegram ending with DIF 1F) is followed with REQ_UD2 until a
# telegram without it arrives.
#
# Secondary search (EN 13757-3 Annex, "wildcard search"): select FFFFFFFF (ID all wildcards);
# silence means no slave, a lone E5 one slave or several whose E5s merged, anything else (several
# E5, garbage, a bad frame) a collision. After a lone E5, REQ_UD2: one valid RSP_UD and nothing
# else is a slave (its header gives the full address, confirmed by selecting that address alone),
# anything else a collision too. On a collision fix the next ID digit, most significant first, to
# 0..9 in turn and select again. Limit: answers so bit-synchronous that their AND is exactly one
# of them hide the other slave (real slaves' clocks drift apart within a long frame).
import asyncio

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms, wait_for_ms
from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me
from meterseal.proto import mbus_records as mr

_CHAR_BITS = const(11)
_READ = const(256)
_MAX_TELEGRAMS = const(32)  # a runaway slave that always says "more follows" ends here
_C_SELECT = const(0x73)  # SND_UD with FCB and FCV, as libmbus sends the selection

PROBE_NONE = "none"
PROBE_SINGLE = "single"
PROBE_COLLISION = "collision"


class NoReply(Exception):
    """No valid answer after all retries; args[0] says what was asked."""


class Readout:
    """A slave's RSP_UD telegrams: header (mbus_records.parse_header), records, raw frames."""

    def __init__(self, address, header, records, frames):
        self.address = address
        self.header = header
        self.records = records
        self.frames = frames


def _rsp_ud_address(got):
    """The 8-byte secondary address of got if it is exactly one RSP_UD with a long header,
    else None."""
    try:
        if mbus.frame_length(got, 0) != len(got):
            return None
        f = mbus.parse(got)
    except mbus.FrameError:
        return None
    if f[0] != mbus.KIND_LONG or mbus.function(f[1]) != mbus.F_RSP_UD:
        return None
    if f[3] != mbus.CI_RSP_VARIABLE or f[5] - f[4] < mbus.HEADER_LEN:
        return None
    return bytes(got[f[4]:f[4] + 8])


class MBusMaster:
    def __init__(self, uart, retries=2, slack_ms=100, pace=False):
        self.uart = uart
        self.retries = retries
        self.slack_ms = slack_ms
        self._pace = pace  # the UART returns before the bytes are out (pyserial socket://)
        self._fcb = {}  # address -> the FCB of the next REQ_UD2
        self.stats = {"requests": 0, "retries": 0, "probes": 0}

    def window_ms(self):
        return 330 * 1000 // self.uart.baud + 50 + self.slack_ms

    # --- transport ----------------------------------------------------------------------------

    async def _send(self, frame):
        drop = getattr(self.uart, "discard_input", None)
        if drop is not None:
            drop()
        await self.uart.write(frame)
        if self._pace:
            await asleep_ms(len(frame) * _CHAR_BITS * 1000 // self.uart.baud)

    async def _collect(self, ms):
        """Everything that arrives within ms."""
        got = bytearray()
        t0 = ticks_ms()
        while True:
            left = ms - ticks_diff(ticks_ms(), t0)
            if left <= 0:
                return bytes(got)
            try:
                got.extend(await wait_for_ms(self.uart.read(_READ), left))
            except asyncio.TimeoutError:
                return bytes(got)

    async def _recv_frame(self):
        """One frame: (parse() tuple, its bytes). NoReply on silence; FrameError on garbage."""
        rx = bytearray()
        timeout = self.window_ms()
        while True:
            if rx:
                n = mbus.frame_length(rx, 0)  # FrameError: not the start of a frame
                if n and len(rx) >= n:
                    frame = bytes(rx[:n])
                    return mbus.parse(frame), frame
            try:
                rx.extend(await wait_for_ms(self.uart.read(_READ), timeout))
            except asyncio.TimeoutError:
                raise NoReply("no answer" if not rx else "answer cut short")
            # inside a frame: characters follow each other; a long pause ends the attempt
            timeout = 50 + self.slack_ms + 3 * _CHAR_BITS * 1000 // self.uart.baud

    async def _answer(self, frame):
        """Send frame once -> all bytes of the answer: the first within the answer window,
        then until the line is quiet for longer than a pause inside a frame."""
        await self._send(frame)
        got = await self._collect(self.window_ms())
        if got:
            got += await self._collect_until_quiet()
        return got

    async def _collect_until_quiet(self):
        got = bytearray()
        gap = 50 + self.slack_ms + 3 * _CHAR_BITS * 1000 // self.uart.baud
        while True:
            try:
                got.extend(await wait_for_ms(self.uart.read(_READ), gap))
            except asyncio.TimeoutError:
                return bytes(got)

    async def _exchange(self, frame, want_ack, what):
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
            self.stats["requests"] += 1
            await self._send(frame)
            try:
                f, raw = await self._recv_frame()
            except NoReply:
                continue
            except mbus.FrameError:
                await self._collect(self.window_ms())  # let the line go quiet first
                continue
            if want_ack:
                if f[0] == mbus.KIND_ACK:
                    return f, raw
            elif f[0] == mbus.KIND_LONG and mbus.function(f[1]) == mbus.F_RSP_UD:
                return f, raw
        raise NoReply(what)

    # --- link services -----------------------------------------------------------------------

    async def send_nke(self, address):
        """SND_NKE: link reset (the slave expects FCB 1 next). No answer is awaited at 255."""
        frame = mbus.build_short(mbus.C_SND_NKE, address)
        self._fcb[address] = mbus.C_FCB
        if address == mbus.ADDR_BROADCAST:
            await self._send(frame)
            await asleep_ms(self.window_ms())
            return
        await self._exchange(frame, True, "SND_NKE to %d" % address)

    async def request_ud2(self, address):
        """REQ_UD2 -> (parse() tuple, frame bytes) of the RSP_UD."""
        fcb = self._fcb.get(address, mbus.C_FCB)
        frame = mbus.build_short(mbus.C_REQ_UD2 | fcb, address)
        f, raw = await self._exchange(frame, False, "REQ_UD2 to %d" % address)
        self._fcb[address] = fcb ^ mbus.C_FCB
        return f, raw

    async def send_ud(self, address, ci, data=b""):
        """SND_UD (e.g. CI 0x51 records) -> returns when the slave acknowledged with E5."""
        fcb = self._fcb.get(address, mbus.C_FCB)
        frame = mbus.build_long(mbus.C_SND_UD | fcb, address, ci, data)
        await self._exchange(frame, True, "SND_UD to %d" % address)
        self._fcb[address] = fcb ^ mbus.C_FCB

    async def set_primary_address(self, address, new):
        rec = bytearray()
        me.encode_record(rec, mbus.DF_INT8, mbus.VIF_BUS_ADDRESS, new)
        await self.send_ud(address, mbus.CI_DATA_SEND, rec)

    async def read(self, address, reset=True):
        """The whole readout of one slave (all telegrams of a multi-telegram answer)."""
        if reset and address != mbus.ADDR_SELECTED:
            await self.send_nke(address)
        header = None
        records = []
        frames = []
        for _ in range(_MAX_TELEGRAMS):
            f, raw = await self.request_ud2(address)
            if f[3] != mbus.CI_RSP_VARIABLE:
                raise mbus.FrameError("ci")
            h = mr.parse_header(raw, f[4], f[5])
            if header is None:
                header = h
            elif h[:4] != header[:4]:
                raise mbus.FrameError("another slave answered")
            recs, more = mr.parse_records(raw, f[4] + mbus.HEADER_LEN, f[5])
            if more and recs and not recs[-1].value:
                recs.pop()  # the bare DIF 1F marker: no manufacturer data in it
            records.extend(recs)
            frames.append(raw)
            if not more:
                return Readout(address, header, records, frames)
        raise mbus.FrameError("too many telegrams")

    # --- secondary addressing -----------------------------------------------------------------

    async def select(self, sel):
        """Secondary selection (CI 0x52) of sel (8 bytes, wildcards allowed) -> PROBE_*."""
        self.stats["probes"] += 1
        self._fcb[mbus.ADDR_SELECTED] = mbus.C_FCB  # the selection restarts the slave's link
        await self._send(mbus.build_long(_C_SELECT, mbus.ADDR_SELECTED, mbus.CI_SELECT, sel))
        got = await self._collect(self.window_ms())
        if not got:
            return PROBE_NONE
        return PROBE_SINGLE if got == b"\xe5" else PROBE_COLLISION

    async def read_secondary(self, sel):
        state = await self.select(sel)
        if state != PROBE_SINGLE:
            raise NoReply("selection of %s: %s" % (mbus.secondary_to_text(sel), state))
        return await self.read(mbus.ADDR_SELECTED, reset=False)

    async def search_secondary(self, tail=b"\xff\xff\xff\xff", on_found=None):
        """All slaves on the bus by wildcard narrowing of the ID -> list of 8-byte addresses.
        tail: manufacturer, version, medium of the selections (wildcards by default)."""
        found = []
        unresolved = []
        await self._search("", tail, found, unresolved, on_found)
        return found, unresolved

    async def _search(self, prefix, tail, found, unresolved, on_found):
        sel = mbus.secondary_from_text(prefix + "F" * (8 - len(prefix)))[:4] + tail
        state = await self.select(sel)
        if state == PROBE_NONE:
            return
        if state == PROBE_SINGLE:
            # Identical E5s of several slaves superimpose into one clean E5 on a real bus; their
            # RSP_UDs do not. So one valid RSP_UD and nothing else is a slave, silence none, and
            # anything else (garbage, a bad frame, bytes after the frame) a collision: narrow.
            req = mbus.build_short(mbus.C_REQ_UD2 | mbus.C_FCB, mbus.ADDR_SELECTED)
            for _ in range(self.retries + 1):  # silence may be a lost answer: the same FCB again
                got = await self._answer(req)
                if got:
                    break
            if not got:
                return
            self._fcb[mbus.ADDR_SELECTED] = 0  # the FCB 1 request went out: 0 next
            addr = _rsp_ud_address(got)
            if addr is not None and addr != sel and await self.select(addr) != PROBE_SINGLE:
                # Bit-synchronous answers AND together and can make a valid frame of an address
                # no slave has: only a lone E5 to the exact address makes it a slave.
                addr = None
            if addr is not None:
                if addr not in found:
                    found.append(addr)
                    if on_found is not None:
                        on_found(addr)
                return
        if len(prefix) == 8:
            unresolved.append(sel)  # same ID twice: manufacturer/version/medium would tell
            return
        for d in "0123456789":
            await self._search(prefix + d, tail, found, unresolved, on_found)

    async def scan_primary(self, first=0, last=mbus.ADDR_LAST_PRIMARY, on_found=None):
        """SND_NKE to each primary address -> (answering addresses, addresses with collisions)."""
        found = []
        collided = []
        for a in range(first, last + 1):
            self.stats["probes"] += 1
            await self._send(mbus.build_short(mbus.C_SND_NKE, a))
            got = await self._collect(self.window_ms())
            if got == b"\xe5":
                found.append(a)
                self._fcb[a] = mbus.C_FCB
                if on_found is not None:
                    on_found(a)
            elif got:
                collided.append(a)
        return found, collided
