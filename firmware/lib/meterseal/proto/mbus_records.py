# M-Bus application layer (EN 13757-3), reading: the 12-byte long header of CI 0x72 and the
# variable data records DIF [DIFE...] VIF [VIFE...] data. Writing them is mbus_encode.py, the
# names and units of the VIF codes mbus_units.py: three small modules, because a board that runs
# from source compiles each on its own heap, and the meter's slave needs neither all nor at once.
# Pure codec: a bad telegram raises mbus.FrameError(reason) and returns nothing.
#
#   DIF   E S FF DDDD   extension, storage LSB, function (inst/max/min/error), data field
#   DIFE  E U TT SSSS   extension, subunit bit, tariff bits, storage bits (up to 10 DIFEs)
#   VIF   E VVVVVVV     0x7C/0xFC plain-text unit, 0xFB/0xFD extension tables, 0x7F/0xFF manufacturer
import struct

from meterseal.compat import const
from meterseal.proto.mbus import (DATA_LEN, DF_BCD2, DF_INT16, DF_INT32, DF_INT48, DF_REAL32,
                                  DF_VARIABLE, DIF_MANUFACTURER, DIF_MORE_FOLLOWS, FN_MANUFACTURER,
                                  HEADER_LEN, VIF_DATE, VIF_DATETIME, FrameError)

_MAX_EXT = const(10)  # EN 13757-3: at most 10 DIFEs and 10 VIFEs
_DF_SPECIAL = const(0xF)
_DIF_IDLE = const(0x2F)  # filler byte
_DIF_GLOBAL_READOUT = const(0x7F)
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


# --- long header (CI 0x72) -------------------------------------------------------------------

def manufacturer_text(code):
    return "".join(chr(((code >> s) & 0x1F) + 64) for s in (10, 5, 0))


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
    try:
        return _parse_records(buf, start, end, False)
    except FrameError as e:
        # EN 13757-3 puts a plain-text unit (VIF 7C/FC) after the last VIFE; ELV/Elvaco CMa10
        # and others put it right after the VIF byte, before the VIFEs (libmbus tries both
        # too). Only a telegram that does not parse the standard way is read that way.
        try:
            return _parse_records(buf, start, end, True)
        except FrameError:
            raise e


def _parse_records(buf, start, end, text_after_vif):
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
        if text_after_vif and vif == _VIF_PLAIN_TEXT:
            text, i = _plain_text(buf, i, end)
        vstart = i
        while ext:
            if i >= end:
                raise FrameError("truncated")
            if i - vstart == _MAX_EXT:
                raise FrameError("vife")
            ext = buf[i] & 0x80
            i += 1
        vife = bytes(buf[vstart:i])
        if vif == _VIF_PLAIN_TEXT and not text_after_vif:  # after the VIB, reversed
            text, i = _plain_text(buf, i, end)
        if df == DF_VARIABLE:
            value, i = _decode_lvar(buf, i, end)
        else:
            n = DATA_LEN[df]
            if i + n > end:
                raise FrameError("truncated")
            value = _decode_fixed(buf, i, n, df, vif)
            i += n
        recs.append(Record((dif >> 4) & 3, storage, tariff, subunit, df, vif, vife, value, text))
    return recs, False


def _plain_text(buf, i, end):
    # length byte, then the ASCII text, last character first
    if i >= end or i + 1 + buf[i] > end:
        raise FrameError("truncated")
    return _reversed_text(buf, i + 1, buf[i]), i + 1 + buf[i]


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
