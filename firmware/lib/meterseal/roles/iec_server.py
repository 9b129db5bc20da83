# The meter's IEC 62056-21 mode C service on its optical port (board.json uart "aux", 300 Bd
# 7E1 at start): sign-on with or without device address, identification offering the highest
# baud rate, option select with the baud switch, data readout as OBIS lines, and programming
# mode (P1 password, R1 read, W1 refused, B0 break). Timing per IEC 62056-21 6.3 / 5.4:
#   tr  reaction time of the meter: 200 ms <= tr <= 1500 ms after the last received character
#       (we answer after _TR_MS; our flag "MSL" has an upper-case third letter, so 200 ms applies)
#   ta  a message whose characters stop for 1500 ms is dropped
#   tt  programming mode without a message for _TT_MS ends as B0 would, back to 300 Bd idle
#
# Settings: the file iec62056_21.json on the board's storage, written at manufacture beside
# identity.json (see settings() below; not identity.json, which the console's `readout` shows):
#   "password"  the P1 password. Without one, programming mode refuses every P1: there is no
#               factory default password to leak.
#   "address"   the device address answered in `/?address!` (default: the 8-digit ID)
#   "max_baud"  the highest rate offered (default 9600, the usual limit of optical heads)
import asyncio

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms, wait_for_ms
from meterseal.proto import iec62056_21 as iec
from meterseal.civil import civil

_TR_MS = const(220)  # reaction time: 200 ms minimum plus a margin for the HHU's own switch
_TA_MS = const(1500)  # inter-character limit inside a message
_ACK_WAIT_MS = const(2000)  # tr max of the HHU (1500 ms) + time for 6 characters at 300 Bd
_TT_MS = const(60000)  # programming-mode inactivity timeout (60-120 s)
_MAX_IN = const(300)  # the longest message we accept: a W1 with a 128-character value fits
_MAX_TRIES = const(3)  # wrong passwords before the session ends
# Wrong passwords are counted across sessions too (a new sign-on must not reset them): every P1
# after a failure is answered only after _PW_DELAY_MS << (failures - 1), up to _PW_DELAY_MAX_MS,
# right or wrong (so the delay tells nothing); the right password resets the count.
_PW_DELAY_MS = const(500)
_PW_DELAY_MAX_MS = const(60000)

# DLMS unit code (IEC 62056-62) -> (IEC 62056-21 unit text, decimal shift, integer digits).
# Energies in kWh and powers in kW with fixed integer widths, as commercial meters show them.
_UNITS = {30: ("kWh", 3, 6), 27: ("kW", 3, 3), 32: ("kvarh", 3, 6), 29: ("kvar", 3, 3),
          31: ("kVAh", 3, 6), 28: ("kVA", 3, 3), 33: ("A", 0, 3), 35: ("V", 0, 3),
          44: ("Hz", 0, 2)}

OBIS_SERIAL = b"\x00\x00\x60\x01\x00\xff"  # 0-0:96.1.0*255 (C.1.0) meter serial number
OBIS_TIME = b"\x01\x00\x00\x09\x01\xff"  # 1-0:0.9.1*255 local time hh:mm:ss
OBIS_DATE = b"\x01\x00\x00\x09\x02\xff"  # 1-0:0.9.2*255 local date YY.MM.DD

# Error message texts (<= 32 characters, none of ( ) * / !; content is ours to choose).
E_SIGNED = "SIGNED COMMAND REQUIRED"  # metrological values change only by signed command (D2)
E_UNKNOWN = "UNKNOWN ADDRESS"
E_PASSWORD = "PASSWORD REQUIRED"
E_WRONG = "WRONG PASSWORD"
E_NO_PASSWORD = "PASSWORD NOT SET"
E_UNSUPPORTED = "NOT SUPPORTED"


def _eq(a, b):
    # Constant time in the content: no early exit on the first differing byte.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


def _same_address(asked, ours):
    # Leading zeros are not significant in a numeric address [U]; compare both ways.
    return asked == ours or asked.lstrip("0") == ours.lstrip("0")


def data_sets(readout, ident, now):
    """[(obis6, address, value, unit)] of the data readout: C.1.0, 0.9.1, 0.9.2, then the
    meter's registers. The clock is UTC: the meter keeps no time zone (yet)."""
    t = civil(now)
    out = [
        (OBIS_SERIAL, "C.1.0", "%08d" % ident["id"], None),
        (OBIS_TIME, "0.9.1", "%02d:%02d:%02d" % (t[3], t[4], t[5]), None),
        (OBIS_DATE, "0.9.2", "%02d.%02d.%02d" % (t[0] % 100, t[1], t[2]), None),
    ]
    for obis, value, scaler, unit in readout:
        u = _UNITS.get(unit)
        if u is None:
            text, shift, digits = None, 0, 1
        else:
            text, shift, digits = u
        dec = shift - scaler
        if dec < 0:  # a positive scaler after the shift: write the zeros out
            value *= 10 ** -dec
            dec = 0
        out.append((obis, iec.format_id(obis), iec.format_decimal(value, dec, digits), text))
    return out


SETTINGS_FILE = "iec62056_21.json"


def settings(board):
    """The service's settings from storage ({} when manufacture wrote none)."""
    import json

    raw = board.storage.read(SETTINGS_FILE)
    return json.loads(raw) if raw else {}


class IecServer:
    def __init__(self, uart, readout, ident, now, password=None, address=None, max_baud=9600,
                 initial_baud=300, manufacturer="MSL", model="MeterSeal1", on_refused=None,
                 tt_ms=_TT_MS, reaction_ms=_TR_MS, pw_delay_ms=_PW_DELAY_MS):
        self._uart = uart
        self._readout = readout  # () -> [(obis6, value, scaler, unit)]
        self._ident = ident
        self._now = now  # () -> seconds since 1970 UTC
        self._initial = initial_baud
        self._zchar = iec.baud_char(max_baud)
        self._id_msg = iec.encode_identification(manufacturer, self._zchar, model)
        self._address = address or "%08d" % ident["id"]
        # str, or a function returning bytes or None (read when a P1 arrives: a password
        # installed later takes effect without a restart)
        self._password = password if callable(password) else (
            password.encode() if password else None)
        # (address, reason) of each refused W1. meter.py does not connect it: W1 refusals are
        # not written to the metrological logbook (D3).
        self._on_refused = on_refused
        self._pw_delay = pw_delay_ms
        self.pw_failures = 0  # wrong P1 passwords since the last right one, over all sessions
        self._tt = tt_ms
        self._tr = reaction_ms
        self._buf = bytearray()
        self._t_rx = ticks_ms()
        self.sessions = 0  # finished sign-ons, for tests and `readout`

    async def run(self):
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug must not close the optical port for good
                print("iec62056-21:", type(e).__name__, e)
            self._uart.set_baud(self._initial)
            self._buf[:] = b""
            self.sessions += 1

    # --- receiving ---------------------------------------------------------------------------

    async def _more(self, first_ms):
        """Append what arrives to the buffer; False after first_ms (or ta inside a message,
        but never later than first_ms)."""
        ms = first_ms
        if self._buf and (ms is None or ms > _TA_MS):
            ms = _TA_MS
        try:
            if ms is None:
                data = await self._uart.read(64)
            else:
                data = await wait_for_ms(self._uart.read(64), ms)
        except asyncio.TimeoutError:
            return False
        self._t_rx = ticks_ms()
        self._buf += data
        if len(self._buf) > _MAX_IN:  # noise or an attack, not a message: start over
            self._buf[:] = b""
        return True

    async def _line(self, first_ms, prefixes, t0=None):
        """The next CR LF-terminated line starting with one of `prefixes`, junk before it
        dropped; None when nothing complete comes within first_ms of t0 (default: now), or
        None: no limit."""
        buf = self._buf
        if t0 is None:
            t0 = ticks_ms()
        while True:
            k = -1
            for p in prefixes:
                i = buf.find(p)
                if i >= 0 and (k < 0 or i < k):
                    k = i
            if k > 0:
                buf[:k] = b""
            elif k < 0:
                # keep a last byte that may start a prefix (all are at most 2 long)
                buf[:max(0, len(buf) - 1)] = b""
            if k >= 0:
                e = buf.find(b"\r\n")
                if e >= 0:
                    line = bytes(buf[:e + 2])
                    buf[:e + 2] = b""
                    return line
            had = len(buf) > 0
            ms = first_ms
            if ms is not None:  # bytes that keep coming do not extend the limit
                ms -= ticks_diff(ticks_ms(), t0)
                if ms <= 0:
                    return None
            if not await self._more(ms):
                if not had:
                    return None
                buf[:] = b""  # a message cut off by the ta limit
                if first_ms is not None:
                    return None

    async def _answer(self, data):
        # Wait out the minimum reaction time counted from the last received character.
        wait = self._tr - ticks_diff(ticks_ms(), self._t_rx)
        if wait > 0:
            await asleep_ms(wait)
        await self._uart.write(data)
        self._last = data

    # --- the session -------------------------------------------------------------------------

    async def _session(self):
        self._uart.set_baud(self._initial)
        while True:
            req = await self._line(None, (b"/?",))
            if self._for_us(req):
                break
        await self._answer(self._id_msg)
        t_id = ticks_ms()
        while True:
            # The HHU has _ACK_WAIT_MS from our identification, however many bytes it sends.
            line = await self._line(_ACK_WAIT_MS, (b"\x06", b"/?"), t_id)
            if line is None:
                break
            if line[0] != iec.ACK:
                # An HHU that missed our identification signs on again (6.3.1): answer afresh.
                if self._for_us(line):
                    await self._answer(self._id_msg)
                    t_id = ticks_ms()
                continue
            try:
                _, z, y = iec.decode_ack_option(line)
            except iec.FrameError:
                return  # an invalid option select ends the session (back to idle)
            if z > self._zchar or y not in (iec.MODE_READOUT, iec.MODE_PROGRAMMING):
                return  # a rate we did not offer, or mode E/manufacturer modes
            self._uart.set_baud(iec.BAUDS_C[ord(z) - 0x30])
            if y == iec.MODE_PROGRAMMING:
                await self._programming()
                return
            break
        # Mode C with option select '0', or no option select at all: the data readout (without
        # an acknowledgement at the initial rate, as meters read by a bare `/?!` do).
        await self._answer(self._readout_message())

    def _for_us(self, req):
        try:
            addr = iec.decode_request(req)
        except iec.FrameError:
            return False
        # an address of another meter on the bus: stay silent
        return not addr or _same_address(addr, self._address)

    def _sets(self):
        return data_sets(self._readout(), self._ident, self._now())

    def _readout_message(self):
        return iec.encode_readout([iec.encode_data_set(a, v, u) for _, a, v, u in self._sets()])

    async def _programming(self):
        # P0 with an empty operand: we take the password in clear (P1), no challenge (P2).
        await self._answer(iec.encode_command("P", "0", b"()"))
        authed = False
        tries = 0
        buf = self._buf
        while True:
            while buf and buf[0] != 0x01:
                if buf[0] == iec.NAK:  # the HHU asks for a repeat of our last message
                    buf[:1] = b""
                    await self._answer(self._last)
                    continue
                buf[:1] = b""  # ACK (no partial blocks pending) or junk
            blk = iec.find_block(buf)
            if blk is None:
                had = len(buf) > 0
                if not await self._more(self._tt):
                    if not had:
                        return  # tt: inactivity ends programming mode
                    buf[:] = b""
                continue
            s, e = blk
            msg = bytes(buf[s:e])
            buf[:e] = b""
            try:
                cmd, ctype, ds, de = iec.decode_command(msg)
                sets = iec.parse_data_sets(msg, ds, de) if ds is not None else []
            except iec.FrameError:
                await self._answer(bytes((iec.NAK,)))
                continue
            if cmd == "B":
                return
            if cmd == "P" and ctype == "1":
                if self.pw_failures:  # slows guessing across sessions too
                    await asleep_ms(min(_PW_DELAY_MAX_MS,
                                        self._pw_delay << min(self.pw_failures - 1, 16)))
                out, authed = self._password_check(sets)
                tries = 0 if authed else tries + 1
                await self._answer(out)
                if tries >= _MAX_TRIES:
                    return
            elif cmd == "R" and ctype == "1":
                await self._answer(self._read(sets, authed))
            elif cmd == "W" and ctype == "1":
                await self._answer(self._write(sets))
            else:  # P2 (no secure algorithm), E2, R5/R6/W5 (formatted), the others
                await self._answer(iec.encode_error(E_UNSUPPORTED))

    def _password_check(self, sets):
        pw = self._password() if callable(self._password) else self._password
        if pw is None:
            return iec.encode_error(E_NO_PASSWORD), False
        given = sets[0][1].encode() if len(sets) == 1 and not sets[0][0] else b""
        if _eq(given, pw):
            self.pw_failures = 0
            return bytes((iec.ACK,)), True
        self.pw_failures += 1
        return iec.encode_error(E_WRONG), False

    def _lookup(self, sets):
        if len(sets) != 1:
            return None
        try:
            want = iec.parse_id(sets[0][0])
        except iec.FrameError:
            return None
        for row in self._sets():
            if iec.id_matches(row[0], want):
                return row
        return None

    def _read(self, sets, authed):
        if not authed:
            return iec.encode_error(E_PASSWORD)
        row = self._lookup(sets)
        if row is None:
            return iec.encode_error(E_UNKNOWN)
        return iec.encode_answer(iec.encode_data_set(sets[0][0], row[2], row[3]))

    def _write(self, sets):
        # Every value we hold is metrological (registers, serial, clock): those change only by
        # a signed command over the console, never by a password over the optical port.
        row = self._lookup(sets)
        if self._on_refused is not None and sets:
            self._on_refused(sets[0][0], "iec62056-21 W1")
        if row is None:
            return iec.encode_error(E_UNKNOWN)
        return iec.encode_error(E_SIGNED)
