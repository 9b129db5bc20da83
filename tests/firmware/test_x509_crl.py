# X.509 CRLs on the device (S4, K6): parsing CRLs that pyca/cryptography wrote (prep_crl.py),
# checking who signed them, and the revocation list that signed commands consult.
from mptest import MemStorage, raises, unhex, vector_lines

from meterseal.crypto import x509, x509_crl
from meterseal.crypto.errors import DecodeError, InvalidSignature
from meterseal.security.revocation import CrlRefused, RevocationList

_CACHE = {}


def _item(kind, name):
    key = kind + " " + name
    if key not in _CACHE:
        for line in vector_lines("crls.txt"):
            p = line.split()
            if p[0] == kind and p[1] == name:
                _CACHE[key] = unhex(p[2])
                break
        else:
            raise AssertionError("no " + key)
    return _CACHE[key]


def cert(name):
    return _item("cert", name)


def crl(name):
    return _item("crl", name)


def test_parse_a_crl_written_by_another_implementation():
    c = x509_crl.parse(crl("good"))
    sm = x509.parse(cert("sm"))
    assert c.number == 3
    assert c.serials == [0x1234, 0x99]  # entries with reasonCode and invalidityDate
    assert bytes(c.issuer()) == bytes(sm.subject())
    assert c.this_update == 1767225600 + 10 * 86400  # 2026-01-11 00:00 UTC
    assert c.next_update == 1767225600 + 40 * 86400
    c.verify(sm)
    assert x509_crl.parse(crl("newer_empty")).serials == []
    assert x509_crl.parse(crl("long_serial")).serials == [0x5678ABCDEF0123456789]


def test_only_the_issuer_with_crl_sign_verifies_it():
    good = x509_crl.parse(crl("good"))
    with raises(InvalidSignature):
        good.verify(x509.parse(cert("twin")))  # the same name, another key
    with raises(InvalidSignature):
        x509_crl.parse(crl("by_nosign")).verify(x509.parse(cert("nosign")))  # no cRLSign
    with raises(InvalidSignature):
        good.verify(x509.parse(cert("op1")))  # another name, and no CA
    bad = bytearray(crl("good"))
    i = bytes(bad).index(b"\x02\x02\x12\x34")  # the serial 0x1234 of the first entry
    bad[i + 3] = 0x35
    with raises(InvalidSignature):
        x509_crl.parse(bytes(bad)).verify(x509.parse(cert("sm")))


def test_what_the_profile_refuses():
    with raises(DecodeError):
        x509_crl.parse(crl("no_number"))  # 5.2.3: conforming issuers include CRLNumber
    for name in ("delta", "idp"):  # critical extensions a device does not process (5.2)
        with raises(DecodeError) as e:
            x509_crl.parse(crl(name))
        assert e.value.args[0] == "critical-extension", e.value.args
    x509_crl.parse(crl("raw_ok")).verify(x509.parse(cert("sm")))  # the hand-made form is right
    with raises(DecodeError):
        x509_crl.parse(crl("raw_empty_revoked"))  # 5.1.2.6: an empty list MUST be absent
    with raises(DecodeError):
        x509_crl.parse(crl("raw_next_before_this"))
    good = crl("good")
    for n in range(len(good)):  # every truncation is refused, none crashes
        with raises(DecodeError):
            x509_crl.parse(good[:n])
    with raises(DecodeError):
        x509_crl.parse(good + b"\x00")


def test_revocation_list_applies_newer_crls_of_trusted_issuers_only():
    st = MemStorage()
    rl = RevocationList(st)
    sm = cert("sm")
    op1, op2 = x509.parse(cert("op1")), x509.parse(cert("op2"))
    assert not rl.is_revoked(op1.issuer(), op1.serial)
    assert rl.update(crl("good"), [cert("nosign"), sm]) == ("CN=MSP Security Management", 3, 2)
    assert rl.is_revoked(op1.issuer(), op1.serial) and not rl.is_revoked(op2.issuer(), op2.serial)
    assert not rl.is_revoked(x509.parse(cert("nosign")).subject(), op1.serial)  # other issuer
    for name, reason in (("older", "stale"), ("good", "stale"), ("by_twin", "issuer"),
                         ("by_nosign", "issuer"), ("no_number", "malformed"),
                         ("delta", "malformed")):
        with raises(CrlRefused) as e:
            rl.update(crl(name), [sm, cert("nosign")])
        assert e.value.reason == reason, (name, e.value.args)
        assert rl.is_revoked(op1.issuer(), op1.serial) and rl.number(op1.issuer()) == 3
    with raises(CrlRefused) as e:
        rl.update(crl("good"), [])  # no anchor issued it
    # persisted: a restart knows the same; a newer CRL replaces the list (un-revokes op1)
    rl = RevocationList(st)
    assert rl.is_revoked(op1.issuer(), op1.serial) and rl.number(op1.issuer()) == 3
    assert rl.update(crl("long_serial"), [sm])[1:] == (5, 1)
    rl = RevocationList(st)
    assert rl.is_revoked(op2.issuer(), op2.serial) and not rl.is_revoked(op1.issuer(), op1.serial)
    rl.clear()
    assert not RevocationList(st).is_revoked(op2.issuer(), op2.serial)


def test_chain_verification_refuses_a_revoked_certificate():
    rl = RevocationList(MemStorage())
    rl.update(crl("good"), [cert("sm")])
    anchors = [cert("sm")]
    x509.verify_chain([cert("op1")], anchors)  # without the list: valid
    with raises(x509.ChainError) as e:
        x509.verify_chain([cert("op1")], anchors, revoked=rl.is_revoked)
    assert e.value.reason == "revoked" and e.value.depth == 0, e.value.args
    leaf = x509.verify_chain([cert("op2")], anchors, revoked=rl.is_revoked)
    assert leaf.serial == 0x5678ABCDEF0123456789


def test_an_anchor_its_issuer_revoked_no_longer_anchors_anything():
    # CERT_SM (an anchor on the meter) revoked by the CA root's CRL: its operators are refused.
    rl = RevocationList(MemStorage())
    x509.verify_chain([cert("op3")], [cert("sm2")], revoked=rl.is_revoked)
    assert rl.update(crl("root_revokes_sm2"), [cert("root")])[1:] == (1, 1)
    for chain in ([cert("op3")], [cert("op3"), cert("sm2")]):  # anchor given or found
        with raises(x509.ChainError) as e:
            x509.verify_chain(chain, [cert("sm2")], revoked=rl.is_revoked)
        assert e.value.reason == "revoked" and e.value.depth == 1, e.value.args
    with raises(x509.ChainError) as e:
        x509.verify_chain([cert("sm2")], [cert("root")], revoked=rl.is_revoked)
    assert e.value.reason == "revoked" and e.value.depth == 0
    x509.verify_chain([cert("root")], [cert("root")], revoked=rl.is_revoked)  # roots: never


def test_a_new_authority_of_the_same_name_numbers_its_crls_afresh():
    # A new MSP (or a rolled-over key) under the same name: its CRL 1 is not "stale" against
    # the old key's CRL 3, and what the old one revoked stays revoked.
    rl = RevocationList(MemStorage())
    op1, op2 = x509.parse(cert("op1")), x509.parse(cert("op2"))
    rl.update(crl("good"), [cert("sm")])
    assert rl.update(crl("twin_low"), [cert("twin")])[1:] == (1, 1)
    assert rl.is_revoked(op1.issuer(), op1.serial) and rl.is_revoked(op2.issuer(), op2.serial)
    assert rl.number(op1.issuer()) == 3
    with raises(CrlRefused) as e:
        rl.update(crl("twin_low"), [cert("twin")])
    assert e.value.reason == "stale"
