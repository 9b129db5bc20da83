# IEC 62056-21 (ex IEC 61107 / IEC 1107) messages, protocol mode C: sign-on request,
# identification, acknowledgement/option select, data message with BCC, programming commands,
# error messages, data sets `address(value*unit)` with OBIS reduced IDs (IEC 62056-61).
# Pure codec: bytes in, values out; the timing and the baud switch live in roles/iec_*.py.
# Facts: shared/docs/protocols-reference.md section 3 (clauses of IEC 62056-21:2002 cited as 6.3.x).
from meterseal.compat import const

_SOH = const(0x01)
_STX = const(0x02)
_ETX = const(0x03)
_EOT = const(0x04)  # ends a partial block (6.3.14, programming mode only)
ACK = const(0x06)
NAK = const(0x15)
_CR = const(0x0D)
_LF = const(0x0A)
_START = const(0x2F)  # '/'
_REQ = const(0x3F)  # '?'
_END = const(0x21)  # '!'
_BACKSLASH = const(0x5C)

# Baud rate characters of modes C and E (6.3.14 table, "Z"): index = char - '0'.
BAUDS_C = (300, 600, 1200, 2400, 4800, 9600, 19200)
# Mode B uses letters (A = 300 ... G = 19200); any other character means mode A (300 Bd only).
_BAUDS_B = "ABCDEFG"

MODE_READOUT = "0"
MODE_PROGRAMMING = "1"

_MAX_ADDRESS = const(32)  # device address in the request (6.3.1)
_MAX_IDENT = const(16)  # identification after /XXXZ (6.3.2); we accept up to _MAX_IDENT_IN
_MAX_IDENT_IN = const(32)  # some meters exceed 16 (readers must not refuse them)
_MAX_ID = const(16)  # data set address (6.5)
_MAX_VALUE = const(128)  # value in mode C (32 in the other modes)
_MAX_UNIT = const(16)
_MAX_ERROR = const(32)  # error message text (LEM EM4TII manual p.17)


class FrameError(ValueError):
    """A message that is not IEC 62056-21: args[0] is a short constant reason."""


def bcc(buf, start=0, end=None):
    """Block check character (6.3.x, ISO 1155): XOR of the 7-bit characters buf[start:end].
    The caller passes the range after the first SOH (or STX) up to and including ETX/EOT.
    Not a CRC, so it lives here and not in crc.py."""
    if end is None:
        end = len(buf)
    x = 0
    for i in range(start, end):
        x ^= buf[i]
    return x & 0x7F


def _check_text(buf, start, end, maxlen, forbidden, reason):
    if end - start > maxlen:
        raise FrameError(reason)
    for i in range(start, end):
        c = buf[i]
        if c < 0x20 or c > 0x7E or c in forbidden:
            raise FrameError(reason)


_NOT_IN_ADDRESS = b"()/!"
_NOT_IN_VALUE = b"()/!*"
_NOT_IN_ERROR = b"()*/!"


def _end(buf, end):
    return len(buf) if end is None else end


# --- sign-on, identification, option select (6.3.1 - 6.3.3) -------------------------------

def encode_request(address=""):
    """`/?[address]!CR LF`; an empty address asks whichever meter sees the probe."""
    a = address.encode()
    _check_text(a, 0, len(a), _MAX_ADDRESS, _NOT_IN_ADDRESS, "address")
    return b"/?" + a + b"!\r\n"


def decode_request(buf, start=0, end=None):
    """The device address of a request message ("" if none)."""
    end = _end(buf, end)
    if end - start < 5 or buf[start] != _START or buf[start + 1] != _REQ:
        raise FrameError("request")
    if buf[end - 3] != _END or buf[end - 2] != _CR or buf[end - 1] != _LF:
        raise FrameError("request")
    _check_text(buf, start + 2, end - 3, _MAX_ADDRESS, _NOT_IN_ADDRESS, "address")
    return bytes(buf[start + 2:end - 3]).decode()


def encode_identification(manufacturer, baud_char, ident, enhanced=None):
    """`/XXXZ[\\W]ident CR LF`. A lower-case third letter of XXX announces the 20 ms minimum
    reaction time; `enhanced` is the character W after the backslash (6.3.2: '2' = mode E)."""
    m = manufacturer.encode()
    i = ident.encode()
    if len(m) != 3 or not all(0x41 <= (c & 0xDF) <= 0x5A for c in m):
        raise ValueError("manufacturer flag must be 3 letters")
    if len(baud_char) != 1:
        raise ValueError("baud character")
    _check_text(i, 0, len(i), _MAX_IDENT, b"/!\\", "ident")
    mid = b"" if enhanced is None else b"\\" + enhanced.encode()
    return b"/" + m + baud_char.encode() + mid + i + b"\r\n"


def decode_identification(buf, start=0, end=None):
    """(manufacturer, baud_char, ident, enhanced or None) of `/XXXZ[\\W]ident CR LF`."""
    end = _end(buf, end)
    if end - start < 7 or buf[start] != _START or buf[start + 1] == _REQ:
        raise FrameError("identification")
    if buf[end - 2] != _CR or buf[end - 1] != _LF:
        raise FrameError("identification")
    for k in range(1, 4):
        if not 0x41 <= (buf[start + k] & 0xDF) <= 0x5A:
            raise FrameError("manufacturer")
    z = buf[start + 4]
    if not 0x21 <= z <= 0x7E or z == _BACKSLASH:
        raise FrameError("baud")
    p = start + 5
    enhanced = None
    if buf[p] == _BACKSLASH:
        if end - p < 4:
            raise FrameError("identification")
        enhanced = chr(buf[p + 1])
        p += 2
    _check_text(buf, p, end - 2, _MAX_IDENT_IN, b"/!", "ident")
    if enhanced is not None and not 0x21 <= ord(enhanced) <= 0x7E:
        raise FrameError("identification")
    return (bytes(buf[start + 1:start + 4]).decode(), chr(z),
            bytes(buf[p:end - 2]).decode(), enhanced)


def mode_of(baud_char):
    """("C", baud) for '0'-'6' (also mode E), ("B", baud) for 'A'-'G', ("A", 300) otherwise."""
    c = ord(baud_char)
    if 0x30 <= c <= 0x36:
        return "C", BAUDS_C[c - 0x30]
    k = _BAUDS_B.find(baud_char)
    if k >= 0:
        return "B", BAUDS_C[k]
    return "A", 300


def baud_char(baud):
    """The mode C character for a rate of BAUDS_C."""
    return chr(0x30 + BAUDS_C.index(baud))


def encode_ack_option(baud_char, mode=MODE_READOUT, protocol="0"):
    """`ACK V Z Y CR LF`: V protocol control ('0' normal), Z baud, Y mode (6.3.3)."""
    return bytes((ACK, ord(protocol), ord(baud_char), ord(mode), _CR, _LF))


def decode_ack_option(buf, start=0, end=None):
    """(protocol, baud_char, mode) of an acknowledgement/option select message."""
    end = _end(buf, end)
    if end - start != 6 or buf[start] != ACK or buf[end - 2] != _CR or buf[end - 1] != _LF:
        raise FrameError("option select")
    v, z, y = buf[start + 1], buf[start + 2], buf[start + 3]
    if not (0x30 <= v <= 0x39 and 0x30 <= z <= 0x39 and 0x30 <= y <= 0x39):
        raise FrameError("option select")
    return chr(v), chr(z), chr(y)


# --- blocks with BCC: data message, answers, commands (6.3.4 - 6.3.8) -----------------------

def _block(head, body, tail):
    out = bytearray(len(head) + len(body) + 2)
    n = len(head)
    out[:n] = head
    out[n:n + len(body)] = body
    out[-2] = tail
    out[-1] = bcc(out, 1, len(out) - 1)
    return bytes(out)


def encode_data_set(address, value, unit=None):
    """`address(value*unit)` (6.5); address or unit may be empty/None."""
    a = (address or "").encode()
    v = value.encode()
    _check_text(a, 0, len(a), _MAX_ID, _NOT_IN_ADDRESS, "address")
    _check_text(v, 0, len(v), _MAX_VALUE, _NOT_IN_VALUE, "value")
    if unit:
        u = unit.encode()
        _check_text(u, 0, len(u), _MAX_UNIT, _NOT_IN_ADDRESS, "unit")
        return a + b"(" + v + b"*" + u + b")"
    return a + b"(" + v + b")"


def encode_readout(lines):
    """The data message `STX lines ! CR LF ETX BCC`; `lines` are data lines without CR LF."""
    body = bytearray()
    for line in lines:
        body += line
        body += b"\r\n"
    body += b"!\r\n"
    return _block(b"\x02", body, _ETX)


def encode_answer(body, partial=False):
    """A programming-mode answer `STX data ETX BCC` (or `... EOT BCC` for a partial block)."""
    return _block(b"\x02", body, _EOT if partial else _ETX)


def encode_error(text):
    """An error message `STX (text) ETX BCC` (text: up to 32 characters, none of ( ) * / !)."""
    t = text.encode()
    _check_text(t, 0, len(t), _MAX_ERROR, _NOT_IN_ERROR, "error")
    return _block(b"\x02", b"(" + t + b")", _ETX)


def encode_command(command, ctype, data=None):
    """`SOH C D STX data ETX BCC` or, without data, `SOH C D ETX BCC` (6.3.7)."""
    if command not in "PWREB" or len(command) != 1 or not "0" <= ctype <= "9" or len(ctype) != 1:
        raise ValueError("command")
    head = b"\x01" + command.encode() + ctype.encode()
    if data is None:
        return _block(head, b"", _ETX)
    return _block(head + b"\x02", data, _ETX)


def find_block(buf, start=0, end=None):
    """(s, e) of the first complete SOH/STX ... ETX/EOT BCC block in buf[start:end], junk before
    it skipped; None while it is incomplete. Receivers call this on what they have so far."""
    end = _end(buf, end)
    s = start
    while s < end and buf[s] != _SOH and buf[s] != _STX:
        s += 1
    for i in range(s + 1, end - 1):
        c = buf[i]
        if c == _ETX or c == _EOT:
            return s, i + 2
    return None


def _check_bcc(buf, start, end):
    if end - start < 3:
        raise FrameError("length")
    t = buf[end - 2]
    if t != _ETX and t != _EOT:
        raise FrameError("end")
    for i in range(start + 1, end - 2):
        c = buf[i]
        if c == _ETX or c == _EOT:
            raise FrameError("end")
    if bcc(buf, start + 1, end - 1) != buf[end - 1] & 0x7F:
        raise FrameError("bcc")
    return t == _EOT


def decode_data_message(buf, start=0, end=None):
    """(body_start, body_end, partial) of `STX body ETX|EOT BCC`; checks the BCC."""
    end = _end(buf, end)
    if end - start < 3 or buf[start] != _STX:
        raise FrameError("start")
    partial = _check_bcc(buf, start, end)
    return start + 1, end - 2, partial


def decode_command(buf, start=0, end=None):
    """(command, type, data_start, data_end) of `SOH C D [STX data] ETX BCC`; without a data
    set data_start is None. Checks the BCC (computed after SOH, the inner STX included)."""
    end = _end(buf, end)
    if end - start < 5 or buf[start] != _SOH:
        raise FrameError("start")
    _check_bcc(buf, start, end)
    c, d = buf[start + 1], buf[start + 2]
    if c not in b"PWREB" or not 0x30 <= d <= 0x39:
        raise FrameError("command")
    if buf[start + 3] == _STX:
        return chr(c), chr(d), start + 4, end - 2
    if start + 3 != end - 2:
        raise FrameError("command")
    return chr(c), chr(d), None, None


def parse_data_sets(buf, start=0, end=None):
    """[(address, value, unit)] of the data sets in buf[start:end]: lines of one or more
    `address(value*unit)` ending CR LF, optionally closed by `!` CR LF. Address may be ""
    (`(value)`, as in ISKRA's R1 answer), unit None. A set without an address after another on
    the same line keeps that one's (`1.6.1(00.4375*kW)(12-07-03 13:00)`: demand and its time,
    `P.01(...)(...)` profiles). Lenient where meters differ: a missing final CR LF, unit inside
    the value, spaces (`0.0.0( 20000)` of a Landis+Gyr), blanks and NULs between sets and at
    line ends."""
    end = _end(buf, end)
    out = []
    p = start
    addr = None  # the address of the line's previous set
    while p < end:
        c = buf[p]
        if c == _CR or c == _LF:
            addr = None
            p += 1
            continue
        if c == 0x20 or c == 0x09 or c == 0x00:
            p += 1
            continue
        if c == _END:  # end of the data block: only line ends (and blanks) may follow
            p += 1
            while p < end:
                if buf[p] not in b"\r\n \t\x00":
                    raise FrameError("data after end")
                p += 1
            break
        o = p
        while o < end and buf[o] != 0x28:  # '('
            o += 1
        if o >= end:
            raise FrameError("data set")
        q = o + 1
        star = -1
        while q < end and buf[q] != 0x29:  # ')'
            if buf[q] == 0x2A and star < 0:  # '*': value*unit
                star = q
            q += 1
        if q >= end:
            raise FrameError("data set")
        _check_text(buf, p, o, _MAX_ID, _NOT_IN_ADDRESS, "address")
        if o > p or addr is None:
            addr = bytes(buf[p:o]).decode()
        if star < 0:
            _check_text(buf, o + 1, q, _MAX_VALUE, _NOT_IN_VALUE, "value")
            out.append((addr, bytes(buf[o + 1:q]).decode(), None))
        else:
            _check_text(buf, o + 1, star, _MAX_VALUE, _NOT_IN_VALUE, "value")
            _check_text(buf, star + 1, q, _MAX_UNIT, _NOT_IN_ADDRESS, "unit")
            out.append((addr, bytes(buf[o + 1:star]).decode(),
                         bytes(buf[star + 1:q]).decode()))
        p = q + 1
    return out


# --- OBIS reduced ID codes (IEC 62056-61 / EN 62056-61) ------------------------------------
# In IEC 62056-21 data sets the groups A and B are usually left out ("1.8.0") and group C or D
# may be a letter: C = 96 (service entries, "C.1.0" serial number), F = 97 (error register
# "F.F"), L = 98 (lists), P = 99 (profiles). A group left out is returned as 0xFF, the wildcard
# vzlogger's D0 reader also uses (its test: Obis("1.8.0") == 255.255.1.8.0*255).

_LETTERS = "CFLP"  # 96, 97, 98, 99


def _group(s):
    if len(s) == 1 and s in _LETTERS:
        return 96 + _LETTERS.index(s)
    if not s or len(s) > 3:
        raise FrameError("obis")
    for ch in s:
        if not "0" <= ch <= "9":
            raise FrameError("obis")
    v = int(s)
    if v > 255:
        raise FrameError("obis")
    return v


def parse_id(text):
    """6-byte OBIS code of `[A-B:]C.D[.E][*F|&F]`, omitted groups 0xFF (wildcards)."""
    a = b = e = f = 0xFF
    rest = text
    k = rest.find(":")
    if k >= 0:
        ab = rest[:k]
        rest = rest[k + 1:]
        h = ab.find("-")
        if h < 0:
            raise FrameError("obis")
        a, b = _group(ab[:h]), _group(ab[h + 1:])
    for sep in "*&":
        k = rest.find(sep)
        if k >= 0:
            f = _group(rest[k + 1:])
            rest = rest[:k]
            break
    parts = rest.split(".")
    if len(parts) < 2 or len(parts) > 3:
        raise FrameError("obis")
    c, d = _group(parts[0]), _group(parts[1])
    if len(parts) == 3:
        e = _group(parts[2])
    return bytes((a, b, c, d, e, f))


def _gtext(v, letters):
    if letters and 96 <= v <= 99:
        return _LETTERS[v - 96]
    return str(v)


def format_id(obis, full=False):
    """The reduced form C.D.E (`1.8.0`, `C.1.0`, `F.F`), or A-B:C.D.E*F when full."""
    c = _gtext(obis[2], True)
    d = _gtext(obis[3], obis[2] >= 96)
    s = c + "." + d
    if obis[4] != 0xFF:
        s += "." + str(obis[4])
    if full:
        s = "%d-%d:%s*%d" % (obis[0], obis[1], s, obis[5])
    elif obis[5] != 0xFF:
        s += "*" + str(obis[5])
    return s


def id_matches(obis, pattern):
    """True if every group of `pattern` is either 0xFF (left out) or equal to obis's."""
    for i in range(6):
        if pattern[i] != 0xFF and pattern[i] != obis[i]:
            return False
    return True


def format_decimal(value, decimals, int_digits=1):
    """Integer `value` * 10**-decimals as fixed-point text without floats (`-0012.3450`)."""
    neg = value < 0
    v = -value if neg else value
    s = str(v)
    if decimals > 0:
        s = "0" * (decimals + 1 - len(s)) + s if len(s) <= decimals else s
        ip, fp = s[:-decimals], s[-decimals:]
    else:
        ip, fp = s + "0" * -decimals, ""
    ip = "0" * (int_digits - len(ip)) + ip
    return ("-" if neg else "") + ip + ("." + fp if fp else "")
