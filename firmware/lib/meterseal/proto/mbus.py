# Wired M-Bus link layer (EN 13757-2, clause 5): the four frame formats of the FT1.2 class
# (IEC 60870-5-1/-2), their checksum, the C/A/CI constants and secondary-address selection.
#
#   single character  E5
#   short frame       10 C A CS 16
#   control frame     68 03 03 68 C A CI CS 16
#   long frame        68 L L 68 C A CI data... CS 16     L = 3 + len(data) <= 255
#
# CS is the arithmetic sum of C, A, CI and data modulo 256. Pure codec: bytes in, values out; a bad
# frame raises FrameError(reason) and nothing else (style.md, proto).
from meterseal.compat import const

ACK = const(0xE5)
_START_SHORT = const(0x10)
_START_LONG = const(0x68)
_STOP = const(0x16)
MAX_DATA = const(252)  # L <= 255 counts C, A and CI (EN 13757-2, 5.4)
MAX_FRAME = const(261)

# C field (EN 13757-2, 5.5): master -> slave 0 PRM FCB FCV F3..F0, slave -> master 0 0 ACD DFC F3..F0
C_SND_NKE = const(0x40)
C_SND_UD = const(0x53)
C_REQ_UD1 = const(0x5A)
C_REQ_UD2 = const(0x5B)
C_RSP_UD = const(0x08)
# the same without FCB/FCV, as function(c) returns them
F_SND_NKE = const(0x40)
F_SND_UD = const(0x43)
F_REQ_UD1 = const(0x4A)
F_REQ_UD2 = const(0x4B)
F_RSP_UD = const(0x08)
C_PRM = const(0x40)
C_FCB = const(0x20)  # frame count bit (ACD in answers)
C_FCV = const(0x10)  # frame count bit valid (DFC in answers)
_C_FUNCTION = const(0x0F)

# A field (EN 13757-2, 5.6)
ADDR_UNCONFIGURED = const(0)
ADDR_LAST_PRIMARY = const(250)
ADDR_SELECTED = const(253)  # network layer: the slave chosen by secondary-address selection
ADDR_BROADCAST_REPLY = const(254)  # every slave answers (test with a single slave only)
ADDR_BROADCAST = const(255)  # every slave executes, none answers

# CI field (EN 13757-3, table 2)
CI_APP_RESET = const(0x50)
CI_DATA_SEND = const(0x51)
CI_SELECT = const(0x52)
CI_RSP_VARIABLE = const(0x72)  # variable data response with the 12-byte long header
CI_BAUD_FIRST = const(0xB8)  # B8..BF switch to 300, 600, ... 38400 Bd
CI_BAUD_LAST = const(0xBF)
BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400)

# --- EN 13757-3 application layer: the CI 0x72 header and the data records ------------------
HEADER_LEN = const(12)  # ID 4, manufacturer 2, version, medium, access no., status, config 2

# data field codes (DIF bits 3..0) and their lengths; D is variable (LVAR), F special
DF_NONE = const(0x0)
DF_INT8 = const(0x1)
DF_INT16 = const(0x2)
DF_INT24 = const(0x3)
DF_INT32 = const(0x4)
DF_REAL32 = const(0x5)
DF_INT48 = const(0x6)
DF_INT64 = const(0x7)
DF_SELECTION = const(0x8)
DF_BCD2 = const(0x9)
DF_BCD4 = const(0xA)
DF_BCD6 = const(0xB)
DF_BCD8 = const(0xC)
DF_VARIABLE = const(0xD)
DF_BCD12 = const(0xE)
DATA_LEN = b"\x00\x01\x02\x03\x04\x04\x06\x08\x00\x01\x02\x03\x04\x00\x06\x00"

# special DIFs (EN 13757-3, 6.3.2)
DIF_MANUFACTURER = const(0x0F)  # manufacturer data to the end of the telegram
DIF_MORE_FOLLOWS = const(0x1F)  # the same, and more records follow in the next telegram

# functions (DIF bits 5..4); FN_MANUFACTURER marks the 0F/1F block
FN_INSTANT = const(0)
FN_MAXIMUM = const(1)
FN_MINIMUM = const(2)
FN_ERROR = const(3)
FN_MANUFACTURER = const(4)

VIF_DATE = const(0x6C)  # type G
VIF_DATETIME = const(0x6D)  # type F (4 bytes) or type I (6 bytes)
VIF_FABRICATION_NO = const(0x78)
VIF_BUS_ADDRESS = const(0x7A)

# Frame kinds returned by parse()
KIND_ACK = const(1)
KIND_SHORT = const(2)
KIND_CONTROL = const(3)
KIND_LONG = const(4)


class FrameError(ValueError):
    """A frame or telegram that cannot be used; args[0] is a short constant reason."""


def checksum(buf, start, end):
    s = 0
    for i in range(start, end):
        s += buf[i]
    return s & 0xFF


def frame_length(buf, start=0, end=None):
    """Length of the frame that starts at buf[start], 0 if more bytes are needed to tell.

    Raises FrameError("start") when buf[start] begins no frame and FrameError("length") for a
    long frame whose two L bytes differ or are below 3: a receiver then drops one byte and looks
    again (resynchronisation, EN 13757-2 5.7)."""
    if end is None:
        end = len(buf)
    if start >= end:
        return 0
    b = buf[start]
    if b == ACK:
        return 1
    if b == _START_SHORT:
        return 5
    if b != _START_LONG:
        raise FrameError("start")
    if end - start < 4:
        return 0
    n = buf[start + 1]
    if n != buf[start + 2] or n < 3:
        raise FrameError("length")
    if buf[start + 3] != _START_LONG:
        raise FrameError("start")
    return n + 6


def parse(buf, start=0, end=None):
    """One frame in buf[start:end] (exactly) -> (kind, c, a, ci, data_start, data_end).

    ci is None and the data range empty for E5 and short frames; c and a are None for E5."""
    if end is None:
        end = len(buf)
    n = end - start
    if n < 1:
        raise FrameError("truncated")
    b = buf[start]
    if b == ACK:
        if n != 1:
            raise FrameError("length")
        return KIND_ACK, None, None, None, end, end
    if b == _START_SHORT:
        if n != 5:
            raise FrameError("length" if n > 5 else "truncated")
        if buf[start + 4] != _STOP:
            raise FrameError("stop")
        if (buf[start + 1] + buf[start + 2]) & 0xFF != buf[start + 3]:
            raise FrameError("checksum")
        return KIND_SHORT, buf[start + 1], buf[start + 2], None, end, end
    if b != _START_LONG:
        raise FrameError("start")
    if n < 9:
        raise FrameError("truncated")
    ln = buf[start + 1]
    if ln != buf[start + 2] or buf[start + 3] != _START_LONG or ln < 3:
        raise FrameError("length")
    if n != ln + 6:
        raise FrameError("length" if n > ln + 6 else "truncated")
    if buf[end - 1] != _STOP:
        raise FrameError("stop")
    if checksum(buf, start + 4, end - 2) != buf[end - 2]:
        raise FrameError("checksum")
    kind = KIND_CONTROL if ln == 3 else KIND_LONG
    return kind, buf[start + 4], buf[start + 5], buf[start + 6], start + 7, end - 2


def build_short(c, a):
    return bytes((_START_SHORT, c, a, (c + a) & 0xFF, _STOP))


def build_long(c, a, ci, data=b"", start=0, end=None):
    """A control frame (no data) or long frame carrying data[start:end]."""
    if end is None:
        end = len(data)
    n = end - start
    if n > MAX_DATA:
        raise FrameError("length")
    out = bytearray(n + 9)
    out[0] = out[3] = _START_LONG
    out[1] = out[2] = n + 3
    out[4] = c
    out[5] = a
    out[6] = ci
    out[7:7 + n] = data[start:end]
    out[n + 7] = checksum(out, 4, n + 7)
    out[n + 8] = _STOP
    return bytes(out)


def is_request(c):
    """True for frames a master sends (PRM set), which a slave must look at."""
    return c is not None and c & C_PRM != 0


def function(c):
    """The C field without FCB/FCV (and ACD/DFC): F_SND_NKE, F_SND_UD, F_REQ_UD2, F_RSP_UD."""
    return c & (C_PRM | _C_FUNCTION)


# --- secondary addresses (EN 13757-3, 11.5: selection with CI 0x52) --------------------------
# Eight bytes as in the long header: ID (4 bytes BCD, LSB first), manufacturer (2, LE), version,
# medium. In a selection, a BCD nibble F or a byte FF (manufacturer: FF FF) matches anything.

def secondary_matches(sel, s0, ident, i0=0):
    """Does the selection sel[s0:s0+8] (wildcards allowed) name the slave whose address is
    ident[i0:i0+8]?"""
    for k in range(4):
        a = sel[s0 + k]
        b = ident[i0 + k]
        if a & 0x0F != 0x0F and a & 0x0F != b & 0x0F:
            return False
        if a & 0xF0 != 0xF0 and a & 0xF0 != b & 0xF0:
            return False
    if not (sel[s0 + 4] == 0xFF and sel[s0 + 5] == 0xFF):
        if sel[s0 + 4] != ident[i0 + 4] or sel[s0 + 5] != ident[i0 + 5]:
            return False
    for k in (6, 7):
        if sel[s0 + k] != 0xFF and sel[s0 + k] != ident[i0 + k]:
            return False
    return True


def secondary_to_text(addr, start=0):
    """libmbus' text form: the ID's 8 digits (F for a wildcard), then manufacturer bytes, version
    and medium in hex as on the wire, e.g. "12345678A8150002" (EMH, version 0, electricity)."""
    digits = "0123456789ABCDEF"
    out = []
    for k in (3, 2, 1, 0):
        b = addr[start + k]
        out.append(digits[b >> 4])
        out.append(digits[b & 0x0F])
    for k in range(4, 8):
        b = addr[start + k]
        out.append(digits[b >> 4])
        out.append(digits[b & 0x0F])
    return "".join(out)


def secondary_from_text(text):
    """8 selection bytes from "12345678" (ID only: the rest wildcards), "1234FFFF" or the
    16-character form of secondary_to_text."""
    text = text.strip().upper()
    if len(text) == 8:
        text += "FFFFFFFF"
    if len(text) != 16:
        raise FrameError("secondary address")
    out = bytearray(8)
    for k in range(8):
        try:
            out[k] = int(text[2 * k:2 * k + 2], 16)
        except ValueError:
            raise FrameError("secondary address")
    # Hex digits only (int() also takes "+1" or " 1"). ID digits A-E are not BCD, but meters do
    # use them and libmbus accepts them; F means "any".
    for ch in text:
        if ch not in "0123456789ABCDEF":
            raise FrameError("secondary address")
    # ID digits were written most significant first; on the wire the LSB byte goes first.
    out[0], out[1], out[2], out[3] = out[3], out[2], out[1], out[0]
    return bytes(out)
