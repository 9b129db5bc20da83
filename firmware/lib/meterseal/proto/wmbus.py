# Wireless M-Bus data link layer (EN 13757-4): the first block L C M A, frame formats A and B
# with their CRC-16/EN-13757 blocks. Pure codec: bytes in, values out, no I/O.
#
# A "link frame" here is the frame without its CRCs, as UART radio modules deliver and take it
# (docs/wmbus-radio.md): L C M(2) ID(4) VER TYPE CI ..., with L = number of bytes after L.
# On the air format A keeps L (it never counts CRCs); format B's L counts its CRC bytes.
#
#   off len field
#   0   1   L   length
#   1   1   C   control: 0x44 SND_NR (a meter's spontaneous data), 0x46 SND_IR, ...
#   2   2   M   manufacturer, little-endian, three 5-bit letters (EN 13757-3 / FLAG code)
#   4   4   ID  identification number, 8 BCD digits, least significant byte first
#   8   1   VER version (generation)
#   9   1   TYPE device type (medium: 0x03 gas, 0x07 water, ...)
#   10  1   CI  control information of the next layer (oms.py)
import binascii

from meterseal.compat import const
from meterseal.proto.crc import crc16_en13757
from meterseal.proto.mbus import FrameError  # noqa: F401  one error type for wired and wireless

SND_NKE = const(0x40)
SND_UD = const(0x53)
SND_NR = const(0x44)  # EN 13757-4: send / no reply, the meter's periodic telegram
SND_IR = const(0x46)  # send installation request
ACC_NR = const(0x47)
ACC_DMD = const(0x48)
RSP_UD = const(0x08)

HEADER_LEN = const(10)  # L C M A: the first block
_MIN_FRAME = const(11)  # the first block and a CI
_BLOCK = const(16)  # format A: data bytes per block after the first
_B_FIRST = const(126)  # format B: data bytes before the first CRC (blocks 1 and 2)
_MAX_L = const(255)


def manufacturer_code(letters):
    """'APA' -> 0x0601: (c - 64) in 5 bits per letter (EN 13757-3 6.3.1, the FLAG code);
    FrameError("manufacturer") unless three letters A-Z."""
    v = 0
    for ch in letters if len(letters) == 3 else "":
        o = ord(ch) - 64
        if o < 1 or o > 26:
            break
        v = v << 5 | o
    else:
        if len(letters) == 3:
            return v
    raise FrameError("manufacturer")


def manufacturer_letters(code):
    """0x0601 -> 'APA' (bit 15, unused by the letters, is ignored)."""
    return chr(((code >> 10) & 0x1F) + 64) + chr(((code >> 5) & 0x1F) + 64) + chr((code & 0x1F) + 64)


def id_bytes(ident):
    """'12345678' (8 digits) -> b'\\x78\\x56\\x34\\x12' (BCD, LSB first as on the wire)."""
    if len(ident) != 8:
        raise ValueError("ID must be 8 digits")
    return bytes(reversed(binascii.unhexlify(ident)))


def id_str(buf, start):
    """The 4-byte ID at buf[start:] as its 8 digits, most significant first. Non-BCD nibbles
    (seen in the field) come out as hex letters instead of failing."""
    return binascii.hexlify(bytes((buf[start + 3], buf[start + 2], buf[start + 1],
                                   buf[start]))).decode().upper()


def meter_key_name(manufacturer, ident):
    """The name the key table uses for a meter: 'APA88888888' (manufacturer letters + ID)."""
    return manufacturer_letters(manufacturer) + ident


def encode(c, manufacturer, ident, version, device_type, body):
    """The link frame L C M A body (no CRCs); body starts with the CI field."""
    n = HEADER_LEN - 1 + len(body)
    if n > _MAX_L:
        raise ValueError("telegram too long for one frame")
    out = bytearray(n + 1)
    out[0] = n
    out[1] = c
    out[2] = manufacturer & 0xFF
    out[3] = manufacturer >> 8
    out[4:8] = id_bytes(ident)
    out[8] = version
    out[9] = device_type
    out[10:] = body
    return bytes(out)


def decode_header(buf, start=0, end=None):
    """(C, manufacturer, ID digits, version, device type) of a link frame buf[start:end]; checks
    that L matches the length. The CI is at start + HEADER_LEN."""
    if end is None:
        end = len(buf)
    if end - start < _MIN_FRAME:
        raise FrameError("short")
    if buf[start] != end - start - 1:
        raise FrameError("length")
    return (buf[start + 1], buf[start + 2] | buf[start + 3] << 8, id_str(buf, start + 4),
            buf[start + 8], buf[start + 9])


def _put_crc(out, pos, data, a, b):
    c = crc16_en13757(data, a, b)
    out[pos] = c >> 8  # EN 13757-4: the link layer CRC goes most significant byte first
    out[pos + 1] = c & 0xFF


def _check_crc(buf, a, b):
    c = crc16_en13757(buf, a, b)
    if buf[b] != c >> 8 or buf[b + 1] != c & 0xFF:
        raise FrameError("crc")


def add_crc_a(frame):
    """Format A (EN 13757-4 5.5.2): a CRC after the first 10 bytes and after every 16 bytes."""
    n = len(frame)
    if n < _MIN_FRAME or frame[0] != n - 1:
        raise ValueError("not a link frame")
    nblocks = 1 + (n - HEADER_LEN + _BLOCK - 1) // _BLOCK
    out = bytearray(n + 2 * nblocks)
    src = 0
    dst = 0
    size = HEADER_LEN
    while src < n:
        m = min(size, n - src)
        out[dst:dst + m] = frame[src:src + m]
        _put_crc(out, dst + m, frame, src, src + m)
        src += m
        dst += m + 2
        size = _BLOCK
    return bytes(out)


def strip_crc_a(buf, start=0, end=None):
    """Check and remove format A CRCs: the link frame (L unchanged: it never counts CRCs)."""
    if end is None:
        end = len(buf)
    if end - start < HEADER_LEN + 2:
        raise FrameError("short")
    n = buf[start] + 1
    if n < _MIN_FRAME:
        raise FrameError("length")
    nblocks = 1 + (n - HEADER_LEN + _BLOCK - 1) // _BLOCK
    if end - start != n + 2 * nblocks:
        raise FrameError("length")
    out = bytearray(n)
    src = start
    dst = 0
    size = HEADER_LEN
    while dst < n:
        m = min(size, n - dst)
        _check_crc(buf, src, src + m)
        out[dst:dst + m] = buf[src:src + m]
        src += m + 2
        dst += m
        size = _BLOCK
    return bytes(out)


def add_crc_b(frame):
    """Format B (EN 13757-4 5.5.3): one CRC after the first 126 bytes (blocks 1 and 2) or at the
    end if the frame is shorter, a second one after block 3; L counts the CRC bytes."""
    n = len(frame)
    if n < _MIN_FRAME or frame[0] != n - 1:
        raise ValueError("not a link frame")
    ncrc = 1 if n <= _B_FIRST else 2
    if n - 1 + 2 * ncrc > _MAX_L:
        raise ValueError("telegram too long for one frame")
    out = bytearray(n + 2 * ncrc)
    if ncrc == 1:
        out[0:n] = frame
        out[0] = n + 1
        _put_crc(out, n, out, 0, n)
    else:
        out[0:_B_FIRST] = frame[0:_B_FIRST]
        out[_B_FIRST + 2:n + 2] = frame[_B_FIRST:]
        out[0] = n + 3
        _put_crc(out, _B_FIRST, out, 0, _B_FIRST)
        _put_crc(out, n + 2, out, _B_FIRST + 2, n + 2)
    return bytes(out)


def strip_crc_b(buf, start=0, end=None):
    """Check and remove format B CRCs: the link frame with L reduced by the CRC bytes."""
    if end is None:
        end = len(buf)
    total = end - start
    if total < _MIN_FRAME + 2 or buf[start] != total - 1:
        raise FrameError("length")
    if total <= _B_FIRST + 2:
        _check_crc(buf, start, end - 2)
        out = bytearray(buf[start:end - 2])
    else:
        if total < _B_FIRST + 5:  # block 3 must hold at least one byte
            raise FrameError("length")
        _check_crc(buf, start, start + _B_FIRST)
        _check_crc(buf, start + _B_FIRST + 2, end - 2)
        out = bytearray(buf[start:start + _B_FIRST])
        out += buf[start + _B_FIRST + 2:end - 2]
    out[0] = len(out) - 1
    return bytes(out)
