# SML 1.04 messages (BSI TR-03109-1 Anlage IV, sections 6-7): SML_Message with its per-message
# CRC, PublicOpen/PublicClose, GetList, GetProfileList and Attention, encoder and decoder.
# The body classes and their field tables: sml_types.py. TL field and transport v1: sml_tl.py.
# Decoding checks every claimed length against the buffer before using it, reads lists one
# element at a time and limits nesting, so hostile input costs no more RAM than its own size.
from meterseal.compat import const
from meterseal.proto import sml_tl as tl
from meterseal.proto.crc import crc16_x25
from meterseal.proto.sml_tl import FrameError  # noqa: F401  (re-exported)
from meterseal.proto.sml_types import (  # noqa: F401  (re-exported: sml is the one import)
    ATTENTION_RES, BODIES, CLOSE_REQ, CLOSE_RES, GET_LIST_REQ, GET_LIST_RES,
    GET_PROFILE_LIST_REQ, GET_PROFILE_LIST_RES, OPEN_REQ, OPEN_RES, AttentionRes, CloseReq,
    CloseRes, GetListReq, GetListRes, GetProfileListReq, GetProfileListRes, ListEntry, ListValue,
    Message, OpenReq, OpenRes, PeriodEntry, Time, Unknown)

_TIME_SEC_INDEX = const(1)
_TIME_TIMESTAMP = const(2)
_TIME_LOCAL = const(3)
_LISTTYPE_TIME = const(1)  # SML_ListType choice smlTime (v1.04)
_MAX_DEPTH = const(12)

# ---- encoder ----

def _put_time(out, t):
    if t is None:
        out.append(0x01)
        return
    out.append(0x72)
    tl.put_int(out, t.kind, tl.U8)
    if t.kind == _TIME_LOCAL:
        out.append(0x73)
        tl.put_int(out, t.value, tl.U32)
        tl.put_int(out, t.local_offset, tl.I16)
        tl.put_int(out, t.season_offset, tl.I16)
    else:
        tl.put_int(out, t.value, tl.U32)


def _put_any(out, v, kind=None):
    if v is None:
        out.append(0x01)
    elif isinstance(v, bool):
        out.append(0x42)
        out.append(1 if v else 0)
    elif isinstance(v, int):
        tl.put_int(out, v, kind or tl.int_kind(v))
    elif isinstance(v, (bytes, bytearray, memoryview)):
        tl.put_octets(out, v)
    elif isinstance(v, Time):
        out.append(0x72)  # SML_Value -> SML_ListType choice smlTime
        tl.put_int(out, _LISTTYPE_TIME, tl.U8)
        _put_time(out, v)
    elif isinstance(v, ListValue):
        out.append(0x72)
        tl.put_int(out, v.choice, tl.U8)
        _put_any(out, v.raw)
    elif isinstance(v, (list, tuple)):
        tl.put_tl(out, tl.T_LIST, len(v))
        for x in v:
            _put_any(out, x)
    else:
        raise TypeError("cannot encode " + str(type(v)))


def _put_obj(out, obj):
    fields = obj.FIELDS
    tl.put_tl(out, tl.T_LIST, len(fields))
    for name, code in fields:
        v = getattr(obj, name)
        if code in "oO":
            tl.put_octets(out, v)
        elif v is None:
            out.append(0x01)
        elif code == "B":
            tl.put_int(out, v, tl.U8)
        elif code == "D":
            tl.put_int(out, v, tl.U32)
        elif code == "c":
            tl.put_int(out, v, tl.I8)
        elif code == "S" or code == "v":
            _put_any(out, v, getattr(obj, name + "_tl"))
        elif code == "t":
            _put_time(out, v)
        elif code == "l" or code == "p" or code == "P":
            tl.put_tl(out, tl.T_LIST, len(v))
            for x in v:
                if code == "P":
                    tl.put_octets(out, x)
                else:
                    _put_obj(out, x)
        else:  # "b", "g"
            _put_any(out, v)


def encode_message(out, msg):
    """Append one SML_Message with its CRC (section 7.1: CRC16 over the message from its first
    byte to the end of messageBody, sent low byte first like the frame CRC)."""
    m0 = len(out)
    out.append(0x76)
    tl.put_octets(out, msg.tx_id)
    tl.put_int(out, msg.group, tl.U8)
    tl.put_int(out, msg.abort, tl.U8)
    out.append(0x72)
    tl.put_int(out, msg.body.TAG, tl.U16)
    if isinstance(msg.body, Unknown):
        _put_any(out, msg.body.raw)
    else:
        _put_obj(out, msg.body)
    crc = crc16_x25(out, m0)
    out.append(tl.U16)
    out.append(crc & 0xFF)
    out.append(crc >> 8)
    out.append(0x00)


def encode_frame(messages):
    """A complete transport v1 frame (bytearray) holding `messages`."""
    out = bytearray(tl.START)
    for m in messages:
        encode_message(out, m)
    return tl.finish_frame(out)


# ---- decoder ----

def _uint(buf, p, end, optional=True):
    typ, n, q = tl.read_tl(buf, p, end)
    if typ == tl.T_OCTETS and n == 0 and optional:
        return None, q
    if typ != tl.T_UINT:
        raise FrameError("unsigned expected")
    return tl.get_uint(buf, q, n), q + n


def _sint(buf, p, end):
    typ, n, q = tl.read_tl(buf, p, end)
    if typ == tl.T_OCTETS and n == 0:
        return None, q
    if typ != tl.T_INT:
        raise FrameError("integer expected")
    return tl.get_int(buf, q, n), q + n


def _octets(buf, p, end):
    typ, n, q = tl.read_tl(buf, p, end)
    if typ != tl.T_OCTETS:
        raise FrameError("octets expected")
    return (bytes(buf[q : q + n]) if n or buf[p] != 0x01 else None), q + n


def _list(buf, p, end, count=None):
    typ, n, q = tl.read_tl(buf, p, end)
    if typ != tl.T_LIST or (count is not None and n != count):
        raise FrameError("list expected")
    return n, q


def _time(buf, p, end):
    if p < end and buf[p] == 0x01:
        return None, p + 1
    if p < end and buf[p] & 0xF0 == tl.T_UINT:
        # Some meters (Holley DTZ541, SmlLib's "Frame2") send a bare Unsigned32 seconds index
        # instead of the SML_Time choice; SmlLib accepts it too. Re-encoded in the standard form.
        v, p = _uint(buf, p, end, False)
        return Time(_TIME_SEC_INDEX, v), p
    _, p = _list(buf, p, end, 2)
    kind, p = _uint(buf, p, end, False)
    if kind == _TIME_LOCAL:
        _, p = _list(buf, p, end, 3)
        ts, p = _uint(buf, p, end, False)
        lo, p = _sint(buf, p, end)
        so, p = _sint(buf, p, end)
        if lo is None or so is None:
            raise FrameError("time")
        return Time(kind, ts, lo, so), p
    if kind != _TIME_SEC_INDEX and kind != _TIME_TIMESTAMP:
        raise FrameError("time choice")
    v, p = _uint(buf, p, end, False)
    return Time(kind, v), p


def _any(buf, p, end, depth):
    """(value, tl_byte, next) for any SML value; lists become Python lists."""
    if depth > _MAX_DEPTH:
        raise FrameError("depth")
    typ, n, q = tl.read_tl(buf, p, end)
    k = buf[p]
    if typ == tl.T_UINT:
        return tl.get_uint(buf, q, n), k, q + n
    if typ == tl.T_INT:
        return tl.get_int(buf, q, n), k, q + n
    if typ == tl.T_OCTETS:
        return (bytes(buf[q : q + n]) if n or k != 0x01 else None), k, q + n
    if typ == tl.T_BOOL:
        return buf[q] != 0, k, q + 1
    if typ == tl.T_LIST:
        out = []
        for _ in range(n):
            v, _, q = _any(buf, q, end, depth + 1)
            out.append(v)
        return out, k, q
    raise FrameError("end of message misplaced")


def _value(buf, p, end):
    """SML_Value: a scalar, or SML_ListType (list(2){choice, value}) with smlTime decoded."""
    if p < end and buf[p] == 0x72:
        _, q = _list(buf, p, end, 2)
        choice, q = _uint(buf, q, end, False)
        if choice == _LISTTYPE_TIME:
            t, q = _time(buf, q, end)
            if t is None:
                raise FrameError("time")
            return t, 0x72, q
        raw, _, q = _any(buf, q, end, 2)
        return ListValue(choice, raw), 0x72, q
    return _any(buf, p, end, 1)


def _obj(cls, buf, p, end, depth):
    if depth > _MAX_DEPTH:
        raise FrameError("depth")
    fields = cls.FIELDS
    _, p = _list(buf, p, end, len(fields))
    obj = cls()
    for name, code in fields:
        if code in "oO":
            v, p = _octets(buf, p, end)
            if v is None and code == "O":
                v = b""
        elif code == "B" or code == "D":
            v, p = _uint(buf, p, end)
        elif code == "c":
            v, p = _sint(buf, p, end)
        elif code == "t":
            v, p = _time(buf, p, end)
        elif code == "S" or code == "v" or code == "b" or code == "g":
            if code == "v":
                v, k, p = _value(buf, p, end)
            else:
                v, k, p = _any(buf, p, end, depth + 1)
            if code == "S" and v is not None and not isinstance(v, int):
                raise FrameError("status")
            if code == "b" and v is not None and not isinstance(v, bool):
                raise FrameError("bool")
            if code in "Sv":
                setattr(obj, name + "_tl", k if v is not None else None)
        else:  # "l", "p", "P": lists read one element at a time
            if p < end and buf[p] == 0x01 and code == "P":
                v, p = [], p + 1
            else:
                n, p = _list(buf, p, end)
                v = []
                for _ in range(n):
                    if code == "P":
                        x, p = _octets(buf, p, end)
                        x = x or b""
                    else:
                        x, p = _obj(ListEntry if code == "l" else PeriodEntry, buf, p, end,
                                    depth + 1)
                    v.append(x)
        setattr(obj, name, v)
    return obj, p


_BY_TAG = {}
for _c in BODIES:
    _BY_TAG[_c.TAG] = _c


def decode_message(buf, p, end, check_crc=True):
    """(Message, next) for the SML_Message at buf[p]; FrameError("msg crc") on a bad CRC."""
    m0 = p
    _, p = _list(buf, p, end, 6)
    tx, p = _octets(buf, p, end)
    group, p = _uint(buf, p, end)
    abort, p = _uint(buf, p, end)
    _, p = _list(buf, p, end, 2)
    tag, p = _uint(buf, p, end, False)
    cls = _BY_TAG.get(tag)
    if cls is None:
        raw, _, p = _any(buf, p, end, 1)
        body = Unknown(tag, raw)
    else:
        body, p = _obj(cls, buf, p, end, 1)
    crc = crc16_x25(buf, m0, p)
    got, p = _uint(buf, p, end, False)
    # Sent low byte first, so as an Unsigned16 it reads byte-swapped (a leading 00 may be
    # dropped by a shortened 62 xx encoding).
    ok = got == ((crc & 0xFF) << 8) | (crc >> 8)
    if check_crc and not ok:
        raise FrameError("msg crc")
    if p >= end or buf[p] != 0x00:
        raise FrameError("end of message")
    m = Message(body, tx or b"", group or 0, abort or 0)
    m.crc_ok = ok
    return m, p + 1


def decode_messages(buf, start=0, end=None, check_crc=True):
    if end is None:
        end = len(buf)
    out = []
    p = start
    while p < end:
        m, p = decode_message(buf, p, end, check_crc)
        out.append(m)
    return out


def decode_frame(buf, start=0, end=None, check_crc=True):
    """All messages of one transport v1 frame in buf[start:end] (bytes or bytearray)."""
    body, s, e = tl.unframe(buf, start, end)
    return decode_messages(body, s, e, check_crc)
