# The meter's wired M-Bus slave (EN 13757-2 link layer, EN 13757-3 application layer) on the
# board's "mbus" UART (8E1, the baud rate of board.json; 2400 Bd by default).
#
# Addressing: its primary address (identity "primary_address", 0 = unconfigured), 254 (answer)
# and 255 (execute, never answer) broadcasts, and 253 once selected by secondary address (CI
# 0x52, wildcards allowed). Services: SND_NKE -> E5 (resets the frame count bit; to 253 it also
# deselects), REQ_UD2 -> RSP_UD (CI 0x72), REQ_UD1 -> E5 (no alarm data), SND_UD with CI 0x51
# (VIF 0x7A sets the primary address, kept in identity.json), 0x50 application reset, 0xB8-0xBF
# baud rate (acknowledged at the old rate, then switched; sent to 255, switched at once).
#
# The RSP_UD records are mbus_readout.py's mapping of the meter's registers.
# A readout that does not fit one telegram (board.json "mbus_max_data", default the 252 data
# bytes of a long frame) ends each part but the last with DIF 1F; the master fetches the next
# part with REQ_UD2 and a toggled FCB. A request whose FCB did not toggle within a few seconds gets
# the last answer again (the master lost it), without a new snapshot or access number; later, it
# is a new poll (masters that never toggle the FCB) and gets a fresh reading.
import asyncio

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms, wait_for_ms
from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me
from meterseal.roles.mbus_readout import readout_records, split_telegrams

_ACK = b"\xe5"
_CHAR_BITS = const(11)  # start, 8 data, even parity, stop
_READ = const(64)
_REPEAT_MS = const(3000)


class MBusSlave:
    def __init__(self, uart, ident, readout, now=None, save_ident=None, max_data=mbus.MAX_DATA):
        self.uart = uart
        self.ident = ident
        self._readout = readout  # () -> [(obis6, value, scaler, unit)]
        self._now = now  # () -> POSIX seconds, or None: no time point record
        self._save = save_ident  # (ident) -> None: persist a changed primary address
        self._room = max_data - mbus.HEADER_LEN
        self._addr = me.pack_address(ident["id"], ident["manufacturer"], ident["version"],
                                     ident["medium"])
        self.selected = False
        self.access = ident["id"] & 0xFF
        self._fcb = None  # FCB of the last request with FCV set; None after a link reset
        self._last = None  # (function, answer) for a repeat
        self._last_t = 0  # ticks_ms() when that answer was made
        self._parts = None  # the snapshot being read out, split into telegrams
        self._part = 0
        self._baud = None  # a baud-rate switch waiting for its E5 to go out
        self._rx = bytearray()
        self.stats = {"requests": 0, "answers": 0, "repeats": 0, "bad_frames": 0,
                      "max_reply_ms": 0}

    # --- the UART side ----------------------------------------------------------------------

    async def run(self):
        uart = self.uart
        while True:
            if self._rx:
                # a frame that stops arriving for a whole answer window is noise: drop it
                try:
                    data = await wait_for_ms(uart.read(_READ), self._window_ms())
                except asyncio.TimeoutError:
                    self._rx = bytearray()
                    continue
            else:
                data = await uart.read(_READ)
            t0 = ticks_ms()
            self._rx.extend(data)
            while True:
                answer = self._next_answer()
                if answer is None:
                    break
                if answer:
                    await self._send(answer, t0)

    def _window_ms(self):
        return 330 * 1000 // self.uart.baud + 50  # EN 13757-2: 330 bit times + 50 ms

    async def _send(self, answer, t0):
        # EN 13757-2: answer no sooner than 11 bit times after the request's last stop bit.
        wait = (_CHAR_BITS * 1000 + self.uart.baud - 1) // self.uart.baud - ticks_diff(ticks_ms(), t0)
        if wait > 0:
            await asleep_ms(wait)
        ms = ticks_diff(ticks_ms(), t0)
        if ms > self.stats["max_reply_ms"]:
            self.stats["max_reply_ms"] = ms
        await self.uart.write(answer)
        self.stats["answers"] += 1
        if self._baud is not None:
            self.uart.set_baud(self._baud)
            self._baud = None

    def _next_answer(self):
        """Take one frame off the receive buffer: its answer, b"" for none, None if the buffer
        holds no complete frame. Garbage and bad frames are dropped a byte at a time so the
        next start character is found again (EN 13757-2: no answer to a faulty frame)."""
        rx = self._rx
        end = len(rx)
        i = 0
        answer = None
        while i < end:
            try:
                n = mbus.frame_length(rx, i, end)
            except mbus.FrameError:
                i += 1
                continue
            if n == 0 or i + n > end:
                break
            try:
                f = mbus.parse(rx, i, i + n)
            except mbus.FrameError:
                self.stats["bad_frames"] += 1
                i += 1
                continue
            try:
                answer = self.handle(f[0], f[1], f[2], f[3], rx, f[4], f[5])
            except mbus.FrameError:
                answer = None  # undecodable user data: as a bad frame, no answer
            i += n
            answer = answer or b""
            break
        if i:
            self._rx = rx[i:]  # MicroPython's bytearray has no del of a slice
        return answer

    # --- the protocol, without I/O ----------------------------------------------------------

    def handle(self, kind, c, a, ci, buf, ds, de):
        """One good frame -> the answer to send, or None."""
        if kind == mbus.KIND_ACK or not mbus.is_request(c):
            return None  # E5 and RSP_UD of other slaves on the same bus
        f = mbus.function(c)
        if f == mbus.F_SND_UD and ci == mbus.CI_SELECT and a == mbus.ADDR_SELECTED:
            # EN 13757-3 11.5: a match selects, any other selection deselects
            if de - ds >= 8 and mbus.secondary_matches(buf, ds, self._addr):
                self.selected = True
                self._reset_link()
                return _ACK
            self.selected = False
            return None
        if a == mbus.ADDR_SELECTED:
            if not self.selected:
                return None
        elif a < mbus.ADDR_BROADCAST_REPLY and a != self.ident["primary_address"]:
            return None
        self.stats["requests"] += 1
        silent = a == mbus.ADDR_BROADCAST
        if f == mbus.F_SND_NKE:
            self._reset_link()
            if a == mbus.ADDR_SELECTED:
                self.selected = False
            return None if silent else _ACK
        if c & mbus.C_FCV:
            fcb = c & mbus.C_FCB
            toggled = self._fcb is not None and self._fcb != fcb
            if self._fcb == fcb and self._last is not None and self._last[0] == f:
                if ticks_diff(ticks_ms(), self._last_t) < self._repeat_ms(len(self._last[1])):
                    self.stats["repeats"] += 1
                    return None if silent else self._last[1]
                # Too late for a master's retry: a new poll from a master that never toggles
                # the FCB (pyMeterBus and libmbus send 10 5B A on every poll). A fresh reading.
                self._last = None
                self._parts = None
            self._fcb = fcb
        else:
            toggled = False
        if f == mbus.F_REQ_UD2:
            answer = None if silent else self._rsp_ud(toggled)
        elif f == mbus.F_REQ_UD1:
            answer = None if silent else _ACK
        elif f == mbus.F_SND_UD:
            answer = self._snd_ud(ci, buf, ds, de)
            if silent:
                answer = None
                if self._baud is not None:  # no E5 to wait for: switch now (broadcast 255)
                    self.uart.set_baud(self._baud)
                    self._baud = None
        else:
            return None
        if answer is not None:
            self._last = (f, answer)
            self._last_t = ticks_ms()
        return answer

    def _repeat_ms(self, n):
        # How long after an answer a request with the same FCB is still the master's retry of
        # it: the answer's line time plus 3 s, longer than any master waits before a retry
        # (EN 13757-2: 330 bit times + 50 ms; libmbus and USB adapters add a few 100 ms).
        return n * _CHAR_BITS * 1000 // self.uart.baud + _REPEAT_MS

    def _reset_link(self):
        self._fcb = None
        self._last = None
        self._parts = None

    def _rsp_ud(self, toggled):
        if toggled and self._parts is not None and self._part + 1 < len(self._parts):
            self._part += 1
        else:
            now = self._now() if self._now is not None else None
            recs = readout_records(self._readout(), self.ident, now)
            self._parts = split_telegrams(recs, self._room)
            self._part = 0
        self.access = (self.access + 1) & 0xFF
        data = me.pack_header(self.ident["id"], self.ident["manufacturer"], self.ident["version"],
                              self.ident["medium"], self.access, 0)
        for r in self._parts[self._part]:
            data.extend(r)
        if self._part + 1 < len(self._parts):
            data.append(mbus.DIF_MORE_FOLLOWS)
        return mbus.build_long(mbus.C_RSP_UD, self.ident["primary_address"] & 0xFF,
                               mbus.CI_RSP_VARIABLE, data)

    def _snd_ud(self, ci, buf, ds, de):
        if ci == mbus.CI_DATA_SEND:
            # The record decoder is loaded on the first SND_UD only: a meter that is never
            # configured over the bus keeps that RAM (boards that run from source compile it).
            from meterseal.proto.mbus_records import parse_records

            recs, _more = parse_records(buf, ds, de)
            for r in recs:
                if r.vif == mbus.VIF_BUS_ADDRESS and r.function == mbus.FN_INSTANT:
                    if not isinstance(r.value, int) or not 0 <= r.value <= mbus.ADDR_LAST_PRIMARY:
                        return None
                    self._set_primary(r.value)
            return _ACK
        if ci == mbus.CI_APP_RESET:
            self._parts = None
            return _ACK
        if mbus.CI_BAUD_FIRST <= ci <= mbus.CI_BAUD_LAST:
            self._baud = mbus.BAUD_RATES[ci - mbus.CI_BAUD_FIRST]
            return _ACK
        return None

    def _set_primary(self, addr):
        if addr != self.ident["primary_address"]:
            self.ident["primary_address"] = addr
            if self._save is not None:
                self._save(self.ident)


def service(board, meter):
    """The slave as a coroutine for the meter role (one task on board.uart("mbus"))."""
    from meterseal.roles import identity

    slave = MBusSlave(board.uart("mbus"), meter.ident, meter.readout, now=board.time,
                      save_ident=lambda ident: identity.save(board, ident),
                      max_data=board.config.get("mbus_max_data", mbus.MAX_DATA))
    meter.mbus = slave
    return slave.run()
