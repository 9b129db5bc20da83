"""Our X.509 chain verdicts against pyca/cryptography's verifier and `openssl verify`.

Each case of tests/firmware/prep_x509.py is judged by us (the firmware code under CPython; the
MicroPython run of the same cases is tests/firmware/test_x509.py) and by every outside verifier
that can judge it: cryptography's PolicyBuilder (WebPKI CA profile, our leaf requirements added as
extension policies) for chains whose CA keys are P-256, and `openssl verify -x509_strict` for cases
that ask nothing of the leaf. Verdicts must agree and the outside reason must fit ours. The few
cases where our profile is narrower than RFC 5280 are marked and checked as such.
"""
import base64
import datetime
import importlib.util
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store

from meterseal.crypto import der, x509
from meterseal.crypto.errors import DecodeError

_PREP = Path(__file__).resolve().parent.parent / "firmware" / "prep_x509.py"
_spec = importlib.util.spec_from_file_location("prep_x509", _PREP)
prep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prep)

CASES = prep.build_cases()
ROLE = cx509.ObjectIdentifier(x509.ROLE_EXTENSION_OID)
OPENSSL = shutil.which("openssl")

# What each outside verifier says for each of our reasons (a substring of its error).
CRYPTOGRAPHY_SAYS = {
    "signature": ["signature does not match"],
    "expired": ["not valid at validation time"],
    "not-yet-valid": ["not valid at validation time"],
    "not-ca": ["basicConstraints"],
    "key-usage": ["keyUsage", "2.5.29.15"],
    "path-length": ["path length constraint"],
    "critical-extension": ["unaccounted-for critical extensions"],
    "malformed": ["duplicate extension"],
    "untrusted": ["candidates exhausted"],
    "issuer": ["candidates exhausted"],
    "role": ["role"],
}
OPENSSL_SAYS = {
    # OpenSSL picks issuers by authorityKeyIdentifier first, so a wrong key can read "no issuer".
    "signature": ["signature failure", "unable to get local issuer"],
    "expired": ["has expired"],
    "not-yet-valid": ["not yet valid"],
    "not-ca": ["invalid CA certificate"],
    "key-usage": ["key usage does not include certificate signing"],
    "path-length": ["path length constraint exceeded"],
    "critical-extension": ["unhandled critical extension"],
    "malformed": ["signature failure"],  # it reads through a duplicated extension
    "untrusted": ["unable to get local issuer", "self-signed certificate"],
    "issuer": ["unable to get local issuer"],
}


def ours(c):
    try:
        leaf = x509.verify_chain(iter(c["chain"]), c["anchors"], c["now"], c["usage"] or None,
                                 c["role"])
        assert leaf.public_key() == cx509.load_der_x509_certificate(c["chain"][0]).public_key() \
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return "ok", None
    except x509.ChainError as e:
        return e.reason, e.depth


def _roles(raw):
    # SEQUENCE OF UTF8String with short lengths, decoded here independently of der.py.
    assert raw[0] == 0x30 and raw[1] == len(raw) - 2
    out, i = [], 2
    while i < len(raw):
        assert raw[i] == 0x0C
        out.append(raw[i + 2:i + 2 + raw[i + 1]].decode())
        i += 2 + raw[i + 1]
    return out


def _ku_digital_signature(policy, cert, ext):
    if ext is None or not ext.digital_signature:
        raise ValueError("keyUsage lacks digitalSignature")


def cryptography_applies(c):
    if c["now"] is None:
        return False
    for d in c["chain"][1:] + c["anchors"]:
        try:
            if isinstance(cx509.load_der_x509_certificate(d).public_key().curve,
                          ec.BrainpoolP256R1):
                return False  # its WebPKI profile forbids brainpool CA keys
        except ValueError:
            pass
    return True


def cryptography_says(c):
    try:
        certs = [cx509.load_der_x509_certificate(d) for d in c["chain"]]
        store = Store([cx509.load_der_x509_certificate(d) for d in c["anchors"]])
        ee = ExtensionPolicy.permit_all()
        if c["usage"]:
            ee = ee.require_present(cx509.KeyUsage, Criticality.AGNOSTIC, _ku_digital_signature)
        verifier = (PolicyBuilder().store(store)
                    .time(datetime.datetime.fromtimestamp(c["now"], datetime.timezone.utc))
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=ee)
                    .build_client_verifier())
        verifier.verify(certs[0], certs[1:])
        if c["role"]:
            # The role extension is ours: cryptography finds it, the test decodes it.
            try:
                ext = certs[0].extensions.get_extension_for_oid(ROLE)
            except cx509.ExtensionNotFound:
                return "role extension missing"
            if c["role"] not in _roles(ext.value.value):
                return "role not granted"
        return "ok"
    except Exception as e:  # noqa: BLE001 - any refusal is a verdict
        return "%s: %s" % (type(e).__name__, e)


def _pem(ders):
    return "".join("-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n"
                   % base64.encodebytes(d).decode() for d in ders)


def openssl_applies(c):
    return OPENSSL is not None and c["now"] is not None and not c["usage"] and not c["role"]


def openssl_says(c, tmp_path):
    (tmp_path / "ca.pem").write_text(_pem(c["anchors"]))
    (tmp_path / "leaf.pem").write_text(_pem(c["chain"][:1]))
    cmd = [OPENSSL, "verify", "-x509_strict", "-attime", str(c["now"]),
           "-CAfile", str(tmp_path / "ca.pem")]
    if len(c["chain"]) > 1:
        (tmp_path / "rest.pem").write_text(_pem(c["chain"][1:]))
        cmd += ["-untrusted", str(tmp_path / "rest.pem")]
    p = subprocess.run(cmd + [str(tmp_path / "leaf.pem")], capture_output=True, text=True,
                       timeout=60)
    return "ok" if p.returncode == 0 else p.stdout + p.stderr


def _openssl_depth(text):
    for line in text.splitlines():
        if line.startswith("error ") and " depth lookup" in line:
            return int(line.split(" at ")[1].split()[0])
    return None


@pytest.mark.parametrize("c", CASES, ids=[c["name"] for c in CASES])
def test_verdicts_agree(c, tmp_path):
    got, depth = ours(c)
    assert got == c["expect"], (got, depth)
    judged = 0
    if cryptography_applies(c):
        theirs = cryptography_says(c)
        judged += 1
        if c["oracle"] == "stricter":
            assert theirs == "ok", theirs
        elif got == "ok":
            assert theirs == "ok", theirs
        else:
            assert theirs != "ok" and any(s in theirs for s in CRYPTOGRAPHY_SAYS[got]), theirs
    if openssl_applies(c):
        theirs = openssl_says(c, tmp_path)
        judged += 1
        if c["oracle"] == "stricter" or got == "ok":
            assert theirs == "ok", theirs
        else:
            assert theirs != "ok" and any(s in theirs for s in OPENSSL_SAYS[got]), theirs
            assert _openssl_depth(theirs) == depth, theirs
    if c["now"] is not None:
        assert judged, "no outside verifier judged " + c["name"]


def _all_certs():
    seen = set()
    for c in CASES:
        for d in c["chain"] + c["anchors"]:
            if d not in seen:
                seen.add(d)
                yield d


def _check_fields(d):
    ref = cx509.load_der_x509_certificate(d)
    cert = x509.parse(d)
    assert bytes(cert.tbs()) == ref.tbs_certificate_bytes
    assert bytes(cert.signature()) == ref.signature
    assert cert.serial == ref.serial_number
    assert bytes(cert.issuer()) == ref.issuer.public_bytes()
    assert bytes(cert.subject()) == ref.subject.public_bytes()
    assert cert.not_before == int(ref.not_valid_before_utc.timestamp())
    assert cert.not_after == int(ref.not_valid_after_utc.timestamp())
    for short, oid in (("CN", cx509.NameOID.COMMON_NAME), ("O", cx509.NameOID.ORGANIZATION_NAME),
                       ("serialNumber", cx509.NameOID.SERIAL_NUMBER)):
        attrs = ref.subject.get_attributes_for_oid(oid)
        assert cert.subject_attr(short) == (attrs[0].value if attrs else None)
    assert cert.public_key() == ref.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert cert.curve().name.lower() == ref.public_key().curve.name.lower()
    exts = {e.oid.dotted_string: e.value for e in ref.extensions}
    bc = exts.get("2.5.29.19")
    assert cert.is_ca == bool(bc and bc.ca)
    assert cert.path_len == (bc.path_length if bc else None)
    ku = exts.get("2.5.29.15")
    if ku is None:
        assert cert.key_usage is None
    else:
        names = ["digital_signature", "content_commitment", "key_encipherment",
                 "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"]
        want = sum(1 << i for i, n in enumerate(names) if getattr(ku, n))
        if ku.key_agreement:
            want |= ku.encipher_only << 7 | ku.decipher_only << 8
        assert cert.key_usage == want
    ski = exts.get("2.5.29.14")
    assert (cert.ski and bytes(cert.buf[cert.ski[0]:cert.ski[1]])) == (ski and ski.digest)
    aki = exts.get("2.5.29.35")
    assert (cert.aki and bytes(cert.buf[cert.aki[0]:cert.aki[1]])) == (aki and aki.key_identifier)
    role = exts.get(x509.ROLE_EXTENSION_OID)
    assert cert.roles == (_roles(role.value) if role else None)


def test_parsed_fields_match_cryptography():
    n = 0
    for d in _all_certs():
        try:
            x509.parse(d)
        except DecodeError as e:
            assert e.args[0] in ("unsupported-algorithm", "critical-extension",
                                 "duplicate-extension"), e
            continue
        _check_fields(d)
        n += 1
    assert n >= 30


def test_random_certificates_parse_like_cryptography():
    # Names with several RDNs and non-ASCII text, 20-octet serials, dates from 1950 to 9999
    # (UTCTime before 2050, GeneralizedTime from 2050: RFC 5280 4.1.2.5), random key usages.
    rnd = random.Random(7)
    utc = datetime.timezone.utc
    k = prep.key(40)
    kinds = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign"]
    for i in range(150):
        nb = datetime.datetime(1950, 1, 1, tzinfo=utc) + datetime.timedelta(
            seconds=rnd.randrange(100 * 365 * 86400))
        na = nb + datetime.timedelta(seconds=rnd.randrange(1, 8000 * 365 * 86400))
        na = min(na, datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=utc))
        subj = cx509.Name([
            cx509.NameAttribute(cx509.NameOID.COUNTRY_NAME, "DE"),
            cx509.NameAttribute(cx509.NameOID.ORGANIZATION_NAME, "Zähler GmbH %d" % i),
            cx509.NameAttribute(cx509.NameOID.SERIAL_NUMBER, "1EMH%010d" % rnd.randrange(10**10)),
            cx509.NameAttribute(cx509.NameOID.COMMON_NAME, "Messstelle-%d-€" % i),
        ])
        flags = dict.fromkeys(kinds + ["encipher_only", "decipher_only"], False)
        for f in rnd.sample(kinds, rnd.randrange(1, 4)):
            flags[f] = True
        b = (cx509.CertificateBuilder().subject_name(subj).issuer_name(subj)
             .public_key(k.public_key()).serial_number(rnd.randrange(1, 2**159))
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(cx509.KeyUsage(**flags), critical=bool(i % 2)))
        if i % 3:
            b = b.add_extension(cx509.BasicConstraints(ca=bool(i % 2), path_length=None),
                                critical=True)
        if i % 5 == 0:
            b = b.add_extension(cx509.UnrecognizedExtension(
                ROLE, prep._utf8_seq(["role-%d" % j for j in range(1 + i % 4)])), critical=False)
        d = b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        _check_fields(d)
        assert x509.parse(d).subject_attr("CN") == "Messstelle-%d-€" % i


def test_ecdsa_sig_der_against_cryptography():
    rnd = random.Random(3)
    for _ in range(500):
        r = rnd.randrange(1, 2 ** rnd.choice((8, 64, 255, 256, 257)))
        s = rnd.randrange(1, 2 ** rnd.choice((8, 64, 255, 256, 257)))
        ref = encode_dss_signature(r, s)
        assert der.encode_ecdsa_sig(r, s) == ref
        assert der.decode_ecdsa_sig(ref) == decode_dss_signature(ref) == (r, s)


def test_firmware_profile_rejects_what_it_should_not_parse():
    # Bytes that cryptography refuses to load must never parse here either.
    rnd = random.Random(11)
    certs = list(_all_certs())
    for _ in range(3000):
        d = bytearray(rnd.choice(certs))
        d[rnd.randrange(len(d))] = rnd.randrange(256)
        d = bytes(d)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # non-positive serials: deprecated, still loaded
                cx509.load_der_x509_certificate(d).extensions  # noqa: B018 - forces the parse
            continue
        except Exception as e:  # noqa: BLE001 - ValueError, DuplicateExtension, ...
            if "extn_id" in str(e):
                continue  # cryptography limits OID arcs to 128 bits; RFC 5280 does not

        with pytest.raises(DecodeError):
            x509.parse(d)
