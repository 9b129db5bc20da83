"""host_tools.pki: the hierarchy of Fig. 2 as docs/pki.md describes it, judged by pyca/cryptography
(its parser and its path validator) and by our firmware's own verify_chain, which has to accept
every chain the host issues (openssl judges too: tests/interop/test_pki_openssl.py)."""
import datetime
import hashlib
import os
import stat

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

from host_tools import pki
from host_tools.pki_keys import KeySigner, Signer
from host_tools.pki_profile import KINDS, sec1
from meterseal.crypto import ecdsa, x509
from meterseal.security import roles as R

PASS = "correct horse battery staple"
NOW = datetime.datetime.now(datetime.timezone.utc)
ROLE = cx509.ObjectIdentifier(x509.ROLE_EXTENSION_OID)


def _key(curve=None):
    return ec.generate_private_key(curve or ec.SECP256R1())


def build(path, curve="p256"):
    """A PKI with two manufacturers and one certificate of every issued kind."""
    p = pki.init_pki(path, PASS, curve=curve, manufacturers=["ACME Meters", "Zähler & Co"])
    c = p.curve
    issued = {
        "em": pki.issue_em(p, sec1(_key(c).public_key()), "1MSL0012345678"),
        "muc": pki.issue_device(p, "ACME Meters", "muc", sec1(_key(c).public_key()),
                                "9MSL0000000042"),
        "cn": pki.issue_device(p, "zahler-co", "cn", sec1(_key(c).public_key()), "CN-0001"),
        "op": pki.issue_operator(p, "Alice Operator", [R.MSP_OPERATOR, R.LOCAL_OPERATOR],
                                 key_passphrase="alice's own long passphrase"),
        "dcs": pki.issue_dcs(p, "Collect GmbH", sec1(_key(c).public_key())),
    }
    return p, issued


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory):
    p, issued = build(tmp_path_factory.mktemp("pki") / "pki")
    yield p, issued
    p.close()


def _all(p, issued):
    """(kind, certificate) for every authority and every issued certificate."""
    out = [(p.meta["authorities"][a]["kind"], p.certificate(a)) for a in p.authorities()]
    return out + sorted(issued.items())


def _der(c):
    return c.public_bytes(serialization.Encoding.DER)


def test_hierarchy_is_fig_2(hierarchy):
    p, issued = hierarchy
    assert sorted(p.authorities()) == ["ca", "calibration", "institute", "manufacturer:acme-meters",
                                       "manufacturer:zahler-co", "sm", "software"]
    names = lambda c: [x.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
                       for x in pki.chain(p, c)]
    assert names(issued["em"]) == ["Energy Meter (CERT_EM)", "Calibration Authority",
                                   "Metrological Institute Root"]
    assert names(issued["muc"]) == ["MUC (CERT_MUC)", "Manufacturer CA (CERT_MFC)",
                                    "CA Root (Trusted Third Party)"]
    assert names(issued["op"]) == ["Operator (CERT_OP)", "MSP Security Management (CERT_SM)",
                                   "CA Root (Trusted Third Party)"]
    assert names(issued["dcs"])[1] == "MSP Security Management (CERT_SM)"
    assert names(p.certificate("software")) == ["Software Approval", "Metrological Institute Root"]
    assert pki.trust_anchor(p, "institute") == pki.chain(p, issued["em"])[-1]
    assert pki.trust_anchor(p, "ca") == pki.chain(p, issued["cn"])[-1]
    assert issued["cn"].issuer == p.certificate("manufacturer:Zähler & Co").subject


# What docs/pki.md's table promises, written out again here (not read from KINDS).
PROFILE = {  # kind: (cA, pathLen, keyUsage, roles, years)
    "institute": (True, 1, {"key_cert_sign", "crl_sign"}, None, 40),
    "calibration": (True, 0, {"key_cert_sign", "crl_sign"}, None, 30),
    "software": (False, None, {"digital_signature"}, ["software-approval"], 10),
    "ca": (True, 1, {"key_cert_sign", "crl_sign"}, None, 30),
    "manufacturer": (True, 0, {"digital_signature", "key_cert_sign", "crl_sign"},
                     ["manufacturer"], 20),
    "sm": (True, 0, {"digital_signature", "key_cert_sign", "crl_sign"}, ["msp-security"], 10),
    "em": (False, None, {"digital_signature"}, None, 25),
    "muc": (False, None, {"digital_signature"}, None, 15),
    "cn": (False, None, {"digital_signature"}, None, 15),
    "op": (False, None, {"digital_signature"}, ["msp-operator", "local-operator"], 2),
    "dcs": (False, None, {"digital_signature"}, ["data-collection"], 1),
}
_KU = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
       "key_agreement", "key_cert_sign", "crl_sign")


def test_every_certificate_follows_the_profile(hierarchy):
    p, issued = hierarchy
    serials = set()
    for kind, c in _all(p, issued):
        ca, path_len, usage, roles, years = PROFILE[kind]
        assert c.version == cx509.Version.v3
        assert c.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
        assert 0 < c.serial_number < 2 ** 159 and c.serial_number not in serials
        serials.add(c.serial_number)
        bc = c.extensions.get_extension_for_class(cx509.BasicConstraints)
        assert bc.critical and (bc.value.ca, bc.value.path_length) == (ca, path_len), kind
        ku = c.extensions.get_extension_for_class(cx509.KeyUsage)
        assert ku.critical and {n for n in _KU if getattr(ku.value, n)} == usage, kind
        ski = c.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier)
        assert not ski.critical
        assert ski.value == cx509.SubjectKeyIdentifier.from_public_key(c.public_key())
        issuer = pki.chain(p, c)[1] if c.issuer != c.subject else c
        aki = c.extensions.get_extension_for_class(cx509.AuthorityKeyIdentifier)
        assert aki.value.key_identifier == issuer.extensions.get_extension_for_class(
            cx509.SubjectKeyIdentifier).value.digest
        if roles is None:
            with pytest.raises(cx509.ExtensionNotFound):
                c.extensions.get_extension_for_oid(ROLE)
        else:
            ext = c.extensions.get_extension_for_oid(ROLE)
            assert not ext.critical
            assert x509.parse(_der(c)).roles == roles
        span = c.not_valid_after_utc - c.not_valid_before_utc
        assert abs(span - datetime.timedelta(days=365.25 * years)) < datetime.timedelta(days=2)
        assert c.not_valid_after_utc <= issuer.not_valid_after_utc
        assert c.not_valid_before_utc <= NOW <= c.not_valid_after_utc
    sn = lambda c: c.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert sn(issued["em"]) == "1MSL0012345678" and sn(issued["muc"]) == "9MSL0000000042"
    org = issued["cn"].subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == "Zähler & Co"


def _firmware_verdict(p, c, **kw):
    ch = pki.chain(p, c)
    return x509.verify_chain(iter([_der(x) for x in ch[:-1]]), [_der(ch[-1])],
                             int(NOW.timestamp()), **kw)


def test_firmware_accepts_every_chain_and_reads_the_roles(hierarchy):
    p, issued = hierarchy
    for kind, c in _all(p, issued):
        if c.issuer == c.subject:
            continue
        leaf = _firmware_verdict(p, c, required_usage=x509.KU_DIGITAL_SIGNATURE
                                 if not PROFILE[kind][0] else None)
        assert leaf.public_key() == sec1(c.public_key())
        assert leaf.roles == PROFILE[kind][3]
    assert _firmware_verdict(p, issued["op"], required_role=R.MSP_OPERATOR).describe() == \
        "CN=Alice Operator"
    assert _firmware_verdict(p, p.certificate("sm"), required_role=R.MSP_SECURITY)
    assert _firmware_verdict(p, issued["dcs"], required_role=R.DATA_COLLECTION)
    with pytest.raises(x509.ChainError) as e:
        _firmware_verdict(p, issued["op"], required_role=R.MSP_SECURITY)
    assert e.value.reason == "role"
    # The MSP's operators under the other root's anchor: refused, as cryptography refuses them.
    with pytest.raises(x509.ChainError) as e:
        x509.verify_chain([_der(issued["op"]), _der(p.certificate("sm"))],
                          [_der(p.certificate("institute"))])
    assert e.value.reason == "untrusted"
    # The paper's MSP anchor (CERT_SM itself) is enough for a device to check its operators.
    x509.verify_chain([_der(issued["op"])], [_der(pki.trust_anchor(p, "sm"))])


def test_cryptography_verifier_accepts_every_chain(hierarchy):
    p, issued = hierarchy
    for kind, c in _all(p, issued):
        ch = pki.chain(p, c)
        if len(ch) == 1:
            continue
        verifier = (PolicyBuilder().store(Store([ch[-1]])).time(NOW)
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        verified = verifier.verify(c, ch[1:-1])
        assert verified.chain == ch, kind
    with pytest.raises(Exception, match="candidates exhausted"):
        (PolicyBuilder().store(Store([p.certificate("ca")])).time(NOW)
         .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                             ee_policy=ExtensionPolicy.permit_all())
         .build_client_verifier().verify(issued["em"], [p.certificate("calibration")]))


def test_keys_on_disk_are_encrypted_and_private(hierarchy):
    p, _ = hierarchy
    files = sorted((p.path / "private").iterdir()) + sorted((p.path / "keys").iterdir())
    assert len(files) == 8  # 7 authorities + Alice's generated key
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        data = f.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(data, None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(data, b"wrong passphrase!")
    assert stat.S_IMODE((p.path / "private").stat().st_mode) == 0o700
    key = serialization.load_pem_private_key((p.path / "private" / "sm.key.pem").read_bytes(),
                                             PASS.encode())
    assert sec1(key.public_key()) == sec1(p.certificate("sm").public_key())
    alice = serialization.load_pem_private_key(
        pki.holder_key_path(p, "op", "Alice Operator").read_bytes(),
        b"alice's own long passphrase")
    assert isinstance(alice, ec.EllipticCurvePrivateKey)
    # The passphrase is nowhere on disk, in any form we could have written it.
    for root, _, names in os.walk(p.path):
        for n in names:
            data = open(os.path.join(root, n), "rb").read()
            for form in (PASS.encode(), PASS.encode("utf-16-le"), PASS.encode().hex().encode()):
                assert form not in data, n


def test_wrong_passphrase_is_refused_before_anything_is_issued(hierarchy):
    p, _ = hierarchy
    with pki.open_pki(p.path, "not the passphrase") as other:
        before = len(other.index.rows())
        with pytest.raises(pki.PkiError, match="wrong passphrase"):
            pki.issue_em(other, sec1(_key().public_key()), "1MSL0000000001")
        assert len(other.index.rows()) == before


def test_index_lists_everything_issued(hierarchy):
    p, issued = hierarchy
    rows = p.index.rows()
    want = {pki.fingerprint(c): kind for kind, c in _all(p, issued)}
    assert {r["fingerprint"]: r["kind"] for r in rows} == want
    for r in rows:
        c = pki.load_issued(p, r)
        assert hashlib.sha256(_der(c)).hexdigest() == r["fingerprint"]
        assert int(r["serial"], 16) == c.serial_number and r["status"] == "valid"
        assert r["not_after"] == c.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [r["identity"] for r in p.index.rows(kind="em")] == ["1MSL0012345678"]
    assert p.index.rows(kind="op")[0]["roles"] == "msp-operator,local-operator"
    assert len(p.index.rows(issuer="ca")) == 3
    assert pki.find(p, pki.fingerprint(issued["em"])[:10])["kind"] == "em"
    assert pki.find(p, format(issued["em"].serial_number, "x").upper())["kind"] == "em"
    with pytest.raises(pki.PkiError, match="no certificate"):
        pki.find(p, "deadbeefdeadbeef")


def test_revocation_and_crl(tmp_path):
    p, issued = build(tmp_path / "pki")
    with p:
        crl, path = pki.make_crl(p, "calibration")
        assert len(crl) == 0 and path.exists()
        pki.revoke(p, format(issued["em"].serial_number, "x"), "key-compromise")
        with pytest.raises(pki.PkiError, match="already revoked"):
            pki.revoke(p, format(issued["em"].serial_number, "x"))
        with pytest.raises(pki.PkiError, match="root"):
            pki.revoke(p, format(p.certificate("institute").serial_number, "x"))
        pki.revoke(p, pki.fingerprint(issued["muc"]), "cessation-of-operation")
        crl, path = pki.make_crl(p, "calibration")
        parsed = cx509.load_der_x509_crl(path.read_bytes())
        assert parsed == crl
        assert parsed.is_signature_valid(p.certificate("calibration").public_key())
        assert parsed.issuer == p.certificate("calibration").subject
        assert parsed.extensions.get_extension_for_class(cx509.CRLNumber).value.crl_number == 2
        entry = parsed.get_revoked_certificate_by_serial_number(issued["em"].serial_number)
        assert entry.extensions.get_extension_for_class(cx509.CRLReason).value.reason == \
            cx509.ReasonFlags.key_compromise
        assert len(parsed) == 1  # the MUC is the manufacturer's to list
        mfc, _ = pki.make_crl(p, "manufacturer:acme-meters")
        assert [r.serial_number for r in mfc] == [issued["muc"].serial_number]
        assert mfc.is_signature_valid(p.certificate("manufacturer:acme-meters").public_key())
        assert [r["kind"] for r in p.index.rows(status="revoked")] == ["em", "muc"]
        with pytest.raises(pki.PkiError, match="not a certification authority"):
            pki.make_crl(p, "software")


def _board_pop(challenge):
    """What the board does (docs/pki.md), with the firmware's own ECDSA."""
    curve = ecdsa.P256
    d = ecdsa.generate_private(curve, os.urandom)
    pub = ecdsa.encode_point(curve, ecdsa.public_point(curve, d))
    digest = hashlib.sha256(b"MeterSeal proof of possession v1\x00" + challenge + pub).digest()
    return pub, ecdsa.sign_raw(curve, d, digest)


def test_proof_of_possession():
    challenge = pki.new_challenge()
    assert len(challenge) == 32 and challenge != pki.new_challenge()
    pub, sig = _board_pop(challenge)
    assert pki.verify_pop(pub, challenge, sig) is None
    other_pub, other_sig = _board_pop(challenge)
    bad = bytearray(sig)
    bad[40] ^= 1
    for args in ((pub, pki.new_challenge(), sig), (other_pub, challenge, sig),
                 (pub, challenge, bytes(bad)), (pub, challenge, sig[:63])):
        with pytest.raises(pki.PopError) as e:
            pki.verify_pop(*args)
        assert e.value.exit_code == 1
    with pytest.raises(pki.PopError, match="not a point"):
        pki.verify_pop(b"\x04" + bytes(64), challenge, sig)
    with pytest.raises(pki.PkiError, match="32"):
        pki.verify_pop(pub, challenge[:16], sig)
    # cryptography signs the same message the same way.
    k = _key()
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    r, s = decode_dss_signature(k.sign(pki.pop_message(challenge, sec1(k.public_key())),
                                       ec.ECDSA(hashes.SHA256())))
    pki.verify_pop(sec1(k.public_key()), challenge, r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class CountingSigner(Signer):
    """Stands in for an HSM: holds its key elsewhere, only signs."""

    def __init__(self, key, corrupt=False):
        self.inner, self.calls, self.corrupt = KeySigner(key), 0, corrupt

    def public_key(self):
        return self.inner.public_key()

    def sign(self, tbs):
        self.calls += 1
        sig = self.inner.sign(tbs)
        return sig[:-1] + bytes([sig[-1] ^ 1]) if self.corrupt else sig


def test_an_external_signer_replaces_the_key_file(tmp_path):
    p, _ = build(tmp_path / "pki")
    with p:
        key = serialization.load_pem_private_key(
            (p.path / "private" / "calibration.key.pem").read_bytes(), PASS.encode())
        with pytest.raises(pki.PkiError, match="not the one certified"):
            p.use_signer("calibration", CountingSigner(_key()))
        hsm = CountingSigner(key)
        p.use_signer("calibration", hsm)
        em = pki.issue_em(p, sec1(_key().public_key()), "1MSL0000000002")
        assert hsm.calls == 1
        em.verify_directly_issued_by(p.certificate("calibration"))
        _firmware_verdict(p, em)
        before = len(p.index.rows())
        p.use_signer("calibration", CountingSigner(key, corrupt=True))
        with pytest.raises(pki.PkiError, match="signer returned a signature"):
            pki.issue_em(p, sec1(_key().public_key()), "1MSL0000000003")
        assert len(p.index.rows()) == before
        assert sorted(f.name for f in (p.path / "issued").iterdir()) == sorted(
            "%x.pem" % int(r["serial"], 16) for r in p.index.rows())


def test_validity_stays_inside_the_issuer(hierarchy):
    p, _ = hierarchy
    cal = p.certificate("calibration")
    late = cal.not_valid_after_utc - datetime.timedelta(days=365)
    em = pki.issue_em(p, sec1(_key().public_key()), "1MSL0000000009", not_before=late)
    assert em.not_valid_before_utc == late and em.not_valid_after_utc == cal.not_valid_after_utc
    with pytest.raises(pki.PkiError, match="nothing left to issue"):
        pki.issue_em(p, sec1(_key().public_key()), "1MSL0000000010",
                     not_before=cal.not_valid_after_utc)


def test_bad_requests_are_refused(hierarchy, tmp_path):
    p, _ = hierarchy
    pub = sec1(_key().public_key())
    cases = [
        (lambda: pki.issue_operator(p, "Mallory", [R.MSP_SECURITY], pub), "does not grant"),
        (lambda: pki.issue_operator(p, "Mallory", ["root"], pub), "does not grant"),
        (lambda: pki.issue_operator(p, "Mallory", [], pub), "at least one role"),
        (lambda: pki.issue_operator(p, "Alice Operator", [R.CUSTOMER],
                                    key_passphrase="another long passphrase"), "has a key already"),
        (lambda: pki.issue_operator(p, "Bob", [R.CUSTOMER]), "own passphrase"),
        (lambda: pki.issue_operator(p, "Bob", [R.CUSTOMER], key_passphrase="short"), "at least"),
        (lambda: pki.issue_em(p, pub, "../../etc/passwd"), "metering identity"),
        (lambda: pki.issue_em(p, pub[:-1] + bytes([pub[-1] ^ 1]), "1MSL1"), "not a public key"),
        (lambda: pki.issue_em(p, sec1(_key(ec.BrainpoolP256R1()).public_key()), "1MSL1"),
         "not a public key"),
        (lambda: pki.issue_em(p, _key(ec.SECP384R1()).public_key(), "1MSL1"), "secp384r1"),
        (lambda: pki.issue_device(p, "Nobody", "muc", pub, "1MSL1"), "no authority"),
        (lambda: pki.issue_device(p, "ACME Meters", "em", pub, "1MSL1"), "muc or cn"),
        (lambda: pki.add_manufacturer(p, "ACME  meters"), "exists already"),
        (lambda: pki.init_pki(p.path, PASS), "not empty"),
        (lambda: pki.init_pki(tmp_path / "x", "short"), "at least 12"),
        (lambda: pki.init_pki(tmp_path / "y", PASS, curve="p384"), "unknown curve"),
        (lambda: pki.open_pki(tmp_path / "nothing"), "no PKI in"),
    ]
    before = len(p.index.rows())
    for call, msg in cases:
        with pytest.raises(pki.PkiError, match=msg):
            call()
    assert len(p.index.rows()) == before


def test_brainpool_hierarchy(tmp_path):
    p, issued = build(tmp_path / "bp", curve="brainpoolP256r1")
    with p:
        for kind, c in _all(p, issued):
            assert isinstance(c.public_key().curve, ec.BrainpoolP256R1), kind
            if c.issuer != c.subject:
                for link, up in zip(pki.chain(p, c), pki.chain(p, c)[1:]):
                    link.verify_directly_issued_by(up)
                leaf = _firmware_verdict(p, c)
                assert leaf.curve() is ecdsa.BRAINPOOLP256R1
        # A P-256 board key can still be certified by a brainpool authority, when asked.
        em = pki.issue_em(p, sec1(_key().public_key()), "1MSL0000000077", curve="p256")
        assert _firmware_verdict(p, em).curve() is ecdsa.P256


def test_kinds_table_matches_the_test_profile():
    for name, (ca, path_len, usage, roles, years) in PROFILE.items():
        k = KINDS[name]
        assert (k.ca, k.path_len, set(k.usage), k.years) == (ca, path_len, usage, years)


def test_key_files_of_earlier_folders_still_load(tmp_path):
    """Keys written before pkcs8.py (cryptography's BestAvailableEncryption, 2048 rounds) load;
    new ones carry the configured rounds (K1)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec as cec

    from host_tools.pki_keys import load_private_key, save_private_key

    key = cec.generate_private_key(cec.SECP256R1())
    old = tmp_path / "old.key.pem"
    old.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"a long passphrase")))
    assert load_private_key(str(old), "a long passphrase").private_numbers() == \
        key.private_numbers()
    new = tmp_path / "new.key.pem"
    save_private_key(str(new), key, "a long passphrase")
    assert new.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert load_private_key(str(new), "a long passphrase").private_numbers() == \
        key.private_numbers()
    with pytest.raises(pki.PkiError, match="wrong passphrase"):
        load_private_key(str(new), "not the passphrase")
