# Deterministic CBOR (RFC 8949) for signed commands, manifests and the console protocol.
#
# The encoder writes only "core deterministic encoding" (RFC 8949 section 4.2.1): shortest
# arguments, definite lengths, map keys sorted by the bytes of their encodings. The decoder is
# strict and accepts exactly that form, so every value has one encoding and a signature over bytes
# is a signature over one meaning (S1). Supported: int in [-2^64, 2^64-1], bytes, str, list/tuple,
# dict (keys int, str or bytes), True/False/None and Tag. Floats and other simple values are
# rejected: no MeterSeal format uses them, and their preferred serialisation is not worth the code.
import struct

from meterseal.compat import IS_MICROPYTHON, const
from meterseal.crypto.errors import DecodeError

# Major types (RFC 8949 section 3.1), pre-shifted into the initial byte.
_MT_UINT = const(0x00)
_MT_NINT = const(0x20)
_MT_BSTR = const(0x40)
_MT_TSTR = const(0x60)
_MT_ARRAY = const(0x80)
_MT_MAP = const(0xA0)
_MT_TAG = const(0xC0)
_MT_SIMPLE = const(0xE0)
# Simple values (section 3.3).
_FALSE = const(0xF4)
_TRUE = const(0xF5)
_NULL = const(0xF6)
# Additional information 24..27: 1, 2, 4, 8 argument bytes follow; 28..30 reserved; 31 indefinite.
_AI_1 = const(24)
_AI_2 = const(25)
_AI_4 = const(26)
_AI_8 = const(27)
_AI_INDEF = const(31)

MAX_DEPTH = 16  # nesting limit of the decoder; our deepest format (COSE x5chain) uses 3
_U64 = 0xFFFFFFFFFFFFFFFF


class Tag:
    """A tagged data item (RFC 8949 section 3.4): Tag(18, [...]) is a COSE_Sign1."""

    __slots__ = ("tag", "value")

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and self.tag == other.tag and self.value == other.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.tag)

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


# ---------------------------------------------------------------------------------- encoder


def head(major, n):
    """The initial byte plus the shortest argument (section 4.2.1) for major type `major`."""
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return struct.pack(">BB", major | _AI_1, n)
    if n < 0x10000:
        return struct.pack(">BH", major | _AI_2, n)
    if n < 0x100000000:
        return struct.pack(">BI", major | _AI_4, n)
    if n <= _U64:
        return struct.pack(">BQ", major | _AI_8, n)
    raise ValueError("cbor: argument beyond 64 bits")


def _key_ok(k):
    # bool is excluded on purpose: True == 1 in Python dicts, so it would collide with int keys.
    return (isinstance(k, (int, str, bytes))) and k is not True and k is not False


def encode_into(out, obj, _depth=0):
    """Append the deterministic encoding of obj to the bytearray `out` (no intermediate copies)."""
    if _depth > MAX_DEPTH:
        raise ValueError("cbor: nested too deeply")
    if obj is True:
        out.append(_TRUE)
    elif obj is False:
        out.append(_FALSE)
    elif obj is None:
        out.append(_NULL)
    elif isinstance(obj, int):
        if obj >= 0:
            out.extend(head(_MT_UINT, obj))
        else:
            # Negative n is carried as -1 - n (section 3.1, major type 1).
            out.extend(head(_MT_NINT, -1 - obj))
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        out.extend(head(_MT_BSTR, len(obj)))
        out.extend(obj)
    elif isinstance(obj, str):
        b = obj.encode("utf-8")
        out.extend(head(_MT_TSTR, len(b)))
        out.extend(b)
    elif isinstance(obj, (list, tuple)):
        out.extend(head(_MT_ARRAY, len(obj)))
        for item in obj:
            encode_into(out, item, _depth + 1)
    elif isinstance(obj, dict):
        _encode_map(out, obj, _depth)
    elif isinstance(obj, Tag):
        out.extend(head(_MT_TAG, obj.tag))
        encode_into(out, obj.value, _depth + 1)
    else:
        # Floats land here too: rejected rather than encoded non-deterministically.
        raise ValueError("cbor: cannot encode " + type(obj).__name__)


def _encode_map(out, obj, depth):
    # Section 4.2.1: keys sorted by the bytewise lexicographic order of their encodings. Keys are
    # short, so encode each one alone, sort, then append keys and values in that order.
    keys = []
    for k in obj:
        if not _key_ok(k):
            raise ValueError("cbor: map key type " + type(k).__name__)
        kb = bytearray()
        encode_into(kb, k, depth + 1)
        keys.append((bytes(kb), k))
    keys.sort(key=_first)
    out.extend(head(_MT_MAP, len(keys)))
    prev = None
    for kb, k in keys:
        if kb == prev:
            raise ValueError("cbor: duplicate map key")
        prev = kb
        out.extend(kb)
        encode_into(out, obj[k], depth + 1)


def _first(pair):
    return pair[0]


def dumps(obj):
    """Deterministic CBOR bytes of obj; ValueError for anything outside the supported subset."""
    out = bytearray()
    encode_into(out, obj)
    return bytes(out)


# ---------------------------------------------------------------------------------- decoder


def loads(buf):
    """Decode exactly one data item filling all of buf; DecodeError("reason") otherwise."""
    obj, pos = decode(buf, 0, len(buf))
    if pos != len(buf):
        raise DecodeError("trailing bytes")
    return obj


def decode(buf, start=0, end=None):
    """Decode one data item from buf[start:end]; returns (obj, next_pos). Strict (see module)."""
    if end is None:
        end = len(buf)
    if start < 0 or end > len(buf) or start > end:
        raise DecodeError("bad range")
    return _item(buf, start, end, 0)


def read_head(buf, pos, end):
    """(major << 5, argument, next_pos) of the head at buf[pos]; rejects non-shortest arguments,
    reserved and indefinite-length additional information (sections 3, 3.2, 4.2.1)."""
    if pos >= end:
        raise DecodeError("truncated")
    ib = buf[pos]
    major = ib & 0xE0
    ai = ib & 0x1F
    pos += 1
    if ai < _AI_1:
        return major, ai, pos
    if ai == _AI_1:
        if pos + 1 > end:
            raise DecodeError("truncated")
        n = buf[pos]
        if n < 24:
            raise DecodeError("non-shortest argument")
        return major, n, pos + 1
    if ai == _AI_2:
        if pos + 2 > end:
            raise DecodeError("truncated")
        n = struct.unpack_from(">H", buf, pos)[0]
        if n < 0x100:
            raise DecodeError("non-shortest argument")
        return major, n, pos + 2
    if ai == _AI_4:
        if pos + 4 > end:
            raise DecodeError("truncated")
        n = struct.unpack_from(">I", buf, pos)[0]
        if n < 0x10000:
            raise DecodeError("non-shortest argument")
        return major, n, pos + 4
    if ai == _AI_8:
        if pos + 8 > end:
            raise DecodeError("truncated")
        n = struct.unpack_from(">Q", buf, pos)[0]
        if n < 0x100000000:
            raise DecodeError("non-shortest argument")
        return major, n, pos + 8
    if ai == _AI_INDEF:
        raise DecodeError("indefinite length")
    raise DecodeError("reserved additional info")


def _item(buf, pos, end, depth):
    if depth > MAX_DEPTH:
        raise DecodeError("nested too deeply")
    if pos < end and buf[pos] >= _MT_SIMPLE:
        return _simple(buf[pos]), pos + 1
    major, n, pos = read_head(buf, pos, end)
    if major == _MT_UINT:
        return n, pos
    if major == _MT_NINT:
        return -1 - n, pos
    if major == _MT_BSTR or major == _MT_TSTR:
        # The claimed length is checked against what is left before anything is allocated.
        if n > end - pos:
            raise DecodeError("truncated")
        stop = pos + n
        if major == _MT_BSTR:
            return bytes(buf[pos:stop]), stop
        return _utf8(buf, pos, stop), stop
    if major == _MT_ARRAY:
        if n > end - pos:  # every item takes at least one byte
            raise DecodeError("truncated")
        items = []
        for _ in range(n):
            v, pos = _item(buf, pos, end, depth + 1)
            items.append(v)
        return items, pos
    if major == _MT_MAP:
        return _map(buf, pos, end, depth, n)
    if major == _MT_TAG:
        v, pos = _item(buf, pos, end, depth + 1)
        return Tag(n, v), pos
    raise DecodeError("unreachable")  # all eight major types are handled above


def _simple(ib):
    # Major type 7 (section 3.3): only false, true and null are in our subset. Floats (ai 25..27),
    # undefined, one-byte simple values (ai 24) and the break code (0xff) are refused.
    if ib == _FALSE:
        return False
    if ib == _TRUE:
        return True
    if ib == _NULL:
        return None
    if ib == 0xFF:
        raise DecodeError("indefinite length")
    if ib >= 0xFC:
        raise DecodeError("reserved additional info")
    if ib >= 0xF9:
        raise DecodeError("float")
    raise DecodeError("unsupported simple value")


def _map(buf, pos, end, depth, n):
    if 2 * n > end - pos:
        raise DecodeError("truncated")
    d = {}
    prev = None
    for _ in range(n):
        kstart = pos
        k, pos = _item(buf, pos, end, depth + 1)
        if not _key_ok(k):
            raise DecodeError("map key type")
        kb = bytes(buf[kstart:pos])
        # Section 4.2.1: strictly increasing encodings also exclude duplicates (section 5.6).
        if prev is not None and kb <= prev:
            raise DecodeError("duplicate map key" if kb == prev else "unsorted map keys")
        prev = kb
        v, pos = _item(buf, pos, end, depth + 1)
        d[k] = v
    return d, pos


def _utf8(buf, pos, stop):
    raw = bytes(buf[pos:stop])
    try:
        s = str(raw, "utf-8")
    except Exception:
        raise DecodeError("invalid utf-8")
    # CPython's decoder is strict already. MicroPython's accepts overlong forms, surrogates and
    # code points past U+10FFFF; its len() counts characters, so an all-ASCII string (the usual
    # case) is recognised without a loop, and only the rest goes through the RFC 3629 check.
    if IS_MICROPYTHON and len(s) != len(raw):
        _check_utf8(raw)
    return s


def _check_utf8(b):
    # RFC 3629 section 4, the well-formed byte sequences table.
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif c == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF
        elif 0xE1 <= c <= 0xEC or c == 0xEE or c == 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif c == 0xED:
            need, lo, hi = 2, 0x80, 0x9F  # excludes the surrogates D800..DFFF
        elif c == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF
        elif 0xF1 <= c <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif c == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F  # nothing past U+10FFFF
        else:
            raise DecodeError("invalid utf-8")
        if i + need >= n:
            raise DecodeError("invalid utf-8")
        c = b[i + 1]
        if c < lo or c > hi:
            raise DecodeError("invalid utf-8")
        for j in range(i + 2, i + need + 1):
            if b[j] & 0xC0 != 0x80:
                raise DecodeError("invalid utf-8")
        i += need + 1
