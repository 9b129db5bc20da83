# SML 1.04 (BSI TR-03109-1 Anlage IV, "SML - Smart Message Language" v1.04): the type-length
# field (section 6.3.1) and the transport protocol version 1 (section 8.1: escape sequences,
# padding, frame CRC). sml.py builds the messages on top of this.
#
#   1B1B1B1B 01010101 | message ... | 00 x pp | 1B1B1B1B 1A pp c0 c1
#
# c0 c1 is CRC-16/X-25 over all bytes before it, low byte first (the SML transport sends the
# ISO 13239 FCS LSB first; libsml and SmlLib store it byte-swapped as a big-endian Unsigned16).
# A literal 1B1B1B1B inside the data is sent twice. Like SmlLib and sml-rs we escape and
# unescape wherever the sequence occurs, not only on 4-byte boundaries (libsml reads in
# 4-byte steps; the two readings differ only for an unaligned 1B1B1B1B, which SML messages
# practically never contain outside of signatures).
from meterseal.compat import const
from meterseal.proto.crc import crc16_x25

T_OCTETS = const(0x00)
T_BOOL = const(0x40)
T_INT = const(0x50)
T_UINT = const(0x60)
T_LIST = const(0x70)
T_END = const(0x100)  # the 00 byte: EndOfSmlMsg

# Integer kinds: the TL byte of the nominal SML types (length includes the TL byte).
U8 = const(0x62)
U16 = const(0x63)
U32 = const(0x65)
U64 = const(0x69)
I8 = const(0x52)
I16 = const(0x53)
I32 = const(0x55)
I64 = const(0x59)

_MAX_TL_BYTES = const(4)  # 16 length bits: far more than any frame we accept
ESC = b"\x1b\x1b\x1b\x1b"
START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
_MAX_FRAME = const(8192)


class FrameError(ValueError):
    """Malformed SML: args[0] is a short constant reason ("crc", "escape", "length", ...)."""


# ---- TL field (section 6.3.1) ----

def read_tl(buf, pos, end):
    """(type, n, data_pos) of the TL at pos. n = data bytes (element count for lists).

    The claimed length is checked against `end` here, so callers never slice or allocate from
    an unchecked length. 00 gives (T_END, 0, pos+1); 01 an octet string of 0 bytes ("absent").
    """
    if pos >= end:
        raise FrameError("truncated")
    b = buf[pos]
    if b == 0:
        return T_END, 0, pos + 1
    typ = b & 0x70
    n = b & 0x0F
    p = pos + 1
    while b & 0x80:
        if p >= end or p - pos >= _MAX_TL_BYTES:
            raise FrameError("tl")
        b = buf[p]
        if b & 0x70:  # continuation TL bytes carry type 000
            raise FrameError("tl")
        n = (n << 4) | (b & 0x0F)
        p += 1
    if typ == T_LIST:
        if n > end - p:  # every element takes at least one byte
            raise FrameError("length")
        return typ, n, p
    n -= p - pos  # the length counts the TL bytes themselves
    if n < 0:
        raise FrameError("tl")
    if p + n > end:
        raise FrameError("length")
    if typ == T_OCTETS:
        return typ, n, p
    if typ == T_BOOL:
        if n != 1:
            raise FrameError("bool")
        return typ, n, p
    if typ == T_INT or typ == T_UINT:
        if n < 1 or n > 8:
            raise FrameError("int length")
        return typ, n, p
    raise FrameError("type")


def get_uint(buf, p, n):
    v = 0
    for i in range(p, p + n):
        v = (v << 8) | buf[i]
    return v


def get_int(buf, p, n):
    v = get_uint(buf, p, n)
    if buf[p] & 0x80:
        v -= 1 << (8 * n)
    return v


def put_tl(out, typ, n):
    """Append the TL for `typ` with n data bytes (lists: n elements)."""
    if typ == T_LIST:
        total = n
        k = 1
        while total >> (4 * k):
            k += 1
    else:
        k = 1
        while n + k > (1 << (4 * k)) - 1:
            k += 1
        total = n + k
    for i in range(k - 1, -1, -1):
        nib = (total >> (4 * i)) & 0x0F
        if i == k - 1:
            nib |= typ
        if i:
            nib |= 0x80
        out.append(nib)


def put_octets(out, data):
    if data is None:
        out.append(0x01)
        return
    put_tl(out, T_OCTETS, len(data))
    out.extend(data)


def put_int(out, v, kind):
    """Integer v as the SML type whose TL byte is `kind` (U8..U64, I8..I64, or a shortened
    form such as 0x64 for a 3-byte unsigned)."""
    n = (kind & 0x0F) - 1
    if kind & 0x70 == T_UINT:
        if v < 0 or v >> (8 * n):
            raise ValueError("value out of range")
    elif kind & 0x70 == T_INT:
        lim = 1 << (8 * n - 1)
        if v < -lim or v >= lim:
            raise ValueError("value out of range")
        v &= (1 << (8 * n)) - 1
    else:
        raise ValueError("not an integer kind")
    out.append(kind)
    for i in range(n - 1, -1, -1):
        out.append((v >> (8 * i)) & 0xFF)


def int_kind(v):
    """The smallest nominal type for v: UnsignedN for v >= 0, IntegerN for v < 0."""
    if v >= 0:
        for k in (U8, U16, U32, U64):
            if not v >> (8 * ((k & 0x0F) - 1)):
                return k
    else:
        for k in (I8, I16, I32, I64):
            if v >= -(1 << (8 * ((k & 0x0F) - 1) - 1)):
                return k
    raise ValueError("value out of range")


# ---- transport v1 (section 8.1) ----

def _crc_bytes(crc):
    return bytes((crc & 0xFF, crc >> 8))


def finish_frame(out):
    """Turn bytearray `out` = START + messages into a complete frame, in place when it holds no
    escape sequence. Returns the frame (out itself, or a new bytearray)."""
    j = out.find(ESC, 8)
    if j >= 0:
        esc = bytearray(out[:8])
        i = 8
        while j >= 0:
            esc.extend(out[i : j + 4])
            esc.extend(ESC)
            i = j + 4
            j = out.find(ESC, i)
        esc.extend(out[i:])
        out = esc
    pad = (-len(out)) & 3
    for _ in range(pad):
        out.append(0)
    out.extend(ESC)
    out.append(0x1A)
    out.append(pad)
    out.extend(_crc_bytes(crc16_x25(out)))
    return out


def unframe(buf, start=0, end=None):
    """Check one complete frame in buf[start:end] (bytes or bytearray); returns (body, s, e):
    the unescaped messages are body[s:e]. body is buf itself when nothing was escaped."""
    if end is None:
        end = len(buf)
    n = end - start
    if n < 16:
        raise FrameError("truncated")
    if buf[start : start + 8] != START:
        raise FrameError("start")
    if n & 3:
        raise FrameError("alignment")
    if buf[end - 8 : end - 4] != ESC or buf[end - 4] != 0x1A:
        raise FrameError("end")
    crc = crc16_x25(buf, start, end - 2)
    if buf[end - 2] != crc & 0xFF or buf[end - 1] != crc >> 8:
        raise FrameError("crc")
    s = start + 8
    e = end - 8
    pad = buf[end - 3]
    j = buf.find(ESC, s, e)
    if j >= 0:
        body = bytearray()
        i = s
        while j >= 0:
            if j + 8 > e or buf[j + 4 : j + 8] != ESC:
                raise FrameError("escape")
            body.extend(buf[i : j + 4])
            i = j + 8
            j = buf.find(ESC, i, e)
        body.extend(buf[i:e])
        buf, s, e = body, 0, len(body)
    if pad > e - s:
        raise FrameError("padding")
    for i in range(e - pad, e):
        if buf[i]:
            raise FrameError("padding")
    return buf, s, e - pad


class FrameReader:
    """Finds complete frames in a byte stream (a UART), holding at most max_frame bytes.

    feed(data) appends; next_frame() returns one complete frame (bytes, still escaped: pass it
    to sml.decode_frame) or None when more input is needed, and raises FrameError("too long"),
    ("escape") or ("restart") for a frame it drops; it resynchronises on the next start.
    """

    def __init__(self, max_frame=2048):
        self._buf = bytearray()
        self._scan = 8
        self._max = min(max_frame, _MAX_FRAME)

    def feed(self, data):
        self._buf.extend(data)

    def _drop(self, n, reason):
        self._buf = self._buf[n:]
        self._scan = 8
        if reason:
            raise FrameError(reason)

    def next_frame(self):
        b = self._buf
        k = b.find(START)
        if k < 0:
            if len(b) > 7:  # keep a possible partial start sequence
                self._buf = b[len(b) - 7 :]
            return None
        if k:
            self._buf = b = b[k:]
            self._scan = 8
        while True:
            j = b.find(ESC, self._scan)
            k = (-j) & 3  # data may end in 1-3 1B bytes before the aligned end sequence
            if j < 0 or j + k + 8 > len(b):
                if len(b) > self._max:
                    self._drop(1, "too long")
                self._scan = max(8, len(b) - 3) if j < 0 else j
                return None
            nxt = b[j + 4 : j + 8]
            if nxt == ESC:
                self._scan = j + 8
                continue
            if nxt == START[4:]:
                self._drop(j, "restart")
            if b[j + k : j + k + 4] == ESC and b[j + k + 4] == 0x1A:
                frame = bytes(b[: j + k + 8])
                self._drop(j + k + 8, None)
                return frame
            self._drop(1, "escape")


# Build the CRC table (512 bytes of small ints in a tuple) at import, while the heap is still in
# one piece: made lazily after ECDSA has built its tables, its 2 KB list may find no room.
crc16_x25(b"")
