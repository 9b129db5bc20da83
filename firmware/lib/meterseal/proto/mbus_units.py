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


def describe(vif, vife=b"", text=None):
    """-> (quantity, unit, exponent): the value means value * 10**exponent unit."""
    q, unit, exp = _lookup(vif, text)
    if vife and vife[0] & 0x7F == VIFE_BACKWARD:
        q += " backward"
    return q, unit, exp


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
