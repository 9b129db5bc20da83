# X.509 v3 certificates (RFC 5280) for MeterSeal's PKI: parsed in place, nothing big copied.
#
# parse(der) returns a Certificate that keeps a memoryview of the DER and the offsets of what the
# chain check needs (TBS, names, key, signature). Anything outside our profile (docs/x509-profile.md)
# raises DecodeError with a short reason; besides the reasons of der.py:
#   "version"               not a v3 certificate (RFC 5280 4.1.2.1)
#   "unsupported-algorithm" signature not ecdsa-with-SHA256, key not EC on P-256/brainpoolP256r1
#   "critical-extension"    a critical extension we do not process (RFC 5280 4.2)
#   "duplicate-extension"   the same extension twice (RFC 5280 4.2)
#   "extension"             a known extension whose value is malformed
#   "name", "signature"     a malformed Name / outer signature that differs from the inner one
# Chain verification lives in x509_chain.py; verify_chain here loads it on first use.
from meterseal.compat import const
from meterseal.crypto import der
from meterseal.crypto.errors import DecodeError

ECDSA_WITH_SHA256_OID = "1.2.840.10045.4.3.2"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
P256_OID = "1.2.840.10045.3.1.7"
BRAINPOOLP256R1_OID = "1.3.36.3.3.2.8.1.1.7"
# The MeterSeal role extension: a UUID-derived OID under 2.25 (X.667), fixed forever. Its value is
# SEQUENCE SIZE (1..MAX) OF UTF8String naming the roles ("metrological-institute", "operator", ...).
ROLE_EXTENSION_OID = "2.25.198461893791906648751128240102168423630"

_BASIC_CONSTRAINTS = "2.5.29.19"
_KEY_USAGE = "2.5.29.15"
_SUBJECT_KEY_ID = "2.5.29.14"
_AUTHORITY_KEY_ID = "2.5.29.35"
_UNDERSTOOD = (_BASIC_CONSTRAINTS, _KEY_USAGE, _SUBJECT_KEY_ID, _AUTHORITY_KEY_ID, ROLE_EXTENSION_OID)

# keyUsage bits (RFC 5280 4.2.1.3), as a mask with bit n = named bit n.
KU_DIGITAL_SIGNATURE = const(0x001)
KU_NON_REPUDIATION = const(0x002)
KU_KEY_ENCIPHERMENT = const(0x004)
KU_DATA_ENCIPHERMENT = const(0x008)
KU_KEY_AGREEMENT = const(0x010)
KU_KEY_CERT_SIGN = const(0x020)
KU_CRL_SIGN = const(0x040)
KU_ENCIPHER_ONLY = const(0x080)
KU_DECIPHER_ONLY = const(0x100)

_ATTR_NAMES = (("2.5.4.3", "CN"), ("2.5.4.10", "O"), ("2.5.4.11", "OU"), ("2.5.4.5", "serialNumber"),
               ("2.5.4.6", "C"))
# Directory string types whose content octets we show as text (RFC 5280 4.1.2.4).
_STRING_TAGS = (der.UTF8_STRING, der.PRINTABLE_STRING, der.IA5_STRING, 0x14, 0x1C, 0x1E)


class ChainError(Exception):
    """A certificate chain is not acceptable. .reason is a short constant ("signature", "issuer",
    "expired", "not-yet-valid", "not-ca", "path-length", "key-usage", "untrusted", "role",
    "unsupported-algorithm", "malformed", "critical-extension", "bad-key"); .depth is the
    certificate's position (0 = leaf) and the message names its subject."""

    def __init__(self, reason, depth=None, who=None, detail=None):
        msg = reason
        if depth is not None:
            msg = "certificate %d (%s): %s" % (depth, who or "?", reason)
        if detail:
            msg += " (" + detail + ")"
        super().__init__(msg)
        self.reason = reason
        self.depth = depth


class Certificate:
    """Offsets into one certificate's DER; the buffer is held as a memoryview, never copied."""

    def __init__(self, buf):
        self.buf = buf
        self.tbs_range = None  # the whole TBSCertificate TLV: what the issuer signed
        self.serial = 0
        self.issuer_range = None  # Name TLVs, compared byte for byte when chaining
        self.subject_range = None
        self.not_before = 0  # seconds since 1970 UTC
        self.not_after = 0
        self.curve_oid = None
        self.key_range = None  # SEC1 point octets from subjectPublicKey
        self.sig_range = None  # ECDSA-Sig-Value DER inside signatureValue
        self.is_ca = False
        self.path_len = None  # None: no pathLenConstraint
        self.key_usage = None  # None: no keyUsage extension, else a KU_* mask
        self.ski = None  # (start, end) of subjectKeyIdentifier octets
        self.aki = None  # (start, end) of authorityKeyIdentifier.keyIdentifier octets
        self.roles = None  # None: no role extension, else a list of role names

    def _view(self, r):
        return self.buf[r[0]:r[1]]

    def tbs(self):
        return self._view(self.tbs_range)

    def issuer(self):
        return self._view(self.issuer_range)

    def subject(self):
        return self._view(self.subject_range)

    def public_key(self):
        """SEC1 point bytes (0x04 || X || Y, or compressed)."""
        return bytes(self._view(self.key_range))

    def signature(self):
        return self._view(self.sig_range)

    def curve(self):
        from meterseal.crypto import ecdsa

        return ecdsa.curve_by_oid(self.curve_oid)

    def self_issued(self):
        return self.issuer() == self.subject()

    def subject_attr(self, short):
        """First value of a subject attribute by short name ("CN", "O", "serialNumber"), or None."""
        return name_attr(self.buf, self.subject_range, short)

    def issuer_attr(self, short):
        return name_attr(self.buf, self.issuer_range, short)

    def describe(self):
        """A short readable subject for messages: the CN, else the first attribute we know."""
        for short in ("CN", "serialNumber", "O"):
            v = self.subject_attr(short)
            if v is not None:
                return short + "=" + v
        return "(no name)"


def _oid_for(short):
    for oid, s in _ATTR_NAMES:
        if s == short:
            return oid
    raise ValueError("unknown attribute " + short)


def _text(buf, tag, s, e):
    if tag not in _STRING_TAGS:
        return None
    try:
        return str(bytes(buf[s:e]), "utf-8")
    except UnicodeError:
        return None


def name_attr(buf, rng, short):
    """First value of attribute `short` in the Name TLV buf[rng[0]:rng[1]], or None."""
    want = _oid_for(short)
    s, e = der.expect(buf, rng[0], rng[1], der.SEQUENCE)
    while s < e:
        rs, re_, s = _next(buf, s, e, der.SET)
        while rs < re_:
            a, b, rs = _next(buf, rs, re_, der.SEQUENCE)
            oid, p = der.read_oid(buf, a, b)
            tag, vs, ve = der.read_tlv(buf, p, b)
            if oid == want:
                return _text(buf, tag, vs, ve)
    return None


def _next(buf, pos, end, tag):
    # (value_start, value_end, next_pos) of the TLV `tag` at pos.
    s, e = der.expect(buf, pos, end, tag)
    return s, e, e


def _check_name(buf, pos, end):
    # Name ::= SEQUENCE OF RelativeDistinguishedName (SET SIZE (1..MAX) OF AttributeTypeAndValue).
    s, e = der.expect(buf, pos, end, der.SEQUENCE)
    while s < e:
        rs, re_, s = _next(buf, s, e, der.SET)
        if rs == re_:
            raise DecodeError("name")
        while rs < re_:
            a, b, rs = _next(buf, rs, re_, der.SEQUENCE)
            _, p = der.read_oid(buf, a, b)
            _, _, p = der.read_tlv(buf, p, b)
            if p != b:
                raise DecodeError("name")
    return (pos, e), e


def _sig_alg(buf, pos, end):
    # AlgorithmIdentifier of ecdsa-with-SHA256: parameters MUST be absent (RFC 5758 3.2).
    s, e = der.expect(buf, pos, end, der.SEQUENCE)
    oid, p = der.read_oid(buf, s, e)
    if oid != ECDSA_WITH_SHA256_OID:
        raise DecodeError("unsupported-algorithm")
    if p != e:
        raise DecodeError("unsupported-algorithm")
    return (pos, e), e


def _spki(cert, buf, pos, end):
    # SubjectPublicKeyInfo with id-ecPublicKey and a namedCurve (RFC 5480 2.1.1).
    s, e = der.expect(buf, pos, end, der.SEQUENCE)
    a, b, p = _next(buf, s, e, der.SEQUENCE)
    oid, q = der.read_oid(buf, a, b)
    if oid != EC_PUBLIC_KEY_OID:
        raise DecodeError("unsupported-algorithm")
    if q >= b:
        raise DecodeError("unsupported-algorithm")  # implicitCurve/specifiedCurve not allowed
    tag, cs, ce = der.read_tlv(buf, q, b)
    if tag != der.OID or ce != b:
        raise DecodeError("unsupported-algorithm")
    curve = der.oid_str(buf, cs, ce)
    if curve != P256_OID and curve != BRAINPOOLP256R1_OID:
        raise DecodeError("unsupported-algorithm")
    unused, ks, ke, p = der.read_bit_string(buf, p, e)
    if unused or p != e:
        raise DecodeError("bitstring")
    cert.curve_oid = curve
    cert.key_range = (ks, ke)
    return e


def signed_envelope(buf):
    """SEQUENCE { tbs, signatureAlgorithm, signatureValue }, the SIGNED{} of certificates (4.1)
    and CRLs (5.1): (tbs TLV range, tbs value range, algorithm TLV range, signature range)."""
    cs, ce = der.read_all(buf, der.SEQUENCE)
    tag, ts, te = der.read_tlv(buf, cs, ce)
    if tag != der.SEQUENCE:
        raise DecodeError("tag")
    outer_alg, p = _sig_alg(buf, te, ce)
    unused, ss, se, p = der.read_bit_string(buf, p, ce)
    if unused or p != ce:
        raise DecodeError("signature")
    der.decode_ecdsa_sig(buf[ss:se])  # strict ECDSA-Sig-Value now, not at verification time
    return (cs, te), (ts, te), outer_alg, (ss, se)


def parse(data):
    """Parse one DER certificate (bytes, bytearray or memoryview) into a Certificate."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    cert = Certificate(buf)
    cert.tbs_range, (ts, te), outer_alg, cert.sig_range = signed_envelope(buf)

    # version [0] EXPLICIT INTEGER: we accept v3 (value 2) only (4.1.2.1).
    tag, vs, ve = der.read_tlv(buf, ts, te)
    if tag != 0xA0:
        raise DecodeError("version")
    v, q = der.read_integer(buf, vs, ve)
    if v != 2 or q != ve:
        raise DecodeError("version")
    cert.serial, p = der.read_integer(buf, ve, te)
    if cert.serial == 0:
        raise DecodeError("integer")  # 4.1.2.2: a positive integer (negatives fail above)
    inner_alg, p = _sig_alg(buf, p, te)
    # 4.1.1.2: signatureAlgorithm MUST be identical to the tbs signature field.
    if buf[inner_alg[0]:inner_alg[1]] != buf[outer_alg[0]:outer_alg[1]]:
        raise DecodeError("signature")
    cert.issuer_range, p = _check_name(buf, p, te)
    vs, ve, p = _next(buf, p, te, der.SEQUENCE)  # Validity (4.1.2.5)
    cert.not_before, q = der.read_time(buf, vs, ve)
    cert.not_after, q = der.read_time(buf, q, ve)
    if q != ve:
        raise DecodeError("trailing")
    cert.subject_range, p = _check_name(buf, p, te)
    p = _spki(cert, buf, p, te)
    # issuerUniqueID [1] / subjectUniqueID [2] are ignored (4.1.2.8); extensions [3] EXPLICIT.
    for t in (0x81, 0x82):
        if p < te and buf[p] == t:
            _, _, p = der.read_tlv(buf, p, te)
    if p < te:
        xs, xe = der.expect(buf, p, te, 0xA3)
        if xe != te:
            raise DecodeError("trailing")
        _extensions(cert, buf, xs, xe)
    return cert


def _extensions(cert, buf, pos, end):
    # Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (4.1).
    s, e = der.read_all(buf, der.SEQUENCE, pos, end)
    if s == e:
        raise DecodeError("extension")
    seen = []
    while s < e:
        a, b, s = _next(buf, s, e, der.SEQUENCE)
        oid, p = der.read_oid(buf, a, b)
        critical = False
        if p < b and buf[p] == der.BOOLEAN:
            critical, p = der.read_boolean(buf, p, b)
            if not critical:
                raise DecodeError("boolean")  # X.690 11.5: a DEFAULT value is never encoded
        vs, ve = der.read_all(buf, der.OCTET_STRING, p, b)
        if oid in seen:
            raise DecodeError("duplicate-extension")
        seen.append(oid)
        if oid not in _UNDERSTOOD:
            if critical:
                raise DecodeError("critical-extension")
            continue
        try:
            _extension(cert, oid, buf, vs, ve)
        except DecodeError:
            raise DecodeError("extension")


def _extension(cert, oid, buf, s, e):
    if oid == _BASIC_CONSTRAINTS:
        # SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
        p, e = der.read_all(buf, der.SEQUENCE, s, e)
        if p < e and buf[p] == der.BOOLEAN:
            cert.is_ca, p = der.read_boolean(buf, p, e)
            if not cert.is_ca:
                raise DecodeError("extension")  # DEFAULT FALSE encoded
        if p < e:
            cert.path_len, p = der.read_integer(buf, p, e)
        if p != e:
            raise DecodeError("extension")
    elif oid == _KEY_USAGE:
        unused, a, b, _ = der.read_bit_string(buf, s, e)
        if b != e or a == b:
            raise DecodeError("extension")  # 4.2.1.3: at least one bit set
        # X.690 11.2.2: a named bit list drops trailing zero bits, so the last bit is a one.
        if not (buf[b - 1] >> unused) & 1:
            raise DecodeError("extension")
        mask = 0
        for i in range(min(b - a, 2) * 8):
            if buf[a + i // 8] & (0x80 >> (i % 8)):
                mask |= 1 << i
        cert.key_usage = mask
    elif oid == _SUBJECT_KEY_ID:
        cert.ski = der.read_all(buf, der.OCTET_STRING, s, e)
    elif oid == _AUTHORITY_KEY_ID:
        # SEQUENCE { keyIdentifier [0], authorityCertIssuer [1], authorityCertSerialNumber [2] }
        p, e = der.read_all(buf, der.SEQUENCE, s, e)
        last = -1
        while p < e:
            tag, a, b = der.read_tlv(buf, p, e)
            n = tag & 0x1F
            if tag & 0xC0 != 0x80 or n > 2 or n <= last:
                raise DecodeError("extension")
            last = n
            if n == 0:
                cert.aki = (a, b)
            p = b
    else:  # ROLE_EXTENSION_OID
        p, e = der.read_all(buf, der.SEQUENCE, s, e)
        roles = []
        while p < e:
            a, b, p = _next(buf, p, e, der.UTF8_STRING)
            try:
                roles.append(str(bytes(buf[a:b]), "utf-8"))
            except UnicodeError:
                raise DecodeError("extension")
        if not roles:
            raise DecodeError("extension")
        cert.roles = roles


def verify_chain(chain, anchors, now=None, required_usage=None, required_role=None, max_depth=8,
                 revoked=None):
    """See x509_chain.verify_chain (imported on first use to keep small boards' RAM free)."""
    from meterseal.crypto import x509_chain

    return x509_chain.verify_chain(chain, anchors, now, required_usage, required_role, max_depth,
                                   revoked)
