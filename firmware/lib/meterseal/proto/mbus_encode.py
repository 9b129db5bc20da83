# M-Bus application layer (EN 13757-3), writing: numbers, time points, the CI 0x72 long header
# and data records. The constants (data field codes, VIFs) are in mbus.py.
import struct

from meterseal.compat import const
from meterseal.proto.mbus import FrameError
from meterseal.proto.mbus import (DATA_LEN, DF_BCD2, DF_INT16, DF_INT32, DF_REAL32, DF_VARIABLE,
                                  FN_INSTANT, VIF_DATE, VIF_DATETIME)
from meterseal.civil import civil  # noqa: F401  (record writers call mbus_encode.civil)

_MAX_EXT = const(10)  # EN 13757-3: at most 10 DIFEs and 10 VIFEs


def int_encode(out, value, n):
    if not -(1 << (8 * n - 1)) <= value < (1 << (8 * n - 1)):
        raise FrameError("range")
    value &= (1 << (8 * n)) - 1
    for _ in range(n):
        out.append(value & 0xFF)
        value >>= 8


def bcd_encode(out, value, n):
    neg = value < 0
    if neg:
        value = -value
        if value >= 10 ** (2 * n - 1):
            raise FrameError("range")
    elif value >= 10 ** (2 * n):
        raise FrameError("range")
    for i in range(n):
        lo = value % 10
        value //= 10
        hi = value % 10
        value //= 10
        if neg and i == n - 1:
            hi = 0xF
        out.append((hi << 4) | lo)


def date_encode(out, t, n):
    y = t[0]
    if not 1900 <= y <= 2299:
        raise FrameError("range")
    hy, y7 = (y - 1900) // 100, (y - 1900) % 100
    if n == 2:  # no hundred-year bits: 1981..2080 only
        if not 1981 <= y <= 2080:
            raise FrameError("range")
        y7 = y - 2000 if y >= 2000 else y - 1900
        out.append((t[2] & 0x1F) | ((y7 & 7) << 5))
        out.append((t[1] & 0x0F) | ((y7 & 0x78) << 1))
    elif n == 4:
        out.append(t[4] & 0x3F)
        out.append((t[3] & 0x1F) | (hy << 5))
        out.append((t[2] & 0x1F) | ((y7 & 7) << 5))
        out.append((t[1] & 0x0F) | ((y7 & 0x78) << 1))
    else:
        raise FrameError("range")


# --- long header (CI 0x72) -----------------------------------------------------------------

def manufacturer_code(text):
    """"EMH" -> 0x15A8: three letters of 5 bits each (EN 13757-3, 6.3.1; FLAG association)."""
    if len(text) != 3:
        raise FrameError("manufacturer")
    v = 0
    for ch in text.upper():
        c = ord(ch) - 64
        if not 1 <= c <= 26:
            raise FrameError("manufacturer")
        v = (v << 5) | c
    return v


def pack_address(ident_no, manufacturer, version, medium):
    """The 8-byte secondary address: ID (BCD), manufacturer, version, medium, as in the header."""
    out = bytearray()
    bcd_encode(out, ident_no, 4)
    m = manufacturer_code(manufacturer) if isinstance(manufacturer, str) else manufacturer
    out.append(m & 0xFF)
    out.append(m >> 8)
    out.append(version & 0xFF)
    out.append(medium & 0xFF)
    return bytes(out)


def pack_header(ident_no, manufacturer, version, medium, access, status, config=0):
    out = bytearray(pack_address(ident_no, manufacturer, version, medium))
    out.append(access & 0xFF)
    out.append(status & 0xFF)
    out.append(config & 0xFF)
    out.append(config >> 8)
    return out


# --- records ---------------------------------------------------------------------------------

def encode_record(out, df, vif, value, function=FN_INSTANT, storage=0, tariff=0, subunit=0,
                  vife=b""):
    """Append one record to the bytearray out. vif as in Record (0xFDnn for the FD table); vife
    are further VIFE bytes, written with their extension bits set as needed."""
    dif = df | (function << 4) | ((storage & 1) << 6)
    difes = bytearray()
    storage >>= 1
    while storage or tariff or subunit:
        difes.append((storage & 0x0F) | ((tariff & 3) << 4) | ((subunit & 1) << 6))
        storage >>= 4
        tariff >>= 2
        subunit >>= 1
    if len(difes) > _MAX_EXT:
        raise FrameError("dife")
    out.append(dif | (0x80 if difes else 0))
    for k in range(len(difes)):
        out.append(difes[k] | (0x80 if k < len(difes) - 1 else 0))
    more = 0x80 if vife else 0
    if vif > 0xFF:
        out.append(vif >> 8)
    out.append((vif & 0x7F) | more)
    for k in range(len(vife)):
        out.append((vife[k] & 0x7F) | (0x80 if k < len(vife) - 1 else 0))
    if df == DF_VARIABLE:
        if isinstance(value, str):
            if len(value) > 0xBF:
                raise FrameError("range")
            out.append(len(value))
            for j in range(len(value) - 1, -1, -1):
                out.append(ord(value[j]))
        else:
            if len(value) > 15:
                raise FrameError("range")
            out.append(0xE0 + len(value))
            out.extend(value)
        return out
    n = DATA_LEN[df]
    if n == 0:
        return out
    if (vif == VIF_DATE and df == DF_INT16) or (vif == VIF_DATETIME and df == DF_INT32):
        date_encode(out, value, n)
    elif df == DF_REAL32:
        out.extend(struct.pack("<f", value))
    elif df >= DF_BCD2:
        bcd_encode(out, value, n)
    else:
        int_encode(out, value, n)
    return out
