# The project's only DER reader and writer (ITU-T X.690 section 10, Distinguished Encoding Rules).
#
# Readers work in place: every function takes (buf, pos, end) over bytes, bytearray or memoryview and
# returns offsets, never slices of the input, so a certificate is parsed where it lies in RAM.
# Anything that is not strict DER raises DecodeError with a short reason:
#   "truncated"   a TLV runs past `end` (or there is nothing where one is needed)
#   "length"      indefinite, non-minimal, reserved or oversized length octets
#   "tag"         high-tag-number form, or not the tag that the structure requires
#   "integer"     empty or non-minimal INTEGER, or negative where a positive one is required
#   "trailing"    bytes left over after a complete structure
#   "oid", "boolean", "bitstring", "time"  a malformed value of that type
from meterseal.compat import const
from meterseal.civil import days_from_civil  # noqa: F401  (der.days_from_civil)
from meterseal.crypto.errors import DecodeError

# Universal tags (X.680 section 8.4) and the context-specific forms X.509 uses.
BOOLEAN = const(0x01)
INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)
UTF8_STRING = const(0x0C)
PRINTABLE_STRING = const(0x13)
IA5_STRING = const(0x16)
UTC_TIME = const(0x17)
GENERALIZED_TIME = const(0x18)
SEQUENCE = const(0x30)
SET = const(0x31)

# Lengths above 2**24 cannot occur on a board with a few hundred KiB of RAM; refusing more than
# three length octets keeps the arithmetic small-int on every port.
_MAX_LEN_OCTETS = const(3)
# Every OID in our profile is under 25 octets (the role OID, a 128-bit UUID arc, takes 20).
_MAX_OID_OCTETS = const(64)


def read_tlv(buf, pos, end):
    """Read one TLV at buf[pos:end]: return (tag, value_start, value_end)."""
    if pos + 2 > end:
        raise DecodeError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        # X.690 8.1.2.4: high-tag-number form; nothing in our profile uses tag numbers >= 31.
        raise DecodeError("tag")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0:
            # X.690 10.1: DER uses the definite form only (0x80 is the indefinite form).
            raise DecodeError("length")
        if n > _MAX_LEN_OCTETS:
            raise DecodeError("length")  # also catches the reserved 0xFF (X.690 8.1.3.5 c)
        if pos + n > end:
            raise DecodeError("truncated")
        if buf[pos] == 0:
            raise DecodeError("length")  # X.690 10.1: the fewest octets, so no leading zero
        length = 0
        for i in range(n):
            length = (length << 8) | buf[pos + i]
        pos += n
        if length < 0x80:
            raise DecodeError("length")  # the short form was mandatory
    if length > end - pos:
        raise DecodeError("truncated")
    return tag, pos, pos + length


def expect(buf, pos, end, tag):
    """read_tlv that also requires `tag`: return (value_start, value_end)."""
    t, s, e = read_tlv(buf, pos, end)
    if t != tag:
        raise DecodeError("tag")
    return s, e


def read_all(buf, tag, start=0, end=None):
    """The one TLV of type `tag` that must fill buf[start:end] exactly: (value_start, value_end)."""
    if end is None:
        end = len(buf)
    s, e = expect(buf, start, end, tag)
    if e != end:
        raise DecodeError("trailing")
    return s, e


def integer_value(buf, start, end, signed=False):
    """Value of INTEGER content octets buf[start:end] (X.690 8.3: minimal two's complement)."""
    n = end - start
    if n <= 0:
        raise DecodeError("integer")
    b0 = buf[start]
    if n > 1:
        b1 = buf[start + 1]
        # X.690 8.3.2: the first nine bits must not be all zeros or all ones.
        if (b0 == 0 and b1 < 0x80) or (b0 == 0xFF and b1 >= 0x80):
            raise DecodeError("integer")
    if b0 >= 0x80 and not signed:
        raise DecodeError("integer")
    v = int.from_bytes(bytes(buf[start:end]), "big")
    if b0 >= 0x80:
        v -= 1 << (8 * n)  # MicroPython's from_bytes ignores `signed`: do it by hand
    return v


def read_integer(buf, pos, end, signed=False):
    """INTEGER TLV at pos: return (value, next_pos). Negative values raise unless signed=True."""
    s, e = expect(buf, pos, end, INTEGER)
    return integer_value(buf, s, e, signed), e


def read_boolean(buf, pos, end):
    """BOOLEAN TLV at pos: (value, next_pos). X.690 11.1: TRUE is 0xFF, nothing else."""
    s, e = expect(buf, pos, end, BOOLEAN)
    if e - s != 1:
        raise DecodeError("boolean")
    v = buf[s]
    if v == 0xFF:
        return True, e
    if v == 0:
        return False, e
    raise DecodeError("boolean")


def read_bit_string(buf, pos, end):
    """BIT STRING TLV at pos: (unused_bits, data_start, data_end, next_pos).

    X.690 8.6.2 / 11.2: the first content octet counts the unused bits (0-7), an empty string has
    none, and DER requires the unused bits to be zero.
    """
    s, e = expect(buf, pos, end, BIT_STRING)
    if s == e:
        raise DecodeError("bitstring")
    unused = buf[s]
    if unused > 7 or (unused and e - s == 1):
        raise DecodeError("bitstring")
    if unused and buf[e - 1] & ((1 << unused) - 1):
        raise DecodeError("bitstring")
    return unused, s + 1, e, e


def oid_str(buf, start, end):
    """Dotted string of OBJECT IDENTIFIER content octets (X.690 8.19)."""
    # An empty or unterminated OID is malformed; one over _MAX_OID_OCTETS is refused so a hostile
    # certificate cannot make us build (and print) a huge integer arc.
    if start >= end or end - start > _MAX_OID_OCTETS or buf[end - 1] & 0x80:
        raise DecodeError("oid")
    parts = []
    v = 0
    first = True
    fresh = True
    for i in range(start, end):
        c = buf[i]
        if fresh and c == 0x80:
            raise DecodeError("oid")  # 8.19.2: subidentifiers use the fewest octets
        v = (v << 7) | (c & 0x7F)
        fresh = not c & 0x80
        if fresh:
            if first:
                # 8.19.4: the first subidentifier packs the first two arcs as 40*X + Y.
                if v < 80:
                    parts.append(str(v // 40))
                    parts.append(str(v % 40))
                else:
                    parts.append("2")
                    parts.append(str(v - 80))
                first = False
            else:
                parts.append(str(v))
            v = 0
    return ".".join(parts)


def read_oid(buf, pos, end):
    """OBJECT IDENTIFIER TLV at pos: (dotted string, next_pos)."""
    s, e = expect(buf, pos, end, OID)
    return oid_str(buf, s, e), e


def decode_ecdsa_sig(sig_der):
    """(r, s) from an X.509/Wycheproof ECDSA-Sig-Value (RFC 3279 2.2.3).

    SEQUENCE { r INTEGER, s INTEGER }, strict DER, nothing trailing; negative integers raise
    DecodeError("integer"). Zero is a valid encoding: the 1..n-1 range check belongs to ECDSA.
    """
    s, e = read_all(sig_der, SEQUENCE)
    r, p = read_integer(sig_der, s, e)
    sv, p = read_integer(sig_der, p, e)
    if p != e:
        raise DecodeError("trailing")
    return r, sv



def _month_days(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _digits(buf, i, n):
    v = 0
    for k in range(i, i + n):
        c = buf[k] - 0x30
        if c < 0 or c > 9:
            raise DecodeError("time")
        v = v * 10 + c
    return v


def time_value(tag, buf, start, end):
    """Seconds since 1970 UTC of a UTCTime or GeneralizedTime value.

    RFC 5280 4.1.2.5.1/4.1.2.5.2 (and X.690 11.7/11.8): "YYMMDDHHMMSSZ" or "YYYYMMDDHHMMSSZ", always
    with seconds, always Z, no fraction. A UTCTime year YY >= 50 is 19YY, else 20YY.
    """
    n = end - start
    if tag == UTC_TIME:
        if n != 13:
            raise DecodeError("time")
        y = _digits(buf, start, 2)
        y += 1900 if y >= 50 else 2000
        i = start + 2
    elif tag == GENERALIZED_TIME:
        if n != 15:
            raise DecodeError("time")
        y = _digits(buf, start, 4)
        i = start + 4
    else:
        raise DecodeError("tag")
    if buf[end - 1] != 0x5A:  # 'Z'
        raise DecodeError("time")
    mo = _digits(buf, i, 2)
    d = _digits(buf, i + 2, 2)
    h = _digits(buf, i + 4, 2)
    mi = _digits(buf, i + 6, 2)
    sec = _digits(buf, i + 8, 2)
    if not (1 <= mo <= 12 and 1 <= d <= _month_days(y, mo) and h < 24 and mi < 60 and sec < 60):
        raise DecodeError("time")
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec


def read_time(buf, pos, end):
    """UTCTime or GeneralizedTime TLV at pos: (seconds since 1970 UTC, next_pos)."""
    t, s, e = read_tlv(buf, pos, end)
    return time_value(t, buf, s, e), e

# ---- encoders: small values only (signatures, certificates under construction, tests) ----


def encode_length(n):
    if n < 0x80:
        return bytes((n,))
    k = 1
    while n >> (8 * k):
        k += 1
    return bytes((0x80 | k,)) + n.to_bytes(k, "big")


def encode_tlv(tag, value):
    return bytes((tag,)) + encode_length(len(value)) + bytes(value)


def encode_sequence(*parts):
    return encode_tlv(SEQUENCE, b"".join(parts))


def encode_integer(v):
    """Minimal two's complement INTEGER (X.690 8.3)."""
    n = 1
    if v >= 0:
        while v >= 1 << (8 * n - 1):
            n += 1
        body = v.to_bytes(n, "big")
    else:
        while v < -(1 << (8 * n - 1)):
            n += 1
        body = (v + (1 << (8 * n))).to_bytes(n, "big")
    return encode_tlv(INTEGER, body)


def encode_boolean(v):
    return encode_tlv(BOOLEAN, b"\xff" if v else b"\x00")


def encode_oid_body(dotted):
    """Content octets of an OID from its dotted form, e.g. "1.2.840.10045.4.3.2"."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise DecodeError("oid")
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise DecodeError("oid")
    arcs = [arcs[0] * 40 + arcs[1]] + arcs[2:]
    out = bytearray()
    for a in arcs:
        # 8.19.2: base 128, most significant septet first, bit 8 set on all but the last.
        k = 1
        while a >> (7 * k):
            k += 1
        for j in range(k - 1, -1, -1):
            out.append(((a >> (7 * j)) & 0x7F) | (0x80 if j else 0))
    return bytes(out)


def encode_oid(dotted):
    return encode_tlv(OID, encode_oid_body(dotted))


def encode_octet_string(data):
    return encode_tlv(OCTET_STRING, data)


def encode_bit_string(data, unused=0):
    return encode_tlv(BIT_STRING, bytes((unused,)) + bytes(data))


def encode_utf8(text):
    return encode_tlv(UTF8_STRING, text.encode("utf-8"))


def encode_ecdsa_sig(r, s):
    """ECDSA-Sig-Value (RFC 3279 2.2.3) for non-negative r and s."""
    if r < 0 or s < 0:
        raise ValueError("negative r or s")
    return encode_sequence(encode_integer(r), encode_integer(s))
