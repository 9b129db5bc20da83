# X.509 v2 CRLs (RFC 5280 section 5), cut to what a device needs: who issued it, its number, and
# which serial numbers it lists. Strict like x509.py: ECDSA with SHA-256 only, DER only, and a
# critical extension we do not understand makes the whole CRL unusable (5.2, 5.3), so delta CRLs,
# indirect CRLs (certificateIssuer) and partitioned ones (issuingDistributionPoint) are refused.
import hashlib

from meterseal.compat import const
from meterseal.crypto import der
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature
# The same field rules as certificates:
from meterseal.crypto.x509 import _check_name, _sig_alg, signed_envelope

_CRL_NUMBER = "2.5.29.20"  # 5.2.3
_AUTHORITY_KEY_ID = "2.5.29.35"  # 5.2.1 (a hint; the issuer's name and signature decide)
_REASON_CODE = "2.5.29.21"  # 5.3.1
_INVALIDITY_DATE = "2.5.29.24"  # 5.3.2
_CONTEXT_0 = const(0xA0)


class Crl:
    """A parsed CRL: offsets into the DER it was parsed from, which it keeps (a memoryview)."""

    def __init__(self, buf):
        self.buf = buf
        self.tbs_range = None
        self.sig_range = None
        self.issuer_range = None
        self.this_update = 0  # seconds since 1970 UTC
        self.next_update = None
        self.number = None  # CRLNumber; our profile requires it
        self.serials = []  # revoked serial numbers, in CRL order

    def issuer(self):
        return self.buf[self.issuer_range[0]:self.issuer_range[1]]

    def verify(self, issuer_cert):
        """Check the signature with the issuer's x509.Certificate, which must be a CA allowed to
        sign CRLs (RFC 5280 6.3.3 f). Raises InvalidSignature."""
        from meterseal.crypto import ecdsa, x509

        if issuer_cert.subject() != self.issuer():
            raise InvalidSignature("CRL issuer is not " + issuer_cert.describe())
        ku = issuer_cert.key_usage
        if not issuer_cert.is_ca or ku is None or not ku & x509.KU_CRL_SIGN:
            raise InvalidSignature(issuer_cert.describe() + " may not sign CRLs")
        digest = hashlib.sha256(self.buf[self.tbs_range[0]:self.tbs_range[1]]).digest()
        try:
            ecdsa.verify_der(issuer_cert.curve(), issuer_cert.public_key(), digest,
                             self.buf[self.sig_range[0]:self.sig_range[1]])
        except InvalidKey:
            raise InvalidSignature("the issuer's key is not usable")


def parse(data):
    """Parse one DER CRL (bytes or memoryview); raises DecodeError("reason")."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    crl = Crl(buf)
    # CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue } (5.1)
    crl.tbs_range, (ts, te), outer_alg, crl.sig_range = signed_envelope(buf)
    # version INTEGER v2(1): required, as our CRLs carry extensions (5.1.2.1).
    v, p = der.read_integer(buf, ts, te)
    if v != 1:
        raise DecodeError("version")
    inner_alg, p = _sig_alg(buf, p, te)
    if buf[inner_alg[0]:inner_alg[1]] != buf[outer_alg[0]:outer_alg[1]]:
        raise DecodeError("signature")  # 5.1.1.2
    crl.issuer_range, p = _check_name(buf, p, te)
    crl.this_update, p = der.read_time(buf, p, te)
    if p < te and buf[p] in (der.UTC_TIME, der.GENERALIZED_TIME):
        crl.next_update, p = der.read_time(buf, p, te)
        if crl.next_update < crl.this_update:
            raise DecodeError("nextUpdate before thisUpdate")
    if p < te and buf[p] == der.SEQUENCE:
        rs, re_ = der.expect(buf, p, te, der.SEQUENCE)
        if rs == re_:
            raise DecodeError("empty revokedCertificates")  # 5.1.2.6: then it MUST be absent
        p = re_
        while rs < re_:
            a, b = der.expect(buf, rs, re_, der.SEQUENCE)
            rs = b
            serial, q = der.read_integer(buf, a, b)
            _, q = der.read_time(buf, q, b)
            if q < b:
                _extensions(buf, q, b, _entry_extension)
            crl.serials.append(serial)
    if p < te:
        xs, xe = der.expect(buf, p, te, _CONTEXT_0)
        if xe != te:
            raise DecodeError("trailing")
        _extensions(buf, xs, xe, lambda oid, s, e: _crl_extension(crl, oid, s, e))
    if crl.number is None:
        raise DecodeError("no CRL number")  # 5.2.3: conforming CRL issuers MUST include it
    return crl


def _extensions(buf, pos, end, handle):
    # Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; Extension ::= SEQUENCE { extnID,
    # critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.
    s, e = der.read_all(buf, der.SEQUENCE, pos, end)
    if s == e:
        raise DecodeError("extension")
    seen = []
    while s < e:
        a, b = der.expect(buf, s, e, der.SEQUENCE)
        s = b
        oid, q = der.read_oid(buf, a, b)
        if oid in seen:
            raise DecodeError("extension")
        seen.append(oid)
        critical = False
        if q < b and buf[q] == der.BOOLEAN:
            critical, q = der.read_boolean(buf, q, b)
            if not critical:
                raise DecodeError("extension")  # DEFAULT FALSE encoded
        vs, ve = der.expect(buf, q, b, der.OCTET_STRING)
        if ve != b:
            raise DecodeError("extension")
        if not handle(oid, vs, ve) and critical:
            raise DecodeError("critical-extension")


def _crl_extension(crl, oid, s, e):
    if oid == _CRL_NUMBER:
        n, q = der.read_integer(crl.buf, s, e)
        if q != e or n < 0:
            raise DecodeError("extension")
        crl.number = n
        return True
    return oid == _AUTHORITY_KEY_ID


def _entry_extension(oid, s, e):
    return oid == _REASON_CODE or oid == _INVALIDITY_DATE
