# The meter's registers as M-Bus data records for the slave's RSP_UD, OBIS -> VIF (EN 13757-3
# table 10; OMS vol. 2 electricity profile):
#   1-0:1.8.0  A+ energy   DIF 06 (int48)  VIF 0nnn Wh 10^(nnn-3), nnn from the register's scaler
#   1-0:2.8.0  A- energy   the same + VIFE 3C "accumulation of negative contributions" (backward)
#   1-0:16.7.0 power       DIF 04 (int32)  VIF 2B (W)
#   fabrication number     DIF 0C (BCD8)   VIF 78: the M-Bus ID
#   time point             DIF 04          VIF 6D: type F date and time, UTC
from meterseal.compat import const
from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me

_OBIS_IMPORT = b"\x01\x00\x01\x08\x00\xff"  # 1-0:1.8.0*255
_OBIS_EXPORT = b"\x01\x00\x02\x08\x00\xff"  # 1-0:2.8.0*255
_OBIS_POWER = b"\x01\x00\x10\x07\x00\xff"  # 1-0:16.7.0*255
_UNIT_WH = const(30)  # DLMS units (IEC 62056-62)
_UNIT_W = const(27)
_VIFE_BACKWARD = const(0x3C)


def readout_records(readout, ident, now_s):
    """The meter's registers as encoded M-Bus records: a list of bytes, one per record."""
    out = []
    for obis, value, scaler, unit in readout:
        rec = bytearray()
        if unit == _UNIT_WH and (obis == _OBIS_IMPORT or obis == _OBIS_EXPORT):
            value, nnn = _rescale(value, scaler + 3)
            me.encode_record(rec, mbus.DF_INT48, nnn, value,
                             vife=b"" if obis == _OBIS_IMPORT else bytes((_VIFE_BACKWARD,)))
        elif unit == _UNIT_W and obis == _OBIS_POWER:
            value, nnn = _rescale(value, scaler + 3)
            me.encode_record(rec, mbus.DF_INT32, 0x28 + nnn, value)
        else:
            continue  # no M-Bus mapping for this register
        out.append(bytes(rec))
    rec = bytearray()
    me.encode_record(rec, mbus.DF_BCD8, mbus.VIF_FABRICATION_NO, ident["id"])
    out.append(bytes(rec))
    if now_s is not None:
        rec = bytearray()
        me.encode_record(rec, mbus.DF_INT32, mbus.VIF_DATETIME, me.civil(now_s)[:5])
        out.append(bytes(rec))
    return out


def _rescale(value, nnn):
    # VIF exponents run 0..7; a register with another scaler is brought into that range.
    while nnn < 0:
        value //= 10
        nnn += 1
    while nnn > 7:
        value *= 10
        nnn -= 1
    return value, nnn


def split_telegrams(records, room):
    """Group records into telegrams of at most `room` record bytes; when more than one is
    needed, each keeps one byte free for DIF 1F."""
    if sum(len(r) for r in records) <= room:
        return [records]
    parts = []
    cur = []
    size = 0
    for r in records:
        if len(r) > room - 1:
            raise mbus.FrameError("record too long")
        if size + len(r) > room - 1:
            parts.append(cur)
            cur = []
            size = 0
        cur.append(r)
        size += len(r)
    parts.append(cur)
    return parts
