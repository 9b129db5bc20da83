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
    out = bytearray()
    put_head(out, major, n)
    return bytes(out)


def put_head(out, major, n):
    """Append the head of `major` with argument n in its shortest form to the bytearray out."""
    if n < 24:
        out.append(major | n)  # no allocation for the common small case
    elif n < 0x100:
        out.append(major | _AI_1)
        out.append(n)
    elif n < 0x10000:
        out.extend(struct.pack(">BH", major | _AI_2, n))
    elif n < 0x100000000:
        out.extend(struct.pack(">BI", major | _AI_4, n))
    elif n <= _U64:
        out.extend(struct.pack(">BQ", major | _AI_8, n))
    else:
        raise ValueError("cbor: argument beyond 64 bits")


# Made once: MicroPython would build a new tuple for every isinstance(x, (a, b)) call.
_BYTES_LIKE = (bytes, bytearray, memoryview)
_SEQUENCE = (list, tuple)
_KEY_TYPES = (int, str, bytes)


def _key_ok(k):
    # bool is excluded on purpose: True == 1 in Python dicts, so it would collide with int keys.
    return isinstance(k, _KEY_TYPES) and k is not True and k is not False


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
            put_head(out, _MT_UINT, obj)
        else:
            # Negative n is carried as -1 - n (section 3.1, major type 1).
            put_head(out, _MT_NINT, -1 - obj)
    elif isinstance(obj, _BYTES_LIKE):
        put_head(out, _MT_BSTR, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        b = obj.encode("utf-8")
        put_head(out, _MT_TSTR, len(b))
        out.extend(b)
    elif isinstance(obj, _SEQUENCE):
        put_head(out, _MT_ARRAY, len(obj))
        for item in obj:
            encode_into(out, item, _depth + 1)
    elif isinstance(obj, dict):
        _encode_map(out, obj, _depth)
    elif isinstance(obj, Tag):
        put_head(out, _MT_TAG, obj.tag)
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
        keys.append((kb, k))
    if len(keys) > 1:
        keys.sort(key=_first)
    put_head(out, _MT_MAP, len(keys))
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
    r = _Reader(buf, 0, len(buf))
    obj = r.item(0)
    if r.pos != len(buf):
        raise DecodeError("trailing bytes")
    return obj


def decode(buf, start=0, end=None):
    """Decode one data item from buf[start:end]; returns (obj, next_pos). Strict (see module)."""
    if end is None:
        end = len(buf)
    if start < 0 or end > len(buf) or start > end:
        raise DecodeError("bad range")
    r = _Reader(buf, start, end)
    obj = r.item(0)
    return obj, r.pos


def read_head(buf, pos, end):
    """(major << 5, argument, next_pos) of the head at buf[pos], for callers that walk a stream
    themselves; same checks as the decoder."""
    r = _Reader(buf, pos, end)
    if pos < end and buf[pos] >= _MT_SIMPLE:
        raise DecodeError("not a head")  # major type 7 has no argument in our subset
    n = r.head()
    return r.major, n, r.pos


class _Reader:
    # One object per decode, holding the position, so that no (value, pos) tuple is allocated
    # per item: on a 128 KiB heap that garbage is what costs.
    __slots__ = ("buf", "pos", "end", "major")

    def __init__(self, buf, pos, end):
        self.buf = buf
        self.pos = pos
        self.end = end
        self.major = 0

    def head(self):
        # Sections 3 and 3.2: additional info < 24 is the argument, 24..27 announce 1, 2, 4, 8
        # bytes, 28..30 are reserved, 31 is indefinite length. Section 4.2.1 (preferred
        # serialisation): an argument must not fit in a shorter form.
        buf = self.buf
        pos = self.pos
        if pos >= self.end:
            raise DecodeError("truncated")
        ib = buf[pos]
        self.major = ib & 0xE0
        ai = ib & 0x1F
        pos += 1
        if ai < _AI_1:
            self.pos = pos
            return ai
        if ai == _AI_1:
            size = 1
            low = 24
        elif ai == _AI_2:
            size = 2
            low = 0x100
        elif ai == _AI_4:
            size = 4
            low = 0x10000
        elif ai == _AI_8:
            size = 8
            low = 0x100000000
        elif ai == _AI_INDEF:
            raise DecodeError("indefinite length")
        else:
            raise DecodeError("reserved additional info")
        if pos + size > self.end:
            raise DecodeError("truncated")
        if size == 8:
            n = struct.unpack_from(">Q", buf, pos)[0]
        else:
            n = 0
            for i in range(pos, pos + size):
                n = (n << 8) | buf[i]
        if n < low:
            raise DecodeError("non-shortest argument")
        self.pos = pos + size
        return n

    def item(self, depth):
        if depth > MAX_DEPTH:
            raise DecodeError("nested too deeply")
        if self.pos < self.end and self.buf[self.pos] >= _MT_SIMPLE:
            self.pos += 1
            return _simple(self.buf[self.pos - 1])
        n = self.head()
        major = self.major
        if major == _MT_UINT:
            return n
        if major == _MT_NINT:
            return -1 - n
        pos = self.pos
        if major == _MT_BSTR or major == _MT_TSTR:
            # The claimed length is checked against what is left before anything is allocated.
            if n > self.end - pos:
                raise DecodeError("truncated")
            self.pos = pos + n
            if major == _MT_BSTR:
                return bytes(self.buf[pos : pos + n])
            return _utf8(self.buf, pos, pos + n)
        if major == _MT_ARRAY:
            if n > self.end - pos:  # every item takes at least one byte
                raise DecodeError("truncated")
            items = []
            for _ in range(n):
                items.append(self.item(depth + 1))
            return items
        if major == _MT_MAP:
            return self.map(depth, n)
        # major == _MT_TAG: the only one left, simple values were handled first.
        return Tag(n, self.item(depth + 1))

    def map(self, depth, n):
        if 2 * n > self.end - self.pos:
            raise DecodeError("truncated")
        buf = self.buf
        d = {}
        pstart = pend = 0
        for i in range(n):
            kstart = self.pos
            k = self.item(depth + 1)
            if not _key_ok(k):
                raise DecodeError("map key type")
            kend = self.pos
            # Section 4.2.1: strictly increasing key encodings, which also excludes duplicates
            # (section 5.6). Compared in place: no copy of either key.
            if i:
                c = _compare(buf, pstart, pend, kstart, kend)
                if c >= 0:
                    raise DecodeError("duplicate map key" if c == 0 else "unsorted map keys")
            pstart = kstart
            pend = kend
            d[k] = self.item(depth + 1)
        return d


def _compare(buf, a, a_end, b, b_end):
    # Bytewise lexicographic order of buf[a:a_end] and buf[b:b_end]: -1, 0 or 1.
    while a < a_end and b < b_end:
        x = buf[a]
        y = buf[b]
        if x != y:
            return -1 if x < y else 1
        a += 1
        b += 1
    if a < a_end:
        return 1
    return -1 if b < b_end else 0


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
