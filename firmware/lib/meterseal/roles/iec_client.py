# IEC 62056-21 reader (the HHU side) on any UART of the firmware's interface: the MUC's optical
# head, or on the host a pyserial port behind host_tools/serial_uart.py (one implementation).
# Reads meters we did not make: protocol modes A, B and C (and E's readout), probes that echo
# what they send, junk (NUL, 0x7F) around a baud switch, short reaction times (lower-case third
# letter of the manufacturer flag, 20 ms), data blocks up to MAX_READOUT (parsed line by line).
import asyncio

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms, wait_for_ms
from meterseal.proto import iec62056_21 as iec

_TR_MS = const(200)  # minimum reaction time we leave the meter (6.3, 5.4)
_TR_SHORT_MS = const(20)  # ... for meters whose flag's third letter is lower case
_TA_MS = const(2000)  # gap between characters inside a message: 1500 ms plus slack
_MAX_LINE = const(512)  # a data line: 16 + 128 + 16 characters per set, a few sets a line
_BITS = const(10)  # 7E1: start, 7 data, parity, stop
# Every wait is bounded as a whole, not only between characters: a push meter, a chatty bus or
# noise would otherwise keep a reader waiting for ever. A message must be complete within the
# first-character timeout plus the wire time of the most we accept for it at the current rate,
# counted from when our request is out; and only so much junk is skipped before it.
_ID_CHARS = const(128)  # our echoed request, a little junk, an identification (<= 41)
_JUNK_CHARS = const(64)  # junk around a baud switch before the STX
_MAX_JUNK = const(1024)  # bytes skipped before an identification or an STX: 2 * _MAX_LINE
MAX_READOUT = const(16384)  # a data message, or an R1 answer in all its partial blocks
MAX_RECORDS = const(256)  # data sets of a data message on a board (the heap they take)
MAX_BLOCKS = const(32)  # partial blocks of one answer
_MAX_NAK = const(3)  # repeats asked for (by either side) before we give up (6.3.7)


class NoAnswer(Exception):
    """The meter did not answer in time: args[0] says to what."""


class Refused(Exception):
    """The meter answered a programming command with an error message or NAK: args[0]."""


class IecClient:
    def __init__(self, uart, address="", max_baud=19200, switch=True, initial_baud=300,
                 timeout_ms=3000, reaction_ms=_TR_MS, max_records=MAX_RECORDS):
        self._uart = uart
        self._address = address
        self._max_baud = max_baud
        self._switch = switch
        self._initial = initial_baud
        self._timeout = timeout_ms  # first character of an answer (tr max 1500 ms + slack)
        self._buf = bytearray()
        self._t_rx = ticks_ms()
        self._baud = initial_baud
        self._t0 = ticks_ms()  # the current message's deadline: _limit ms after _t0
        self._limit = timeout_ms
        self._tr_normal = reaction_ms  # what we leave a meter before we send
        self._tr = reaction_ms
        self._sent = b""
        self._max_records = max_records  # a host has the heap for more
        self._echo = False  # the probe hears its own transmitter

    # --- bytes in and out --------------------------------------------------------------------

    def _set_baud(self, baud):
        self._baud = baud
        self._uart.set_baud(baud)

    def _expect(self, chars, first_ms):
        """Start the deadline of the next message: first_ms for its first character plus the
        wire time of `chars` characters at the current rate, from now."""
        self._t0 = ticks_ms()
        self._limit = first_ms + chars * _BITS * 1000 // self._baud

    async def _more(self, what):
        left = self._limit - ticks_diff(ticks_ms(), self._t0)
        if left <= 0:
            raise NoAnswer(what)
        ms = min(_TA_MS if self._buf else self._timeout, left)
        try:
            data = await wait_for_ms(self._uart.read(256), ms)
        except asyncio.TimeoutError:
            raise NoAnswer(what)
        for b in data:
            if b & 0x80:  # a port opened 8N1 hands us the parity bit: 7E1 keeps 7 bits
                data = bytes(c & 0x7F for c in data)
                break
        self._t_rx = ticks_ms()
        self._buf += data

    async def _send(self, data):
        wait = self._tr - ticks_diff(ticks_ms(), self._t_rx)
        if wait > 0:
            await asleep_ms(wait)
        t0 = ticks_ms()
        await self._uart.write(data)
        self._sent = data
        self._expect(_MAX_LINE + len(data), self._timeout)  # an answer; callers narrow it
        return t0

    async def _line(self, what):
        """The next line starting with '/' that is not our own request's echo."""
        buf = self._buf
        dropped = 0
        while True:
            e = buf.find(b"\r\n")
            if e >= 0:
                line = bytes(buf[:e + 2])
                buf[:e + 2] = b""
                k = line.find(b"/")
                if k >= 0 and line[k + 1:k + 2] != b"?":
                    return line[k:]
                if k >= 0:
                    self._echo = True  # our request came back: the probe echoes
                dropped += len(line)
            elif len(buf) > _MAX_LINE:
                dropped += len(buf)
                buf[:] = b""
            if dropped > _MAX_JUNK:
                raise iec.FrameError("no identification")
            if e < 0:
                await self._more(what)

    # --- sign-on -----------------------------------------------------------------------------

    async def _sign_on(self, mode):
        self._set_baud(self._initial)
        self._buf[:] = b""
        drop = getattr(self._uart, "discard_input", None)
        if drop is not None:  # answers to someone else's session are not ours
            drop()
        self._tr = self._tr_normal
        self._echo = False
        await self._send(iec.encode_request(self._address))
        self._expect(_ID_CHARS, self._timeout)
        line = await self._line("identification")
        try:
            man, z, ident, enh = iec.decode_identification(line)
        except iec.FrameError as e:
            raise iec.FrameError("identification: " + e.args[0])
        if man[2] != man[2].upper():
            self._tr = min(self._tr, _TR_SHORT_MS)
        kind, offered = iec.mode_of(z)
        info = {"manufacturer": man, "baud_char": z, "ident": ident, "enhanced": enh,
                "mode": kind, "baud": self._initial}
        if kind == "A":
            if mode != iec.MODE_READOUT:
                raise Refused("mode A meter: no programming mode")
            return info
        baud = self._initial
        if self._switch:
            for b in iec.BAUDS_C:
                if b <= offered and b <= self._max_baud:
                    baud = b
        if kind == "B":  # the meter switches by itself after the identification
            if mode != iec.MODE_READOUT:
                raise Refused("mode B meter: no programming mode")
            baud = offered
        else:
            msg = iec.encode_ack_option(iec.baud_char(baud), mode)
            t0 = await self._send(msg)
            # Switch only once the last stop bit is out (the meter switches on receiving it
            # and answers tr later): wait for the characters' wire time, then a little more
            # for USB adapters whose drain returns early (j62056 and lvzon use 250-300 ms
            # in all; the meter's 200 ms minimum reaction time bounds the slack).
            left = len(msg) * _BITS * 1000 // self._initial - ticks_diff(ticks_ms(), t0)
            await asleep_ms(max(0, left) + (5 if self._tr <= _TR_SHORT_MS else 40))
        if baud != self._initial:
            self._set_baud(baud)
        self._expect(_MAX_LINE, self._timeout)  # the programming-mode P0
        info["baud"] = baud
        return info

    # --- data readout ------------------------------------------------------------------------

    async def readout(self):
        """Sign on and read the data message: the identification dict with "records":
        [(address, value, unit)] in the meter's order. The BCC is checked (FrameError "bcc")."""
        info = await self._sign_on(iec.MODE_READOUT)
        try:
            info["records"] = await self._data_block()
        finally:
            self._set_baud(self._initial)  # the meter is back at its initial rate too
        return info

    async def _data_block(self):
        buf = self._buf
        self._expect(_JUNK_CHARS, self._timeout)
        dropped = 0
        while True:  # skip junk and echoes up to the STX
            k = buf.find(b"\x02")
            if k >= 0:
                buf[:k + 1] = b""
                break
            dropped += len(buf)
            buf[:] = b""
            if dropped > _MAX_JUNK:
                raise iec.FrameError("no STX")
            await self._more("data message")
        self._expect(MAX_READOUT, _TA_MS)
        n = 0  # characters of the message so far
        records = []
        x = 0  # running BCC, from after STX
        while True:
            e = -1
            for i in range(len(buf)):
                c = buf[i]
                if c == 0x0A or c == 0x03 or c == 0x04:
                    e = i
                    break
            if e < 0:
                if len(buf) > _MAX_LINE:
                    raise iec.FrameError("line length")
                await self._more("data message")
                continue
            end = buf[e]
            n += e + 1
            if n > MAX_READOUT:
                raise iec.FrameError("length")
            x ^= iec.bcc(buf, 0, e + 1)
            if end == 0x0A:
                records += iec.parse_data_sets(buf, 0, e + 1)
                if len(records) > self._max_records:
                    raise iec.FrameError("records")
                buf[:e + 1] = b""
                continue
            records += iec.parse_data_sets(buf, 0, e)  # a last line without CR LF
            while len(buf) < e + 2:
                await self._more("BCC")
            if buf[e + 1] & 0x7F != x:
                raise iec.FrameError("bcc")
            buf[:e + 2] = b""
            return records

    # --- programming mode --------------------------------------------------------------------

    async def _reply(self, what):
        """ACK, NAK, or a whole SOH/STX block (our own echo skipped)."""
        buf = self._buf
        while True:
            sent = self._sent
            # A probe echoes what we send. A one-character ACK or NAK of ours is skipped only
            # once the probe has shown that it echoes (the meter may repeat a NAK of its own).
            if (len(sent) > 1 or (sent and self._echo)) and buf and buf[0] == sent[0]:
                n = min(len(buf), len(sent))
                if buf[:n] == sent[:n]:
                    if n < len(sent):
                        await self._more(what)
                        continue
                    buf[:n] = b""
                    self._sent = b""
                    self._echo = True
                    continue
            while buf and buf[0] not in (0x01, 0x02, iec.ACK, iec.NAK):
                buf[:1] = b""
            if buf and (buf[0] == iec.ACK or buf[0] == iec.NAK):
                c = buf[0]
                buf[:1] = b""
                return bytes((c,))
            blk = iec.find_block(buf) if buf else None
            if blk is not None:
                msg = bytes(buf[:blk[1]])
                buf[:blk[1]] = b""
                return msg
            if len(buf) > _MAX_LINE:
                raise iec.FrameError("length")
            await self._more(what)

    async def _command(self, data, what):
        """Send `data` and return the answer: the meter's NAK makes us repeat it, a block with a
        bad BCC is answered with NAK for a repeat (6.3.7), _MAX_NAK times each at most."""
        naks = 0
        bad = 0
        await self._send(data)
        while True:
            r = await self._reply(what)
            if r == bytes((iec.NAK,)):
                naks += 1
                if naks >= _MAX_NAK:
                    raise Refused(what + ": NAK")
                await self._send(data)
                continue
            try:
                if r[0] == 0x02:
                    iec.decode_data_message(r)
                elif r[0] == 0x01:
                    iec.decode_command(r)
            except iec.FrameError as e:
                if e.args[0] != "bcc":
                    return r  # the caller reports what is wrong with it
                if bad >= _MAX_NAK:
                    raise
                bad += 1
                await self._send(bytes((iec.NAK,)))
                continue
            return r

    async def _r1(self, a):
        """The data of an R1 read of address `a`, partial blocks (EOT) joined: each is
        acknowledged with ACK for the next (6.3.14)."""
        data = bytearray()
        cmd = iec.encode_command("R", "1", iec.encode_data_set(a, ""))
        for _ in range(MAX_BLOCKS):
            r = await self._command(cmd, "read " + a)
            if r[0] != 0x02:
                raise Refused("read %s: %s" % (a, _error_text(r)))
            s, e, partial = iec.decode_data_message(r)
            data += r[s:e]
            if len(data) > MAX_READOUT:
                raise iec.FrameError("length")
            if not partial:
                return data
            cmd = bytes((iec.ACK,))
        raise iec.FrameError("partial blocks")

    async def program_read(self, addresses, password=None):
        """Programming mode: P1 with the password (if given), R1 of each address, B0.
        Returns the identification dict with "values": [(address, value, unit)]; a refused
        read raises Refused with the meter's error text."""
        info = await self._sign_on(iec.MODE_PROGRAMMING)
        try:
            msg = await self._reply("password request")
            cmd, _, _, _ = iec.decode_command(msg)
            if cmd != "P":
                raise iec.FrameError("password request")
            if password is not None:
                r = await self._command(iec.encode_command(
                    "P", "1", iec.encode_data_set("", password)), "password")
                if r != bytes((iec.ACK,)):
                    raise Refused("password: " + _error_text(r))
            values = []
            for a in addresses:
                data = await self._r1(a)
                sets = iec.parse_data_sets(data)
                if len(sets) == 1 and not sets[0][0] and sets[0][2] is None \
                        and _is_error(sets[0][1]):
                    raise Refused("read %s: %s" % (a, sets[0][1]))
                for ds in sets:
                    values.append((ds[0] or a, ds[1], ds[2]))
            info["values"] = values
        finally:
            try:
                await self._send(iec.encode_command("B", "0"))
            finally:
                self._set_baud(self._initial)
        return info


def _is_error(text):
    # An error message `(text)` and an R1 value without address and unit look alike. Error
    # texts are words (ERROR, ERR, ours: UNKNOWN ADDRESS); values, alphanumeric ones too (ISKRA
    # answers C.1.0 with "(ISK1234567)"), have a digit.
    for ch in text:
        if "0" <= ch <= "9":
            return False
    return True


def _error_text(reply):
    if reply == bytes((iec.NAK,)):
        return "NAK"
    try:
        s, e, _ = iec.decode_data_message(reply)
        sets = iec.parse_data_sets(reply, s, e)
        if sets:
            return sets[0][1]
    except iec.FrameError:
        pass
    return "unexpected answer"
