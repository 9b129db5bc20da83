# What an M-Bus VIF means (EN 13757-3, 6.4: tables 10-14): quantity, unit and decimal exponent.
# Kept apart from mbus_records.py because only readers need the names (the MUC and the host);
# a meter's slave never imports this table.
from meterseal.compat import const

VIFE_BACKWARD = const(0x3C)  # combinable VIFE: accumulation only of negative contributions

# (first primary VIF, last, quantity, unit, exponent of the first code); exponent grows with the
# code inside a range. Durations (0x20-0x27, 0x70-0x77) pick their unit from the code instead.
_PRIMARY = (
    (0x00, 0x07, "energy", "Wh", -3),
    (0x08, 0x0F, "energy", "J", 0),
    (0x10, 0x17, "volume", "m3", -6),
    (0x18, 0x1F, "mass", "kg", -3),
    (0x28, 0x2F, "power", "W", -3),
    (0x30, 0x37, "power", "J/h", 0),
    (0x38, 0x3F, "volume flow", "m3/h", -6),
    (0x40, 0x47, "volume flow", "m3/min", -7),
    (0x48, 0x4F, "volume flow", "m3/s", -9),
    (0x50, 0x57, "mass flow", "kg/h", -3),
    (0x58, 0x5B, "flow temperature", "degC", -3),
    (0x5C, 0x5F, "return temperature", "degC", -3),
    (0x60, 0x63, "temperature difference", "K", -3),
    (0x64, 0x67, "external temperature", "degC", -3),
    (0x68, 0x6B, "pressure", "bar", -3),
)
_DURATION_UNITS = ("s", "min", "h", "d")
_NAMED = {
    0x6C: "date", 0x6D: "date and time", 0x6E: "HCA units", 0x78: "fabrication number",
    0x79: "enhanced identification", 0x7A: "bus address", 0x7E: "any VIF",
    0x7F: "manufacturer specific",
}
# FD table (EN 13757-3 table 14), the entries meters of this project's kind use
_FD_NAMED = {
    0x08: "access number", 0x09: "medium", 0x0A: "manufacturer", 0x0B: "parameter set",
    0x0C: "model version", 0x0D: "hardware version", 0x0E: "firmware version",
    0x0F: "software version", 0x10: "customer location", 0x11: "customer", 0x16: "password",
    0x17: "error flags", 0x1A: "digital output", 0x1B: "digital input", 0x1C: "baud rate",
    0x3A: "dimensionless", 0x60: "reset counter", 0x61: "cumulation counter",
}
# FB table (table 13): large units as (first, last, quantity, unit, exponent of the first code)
_FB = (
    (0x00, 0x01, "energy", "Wh", 5),
    (0x08, 0x09, "energy", "J", 8),
    (0x10, 0x11, "volume", "m3", 2),
    (0x18, 0x19, "mass", "kg", 5),
    (0x28, 0x29, "power", "W", 5),
    (0x30, 0x31, "power", "J/h", 8),
)


_PER = ("second", "minute", "hour", "day", "week", "month", "year", "revolution/measurement")
_FIRST_LAST = ("first", "last")
_LOWER_UPPER = ("lower", "upper")
KIND_NUMBER = None  # value * 10**exponent unit
KIND_DATE = "date"  # the integer's bytes are a time point: type G (2 bytes) or F (4 bytes)
KIND_UNKNOWN = "unknown"  # a VIFE this table does not know: no scaled value


def describe(vif, vife=b"", text=None):
    """-> (quantity, unit, exponent): the value means value * 10**exponent unit; exponent None
    when it is no such number (a time point, or a VIFE that is not understood)."""
    return describe_record(vif, vife, text)[:3]


def describe_record(vif, vife=b"", text=None):
    """-> (quantity, unit, exponent, kind): describe() and KIND_NUMBER, KIND_DATE or
    KIND_UNKNOWN. Every combinable VIFE (EN 13757-3 table 15) is applied in turn, up to the
    0x7F "manufacturer specific VIFEs follow"."""
    q, unit, exp = _lookup(vif, text)
    kind = KIND_NUMBER
    if vif == 0x7F:
        return q, unit, exp, kind  # the VIFEs of a manufacturer specific VIF are its own
    for b in vife:
        c = b & 0x7F
        if c == 0x7F:
            break
        if c == 0:  # E000 0000 in an answer: record error "none" (tables 16-17)
            continue
        if 0x70 <= c <= 0x77:  # multiplicative correction factor 10**(nnn-6)
            exp += c - 0x76
        elif c == 0x7D:  # multiplicative correction factor 1000
            exp += 3
        elif c == 0x7E:
            q += " (future value)"
        elif c == 0x3B:
            q += " forward"
        elif c == VIFE_BACKWARD:
            q += " backward"
        elif c == 0x3A or c == 0x3E:  # uncorrected unit / value at base conditions: same unit
            q += " uncorrected" if c == 0x3A else " at base conditions"
        elif 0x20 <= c <= 0x27:  # per time unit: the VIF's unit and scale, per ...
            q += " per " + _PER[c - 0x20]
        elif 0x28 <= c <= 0x2B:  # increment per input/output pulse on channel p
            q += " per %s pulse, channel %d" % ("input" if c < 0x2A else "output", c & 1)
        elif c & 0x77 == 0x40:  # E100 u000: lower/upper limit value, in the VIF's unit
            q = "%s limit of %s" % (_LOWER_UPPER[(c >> 3) & 1], q)
        elif c & 0x77 == 0x41:  # E100 u001: number of exceeds of the limit
            q, unit, exp = "number of %s limit exceeds of %s" % (
                _LOWER_UPPER[(c >> 3) & 1], q), "", 0
        elif 0x40 <= c <= 0x4F and c & 2:  # E100 uf1b: date (/time) of
            q, unit, exp, kind = "date of %s of %s %s limit exceed of %s" % (
                ("begin", "end")[c & 1], _FIRST_LAST[(c >> 2) & 1], _LOWER_UPPER[(c >> 3) & 1],
                q), "", None, KIND_DATE
        elif 0x50 <= c <= 0x5F:  # E101 ufnn: duration of limit exceed
            q, unit, exp = "duration of %s %s limit exceed of %s" % (
                _FIRST_LAST[(c >> 2) & 1], _LOWER_UPPER[(c >> 3) & 1], q), \
                _DURATION_UNITS[c & 3], 0
        elif 0x60 <= c <= 0x67:  # E110 0fnn: duration of (first/last)
            q, unit, exp = "duration of %s %s" % (_FIRST_LAST[(c >> 2) & 1], q), \
                _DURATION_UNITS[c & 3], 0
        elif c == 0x68 or c == 0x69:  # E110 100u: value during lower/upper limit exceed
            q = "%s during %s limit exceed" % (q, _LOWER_UPPER[c & 1])
        elif c in (0x6A, 0x6B, 0x6E, 0x6F):  # E110 1f1b: date (/time) of begin/end, first/last
            q, unit, exp, kind = "date of %s of %s %s" % (
                ("begin", "end")[c & 1], _FIRST_LAST[(c >> 2) & 1], q), "", None, KIND_DATE
        elif c < 0x20:  # E00x xxxx: a record error code (EN 13757-3 table 17)
            q += " (record error %02X)" % c
            exp = None
            kind = KIND_UNKNOWN
            break
        else:
            q += " (VIFE %02X?)" % c
            exp = None
            kind = KIND_UNKNOWN
            break
    return q, unit, exp, kind


def _lookup(vif, text):
    if vif > 0xFF:
        table, code = vif >> 8, vif & 0x7F
        if table == 0xFD:
            if 0x40 <= code <= 0x4F:
                return "voltage", "V", (code & 0x0F) - 9
            if 0x50 <= code <= 0x5F:
                return "current", "A", (code & 0x0F) - 12
            return _FD_NAMED.get(code, "FD %02X" % code), "", 0
        for lo, hi, q, unit, e in _FB:
            if lo <= code <= hi:
                return q, unit, e + code - lo
        return "FB %02X" % code, "", 0
    if vif == 0x7C:
        return "plain text", text or "", 0
    if 0x20 <= vif <= 0x27:
        return ("on time" if vif < 0x24 else "operating time"), _DURATION_UNITS[vif & 3], 0
    if 0x70 <= vif <= 0x77:
        return (("averaging duration" if vif < 0x74 else "actuality duration"),
                _DURATION_UNITS[vif & 3], 0)
    for lo, hi, q, unit, e in _PRIMARY:
        if lo <= vif <= hi:
            return q, unit, e + vif - lo
    return _NAMED.get(vif, "VIF %02X" % vif), "", 0


FUNCTIONS = ("instantaneous", "maximum", "minimum", "error", "manufacturer")
