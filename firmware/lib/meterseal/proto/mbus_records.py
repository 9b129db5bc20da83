# M-Bus application layer (EN 13757-3): the 12-byte long header of CI 0x72 and the variable
# data records DIF [DIFE...] VIF [VIFE...] data, both ways. Units and names of the VIF codes are
# in mbus_units.py; this module only moves bits. Pure codec: a bad telegram raises
# mbus.FrameError(reason) and returns nothing.
#
#   DIF   E S FF DDDD   extension, storage LSB, function (inst/max/min/error), data field
#   DIFE  E U TT SSSS   extension, subunit bit, tariff bits, storage bits (up to 10 DIFEs)
#   VIF   E VVVVVVV     0x7C/0xFC plain-text unit, 0xFB/0xFD extension tables, 0x7F/0xFF manufacturer
import struct

from meterseal.compat import const
from meterseal.proto.mbus import FrameError

HEADER_LEN = const(12)
_MAX_EXT = const(10)  # EN 13757-3: at most 10 DIFEs and 10 VIFEs

# data field codes (DIF bits 3..0)
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
_DF_SPECIAL = const(0xF)
_DATA_LEN = b"\x00\x01\x02\x03\x04\x04\x06\x08\x00\x01\x02\x03\x04\x00\x06\x00"

# special DIFs (EN 13757-3, 6.3.2)
DIF_MANUFACTURER = const(0x0F)  # manufacturer data to the end of the telegram
DIF_MORE_FOLLOWS = const(0x1F)  # the same, and more records follow in the next telegram
_DIF_IDLE = const(0x2F)  # filler byte
_DIF_GLOBAL_READOUT = const(0x7F)

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
_VIF_PLAIN_TEXT = const(0x7C)
_VIF_EXT_FB = const(0xFB)
_VIF_EXT_FD = const(0xFD)


class Record:
    """One data record. vif is the primary VIF without its extension bit, 0xFBnn / 0xFDnn for the
    extension tables, 0x7C with .text for a plain-text unit; vife holds the further (combinable)
    VIFE bytes. value: int, float, str, bytes, a date tuple (y, m, d[, h, mi[, s]]) or None (BCD
    with non-decimal digits, a time point flagged invalid)."""

    def __init__(self, function, storage, tariff, subunit, df, vif, vife, value, text=None):
        self.function = function
        self.storage = storage
        self.tariff = tariff
        self.subunit = subunit
        self.df = df
        self.vif = vif
        self.vife = vife
        self.value = value
        self.text = text

    def __repr__(self):
        return "Record(fn=%d s=%d t=%d u=%d vif=%x %r)" % (
            self.function, self.storage, self.tariff, self.subunit, self.vif, self.value)


# --- numbers -------------------------------------------------------------------------------

def int_decode(buf, start, n):
    """Two's complement, least significant byte first (EN 13757-3 Annex A, type B)."""
    v = 0
    for i in range(start + n - 1, start - 1, -1):
        v = (v << 8) | buf[i]
    if n and buf[start + n - 1] & 0x80:
        v -= 1 << (8 * n)
    return v


def int_encode(out, value, n):
    if not -(1 << (8 * n - 1)) <= value < (1 << (8 * n - 1)):
        raise FrameError("range")
    value &= (1 << (8 * n)) - 1
    for _ in range(n):
        out.append(value & 0xFF)
        value >>= 8


def bcd_decode(buf, start, n):
    """BCD, least significant byte first (type A); F in the top nibble is a minus sign. None if
    another digit is not decimal (meters mark errors so)."""
    v = 0
    neg = False
    for i in range(start + n - 1, start - 1, -1):
        b = buf[i]
        hi = b >> 4
        if i == start + n - 1 and hi == 0xF:
            neg = True
            hi = 0
        lo = b & 0x0F
        if hi > 9 or lo > 9:
            return None
        v = v * 100 + hi * 10 + lo
    return -v if neg else v


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


# --- time points (EN 13757-3 Annex A: type G date, type F date+time, type I with seconds) -----

def _full_year(y7, hy):
    # Hundred-year bits (HY) came late: with HY 0, years 0..80 mean 2000..2080 (old meters).
    # The 7-bit field holds 0..99; anything above is no year (meters send 127 for "not set").
    if y7 > 99:
        return None
    if hy == 0:
        return 2000 + y7 if y7 <= 80 else 1900 + y7
    return 1900 + 100 * hy + y7


def date_decode(buf, start, n):
    if n == 2:  # type G
        b0, b1 = buf[start], buf[start + 1]
        y = ((b0 >> 5) & 7) | ((b1 >> 1) & 0x78)
        y = _full_year(y, 0)
        return None if y is None else (y, b1 & 0x0F, b0 & 0x1F)
    if n == 4:  # type F
        b0, b1, b2, b3 = buf[start], buf[start + 1], buf[start + 2], buf[start + 3]
        if b0 & 0x80:  # IV: time invalid
            return None
        y = _full_year(((b2 >> 5) & 7) | ((b3 >> 1) & 0x78), (b1 >> 5) & 3)
        return None if y is None else (y, b3 & 0x0F, b2 & 0x1F, b1 & 0x1F, b0 & 0x3F)
    # type I (6 bytes): seconds first, then the type F layout shifted by one byte
    b = buf
    s = start
    if b[s + 1] & 0x80:
        return None
    y = _full_year(((b[s + 3] >> 5) & 7) | ((b[s + 4] >> 1) & 0x78), 0)
    if y is None:
        return None
    return (y, b[s + 4] & 0x0F, b[s + 3] & 0x1F, b[s + 2] & 0x1F, b[s + 1] & 0x3F, b[s] & 0x3F)


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


def civil(epoch_s):
    """(y, m, d, h, mi, s) of a POSIX time (UTC), proleptic Gregorian; no time module needed."""
    days, rem = divmod(epoch_s, 86400)
    z = days + 719468  # days since 0000-03-01
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return (y, m, d, rem // 3600, (rem // 60) % 60, rem % 60)


# --- long header (CI 0x72) -------------------------------------------------------------------

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


def manufacturer_text(code):
    return "".join(chr(((code >> s) & 0x1F) + 64) for s in (10, 5, 0))


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


def parse_header(buf, start, end):
    """-> (id, manufacturer text, version, medium, access number, status, configuration).

    id is None when its digits are not BCD: some meters send that, and their records are still
    worth reading."""
    if end - start < HEADER_LEN:
        raise FrameError("header")
    ident = bcd_decode(buf, start, 4)
    if ident is not None and ident < 0:
        ident = None
    return (ident, manufacturer_text(buf[start + 4] | (buf[start + 5] << 8)), buf[start + 6],
            buf[start + 7], buf[start + 8], buf[start + 9], buf[start + 10] | (buf[start + 11] << 8))


# --- records ---------------------------------------------------------------------------------

def parse_records(buf, start, end):
    """All records of buf[start:end] -> (records, more_follows)."""
    recs = []
    i = start
    while i < end:
        dif = buf[i]
        i += 1
        if dif & 0x0F == _DF_SPECIAL:
            if dif == _DIF_IDLE or dif == _DIF_GLOBAL_READOUT:
                continue
            if dif == DIF_MANUFACTURER or dif == DIF_MORE_FOLLOWS:
                recs.append(Record(FN_MANUFACTURER, 0, 0, 0, dif, 0, b"", bytes(buf[i:end])))
                return recs, dif == DIF_MORE_FOLLOWS
            raise FrameError("dif")
        df = dif & 0x0F
        storage = (dif >> 6) & 1
        tariff = subunit = 0
        ext = dif & 0x80
        k = 0
        while ext:
            if i >= end:
                raise FrameError("truncated")
            if k == _MAX_EXT:
                raise FrameError("dife")
            dife = buf[i]
            i += 1
            storage |= (dife & 0x0F) << (1 + 4 * k)
            tariff |= ((dife >> 4) & 3) << (2 * k)
            subunit |= ((dife >> 6) & 1) << k
            ext = dife & 0x80
            k += 1
        if i >= end:
            raise FrameError("truncated")
        v = buf[i]
        i += 1
        text = None
        if v == _VIF_EXT_FB or v == _VIF_EXT_FD:
            if i >= end:
                raise FrameError("truncated")
            vif = (v << 8) | (buf[i] & 0x7F)
            ext = buf[i] & 0x80
            i += 1
        else:
            vif = v & 0x7F
            ext = v & 0x80
        vstart = i
        while ext:
            if i >= end:
                raise FrameError("truncated")
            if i - vstart == _MAX_EXT:
                raise FrameError("vife")
            ext = buf[i] & 0x80
            i += 1
        vife = bytes(buf[vstart:i])
        if vif == _VIF_PLAIN_TEXT:  # the unit's ASCII text follows the VIB, reversed
            if i >= end or i + 1 + buf[i] > end:
                raise FrameError("truncated")
            text = _reversed_text(buf, i + 1, buf[i])
            i += 1 + buf[i]
        if df == DF_VARIABLE:
            value, i = _decode_lvar(buf, i, end)
        else:
            n = _DATA_LEN[df]
            if i + n > end:
                raise FrameError("truncated")
            value = _decode_fixed(buf, i, n, df, vif)
            i += n
        recs.append(Record((dif >> 4) & 3, storage, tariff, subunit, df, vif, vife, value, text))
    return recs, False


def _reversed_text(buf, start, n):
    return "".join(chr(buf[j]) for j in range(start + n - 1, start - 1, -1))


def _decode_fixed(buf, i, n, df, vif):
    if n == 0:
        return None
    if (vif == VIF_DATE and df == DF_INT16) or (vif == VIF_DATETIME and df in (DF_INT32, DF_INT48)):
        return date_decode(buf, i, n)
    if df == DF_REAL32:
        return struct.unpack("<f", bytes(buf[i:i + 4]))[0]
    if df >= DF_BCD2:
        return bcd_decode(buf, i, n)
    return int_decode(buf, i, n)


def _decode_lvar(buf, i, end):
    # LVAR (EN 13757-3, 6.3.3): 00-BF text, C0-C9 / D0-D9 positive / negative BCD of (LVAR-C0/D0)
    # bytes, E0-EF binary of LVAR-E0 bytes, F0-F4 binary of 4*(LVAR-EC) bytes, F5 48, F6 64 bytes.
    if i >= end:
        raise FrameError("truncated")
    lv = buf[i]
    i += 1
    if lv <= 0xBF:
        n = lv
    elif 0xC0 <= lv <= 0xC9 or 0xD0 <= lv <= 0xD9:
        n = lv & 0x0F
    elif 0xE0 <= lv <= 0xEF:
        n = lv - 0xE0
    elif 0xF0 <= lv <= 0xF4:
        n = 4 * (lv - 0xEC)
    elif lv == 0xF5:
        n = 48
    elif lv == 0xF6:
        n = 64
    else:
        raise FrameError("lvar")
    if i + n > end:
        raise FrameError("truncated")
    if lv <= 0xBF:
        return _reversed_text(buf, i, n), i + n
    if lv < 0xE0:
        v = bcd_decode(buf, i, n)
        if v is not None and lv >= 0xD0:
            v = -v
        return v, i + n
    return bytes(buf[i:i + n]), i + n


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
    n = _DATA_LEN[df]
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
