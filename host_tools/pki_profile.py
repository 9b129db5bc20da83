"""The MeterSeal certificate profile (docs/pki.md, docs/x509-profile.md): one table of certificate
kinds, and certificates and CRLs built with pyca/cryptography but signed through a `Signer`.

cryptography's builders need a private key object to sign. To let an HSM or offline key sign, the
builder signs once with a throw-away key, which yields the exact to-be-signed bytes (the signature
algorithm inside them is ecdsa-with-SHA256 whatever the key), and the result is re-assembled
around the real signer's signature (RFC 5280 4.1.1: Certificate ::= SEQUENCE { tbsCertificate,
signatureAlgorithm, signatureValue }; 5.1.1 likewise for CertificateList), with the firmware's
DER encoders.
"""
import datetime
import re
import unicodedata

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meterseal.crypto import der
from meterseal.crypto.x509 import ECDSA_WITH_SHA256_OID, ROLE_EXTENSION_OID
from meterseal.security import roles as R

from .pki_keys import PkiError, check_signer

ROLE_OID = x509.ObjectIdentifier(ROLE_EXTENSION_OID)
_DS, _KCS, _CRL = "digital_signature", "key_cert_sign", "crl_sign"


class Kind:
    """One kind of certificate: who issues it, what it may do, how long it lives."""

    def __init__(self, name, label, issuer, years, ca, path_len, usage, role):
        self.name = name  # short id: "em", "sm", ...
        self.label = label  # goes into the subject's OU, so the certificate says what it is
        self.issuer = issuer  # issuing authority kind (None: self-signed root)
        self.years = years
        self.ca = ca
        self.path_len = path_len
        self.usage = usage  # keyUsage bit names (cryptography's KeyUsage arguments)
        self.role = role  # role written into the role extension, or None


# Validity: a reading signed today must verify for as long as anyone may dispute it, and a chain
# verifies only while every certificate in it is valid (RFC 5280 6.1.3 a.2), so each issuer lives
# longer than what it issues. Issued certificates are also cut at their issuer's notAfter.
KINDS = {k.name: k for k in (
    Kind("institute", "Metrological Institute Root", None, 40, True, 1, (_KCS, _CRL), None),
    Kind("calibration", "Calibration Authority", "institute", 30, True, 0, (_KCS, _CRL), None),
    Kind("software", "Software Approval", "institute", 10, False, None, (_DS,),
         R.SOFTWARE_APPROVAL),
    Kind("ca", "CA Root (Trusted Third Party)", None, 30, True, 1, (_KCS, _CRL), None),
    Kind("manufacturer", "Manufacturer CA (CERT_MFC)", "ca", 20, True, 0, (_DS, _KCS, _CRL),
         R.MANUFACTURER),
    Kind("sm", "MSP Security Management (CERT_SM)", "ca", 10, True, 0, (_DS, _KCS, _CRL),
         R.MSP_SECURITY),
    Kind("em", "Energy Meter (CERT_EM)", "calibration", 25, False, None, (_DS,), None),
    Kind("muc", "MUC (CERT_MUC)", "manufacturer", 15, False, None, (_DS,), None),
    Kind("cn", "Concentrator (CERT_CN)", "manufacturer", 15, False, None, (_DS,), None),
    Kind("op", "Operator (CERT_OP)", "sm", 2, False, None, (_DS,), None),
    Kind("dcs", "Data Collection Service (CERT_DCS)", "sm", 1, False, None, (_DS,),
         R.DATA_COLLECTION),
    # Who signs metrological commands (D2): the institute's own staff and the local operators
    # it authorises, certified by its calibration authority so that the chain ends at the
    # institute root, the anchor of metrological commands (docs/access-control.md).
    Kind("mo", "Metrological Operator (CERT_MO)", "calibration", 2, False, None, (_DS,), None),
)}
AUTHORITY_KINDS = ("institute", "calibration", "software", "ca", "manufacturer", "sm")
# Roles the MSP's security management may grant to operators: not the authorities' own.
OPERATOR_ROLES = tuple(r for r in R.ALL
                       if r not in (R.METROLOGICAL_INSTITUTE, R.MANUFACTURER, R.MSP_SECURITY))
# Roles the institute's calibration authority grants in CERT_MO: the metrological ones only.
METROLOGICAL_ROLES = (R.METROLOGICAL_INSTITUTE, R.LOCAL_OPERATOR)
NOT_BEFORE_SLACK = datetime.timedelta(hours=1)  # boards' clocks run a little behind


def kind_of_label(label):
    for k in KINDS.values():
        if k.label == label:
            return k.name
    return None


def subject_name(kind, cn, organization=None, identity=None):
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, KINDS[kind].label))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if identity:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, identity))
    return x509.Name(attrs)


def slug(name):
    """A file-name safe form of a name: "Zähler & Co" -> "zahler-co"."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    if not s:
        raise PkiError("name %r has no letters or digits" % name)
    return s


def identity_of(cert):
    """How the directory and the index name a certificate's holder: the subject's serialNumber
    (a device's metering identity), else its CN made file-name safe."""
    for oid in (NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            return attrs[0].value if oid == NameOID.SERIAL_NUMBER else slug(attrs[0].value)
    return "no-name"


def kind_of(cert):
    """The kind named by the subject's OU (our CAs write KINDS[...].label there), or None."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return kind_of_label(attrs[0].value) if attrs else None


def role_value(names):
    """The role extension's value: SEQUENCE SIZE (1..MAX) OF UTF8String (crypto/x509.py)."""
    if not names:
        raise PkiError("a role extension needs at least one role")
    for n in names:
        if n not in R.ALL and n != R.SOFTWARE_APPROVAL:
            raise PkiError("unknown role %r (known: %s)" % (n, ", ".join(R.ALL)))
    return der.encode_sequence(*[der.encode_utf8(n) for n in names])


def add_years(when, years):
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


_scratch = None


def _scratch_key():
    global _scratch
    if _scratch is None:
        _scratch = ec.generate_private_key(ec.SECP256R1())
    return _scratch


# ecdsa-with-SHA256 with absent parameters (RFC 5758 3.2).
_ALG = der.encode_sequence(der.encode_oid(ECDSA_WITH_SHA256_OID))


def _assemble(tbs, signer):
    sig = signer.sign(tbs)
    check_signer(signer, tbs, sig)
    return der.encode_sequence(tbs, _ALG, der.encode_bit_string(sig))


def ski_of(cert):
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def build_certificate(kind, subject, public_key, serial, signer, issuer=None, not_before=None,
                      roles=None):
    """Sign a certificate of `kind` for `public_key` with `signer`.

    issuer: the issuing authority's certificate, or None for a self-signed root (then `signer`
    holds the subject's own key). roles: role names for the role extension; default the kind's.
    Returns a cryptography x509.Certificate.
    """
    k = KINDS[kind]
    nb = (not_before or (now_utc() - NOT_BEFORE_SLACK)).replace(microsecond=0)
    if nb.tzinfo is None:
        nb = nb.replace(tzinfo=datetime.timezone.utc)
    na = add_years(nb, k.years)
    if issuer is not None:
        na = min(na, issuer.not_valid_after_utc)
        if na <= nb:
            raise PkiError("%s is not valid after %s; nothing left to issue under it"
                           % (issuer.subject.rfc4514_string(), nb.isoformat()))
    usage = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                           "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                           "encipher_only", "decipher_only"), False)
    for u in k.usage:
        usage[u] = True
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.subject if issuer is not None else subject)
         .public_key(public_key)
         .serial_number(serial)
         .not_valid_before(nb)
         .not_valid_after(na)
         # RFC 5280 4.2.1.9: basicConstraints critical in CA certificates; we mark it so in all.
         .add_extension(x509.BasicConstraints(ca=k.ca, path_length=k.path_len), critical=True)
         .add_extension(x509.KeyUsage(**usage), critical=True)  # 4.2.1.3: SHOULD be critical
         .add_extension(ski, critical=False)  # 4.2.1.2: MUST NOT be critical
         .add_extension(x509.AuthorityKeyIdentifier(
             ski_of(issuer) if issuer is not None else ski.digest, None, None), critical=False))
    roles = roles if roles is not None else ([k.role] if k.role else None)
    if roles:
        # Non-critical: a verifier that does not know our OID may still use the key (4.2).
        b = b.add_extension(x509.UnrecognizedExtension(ROLE_OID, role_value(roles)),
                            critical=False)
    draft = b.sign(_scratch_key(), hashes.SHA256())
    return x509.load_der_x509_certificate(_assemble(draft.tbs_certificate_bytes, signer))


# RFC 5280 5.3.1 reason codes by the names the CLI takes.
REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key-compromise": x509.ReasonFlags.key_compromise,
    "ca-compromise": x509.ReasonFlags.ca_compromise,
    "affiliation-changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation-of-operation": x509.ReasonFlags.cessation_of_operation,
    "privilege-withdrawn": x509.ReasonFlags.privilege_withdrawn,
}


def build_crl(issuer, signer, revoked, number, this_update=None, days=30):
    """An X.509 v2 CRL (RFC 5280 5) by `issuer` listing `revoked` = [(serial, when, reason)]."""
    tu = this_update or now_utc()
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(issuer.subject)
         .last_update(tu)
         .next_update(tu + datetime.timedelta(days=days))
         .add_extension(x509.CRLNumber(number), critical=False)  # 5.2.3: MUST, non-critical
         .add_extension(x509.AuthorityKeyIdentifier(ski_of(issuer), None, None), critical=False))
    for serial, when, reason in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason != "unspecified":  # 5.3.1: the code "unspecified" SHOULD be absent
            rb = rb.add_extension(x509.CRLReason(REASONS[reason]), critical=False)
        b = b.add_revoked_certificate(rb.build())
    draft = b.sign(_scratch_key(), hashes.SHA256())
    return x509.load_der_x509_crl(_assemble(draft.tbs_certlist_bytes, signer))


def public_key_from(data, curve):
    """A cryptography public key from SEC1 point bytes, PEM/DER SubjectPublicKeyInfo, or a key."""
    if isinstance(data, ec.EllipticCurvePublicKey):
        key = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        try:
            if data.startswith(b"-----BEGIN"):
                key = serialization.load_pem_public_key(data)
            elif data[:1] == b"\x30":
                key = serialization.load_der_public_key(data)
            else:
                # SEC1 2.3.4: the point is checked to lie on the curve.
                key = ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
        except ValueError as e:
            raise PkiError("not a public key on %s: %s" % (curve.name, e)) from e
    else:
        raise PkiError("a public key must be bytes (SEC1 point, PEM or DER), not %s"
                       % type(data).__name__)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise PkiError("not an EC public key")
    if key.curve.name != curve.name:
        raise PkiError("public key is on %s, this PKI issues for %s" % (key.curve.name, curve.name))
    return key


def sec1(key):
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def issuer_among(cert, candidates):
    """The first of `candidates` (cryptography certificates) whose subject is cert's issuer and
    whose key verifies cert's signature, or None. The one step of every chain walk here."""
    from cryptography.exceptions import InvalidSignature

    for c in candidates:
        if c.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(c)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return c
    return None
