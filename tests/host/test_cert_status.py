"""Validity dates and revocation of a chain at the moment something was signed (S1, K6):
the chain model host_tools.cert_status applies to sealed readings checked years later."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host_tools.cert_status import ChainStatus, StatusError

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _cert(cn, key, issuer=None, issuer_key=None, start=T0, days=365, ca=False, serial=None,
          crl_sign=True):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ku = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                        "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                        "encipher_only", "decipher_only"), False)
    ku.update(key_cert_sign=ca, crl_sign=ca and crl_sign, digital_signature=not ca)
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer.subject if issuer else name)
         .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
         .not_valid_before(start).not_valid_after(start + days * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(**ku), critical=True))
    return b.sign(issuer_key or key, hashes.SHA256())


def _crl(issuer, key, number, revoked=(), invalid_since=None, issued=T0 + 100 * DAY):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
         .last_update(issued).next_update(issued + 30 * DAY)
         .add_extension(x509.CRLNumber(number), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                        critical=False))
    for serial, when in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if invalid_since is not None:
            rb = rb.add_extension(x509.InvalidityDate(invalid_since), critical=False)
        b = b.add_revoked_certificate(rb.build())
    return b.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki():
    k = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "cal", "em", "other")}
    root = _cert("Institute root", k["root"], start=T0 - 400 * DAY, days=3650, ca=True)
    cal = _cert("Calibration", k["cal"], root, k["root"], start=T0 - 10 * DAY, days=1000, ca=True)
    em = _cert("CERT_EM 1MSL0012345678", k["em"], cal, k["cal"], start=T0, days=365)
    return k, [em, cal, root]


def ts(dt):
    return dt.timestamp()


def test_readings_inside_the_validity_pass_outside_fail(pki):
    _, chain = pki
    st = ChainStatus(chain)
    st.check_signed_at(ts(T0))
    st.check_signed_at(ts(T0 + 364 * DAY))
    with pytest.raises(StatusError, match="before its certificate was valid"):
        st.check_signed_at(ts(T0) - 1)
    with pytest.raises(StatusError, match="after its certificate expired"):
        st.check_signed_at(ts(T0 + 365 * DAY) + 1)
    # no CRL given: the verifier must be able to say revocation was not checked
    assert st.unchecked() == ["CN=CERT_EM 1MSL0012345678", "CN=Calibration"]


def test_a_revoked_meter_keeps_what_it_signed_before(pki):
    k, chain = pki
    em, cal, _ = chain
    crl = _crl(cal, k["cal"], 1, [(em.serial_number, T0 + 100 * DAY)])
    st = ChainStatus(chain, [crl])
    st.check_signed_at(ts(T0 + 100 * DAY) - 1)
    with pytest.raises(StatusError, match="not before its certificate was revoked"):
        st.check_signed_at(ts(T0 + 100 * DAY))
    assert st.sources[0] == "CRL 1 of CN=Calibration" and st.unchecked() == ["CN=Calibration"]
    # a moment known only within a window: revocation must follow the whole window
    with pytest.raises(StatusError, match="revoked"):
        st.check_signed_between(ts(T0 + 99 * DAY), ts(T0 + 100 * DAY) + 10)
    assert st.check_signed_between(ts(T0 + 99 * DAY), ts(T0 + 100 * DAY) - 10) is True


def test_invalidity_date_counts_when_earlier_than_the_revocation(pki):
    k, chain = pki
    em, cal, _ = chain
    crl = _crl(cal, k["cal"], 1, [(em.serial_number, T0 + 100 * DAY)],
               invalid_since=T0 + 40 * DAY)
    st = ChainStatus(chain, [crl])
    st.check_signed_at(ts(T0 + 40 * DAY) - 1)
    with pytest.raises(StatusError, match="revoked"):
        st.check_signed_at(ts(T0 + 50 * DAY))


def test_every_crl_of_the_issuer_counts_not_only_the_newest(pki):
    k, chain = pki
    em, cal, _ = chain
    old = _crl(cal, k["cal"], 1)
    new = _crl(cal, k["cal"], 2, [(em.serial_number, T0 + 10 * DAY)])
    for crls in ([old, new], [new, old]):
        with pytest.raises(StatusError, match="revoked"):
            ChainStatus(chain, crls).check_signed_at(ts(T0 + 20 * DAY))
    # RFC 5280 lets a CA drop an expired certificate's entry from later CRLs: the earlier CRL
    # still says since when CERT_EM was bad
    dropped = _crl(cal, k["cal"], 3, issued=T0 + 400 * DAY)
    st = ChainStatus(chain, [new, dropped])
    with pytest.raises(StatusError, match="revoked"):
        st.check_signed_at(ts(T0 + 200 * DAY))
    assert st.sources[0] == "CRL 3 of CN=Calibration"


def test_signed_after_the_newest_crl_is_not_yet_known(pki):
    k, chain = pki
    st = ChainStatus(chain, [_crl(chain[1], k["cal"], 1)])  # thisUpdate day 100
    assert st.check_signed_at(ts(T0 + 100 * DAY)) is True
    assert st.check_signed_at(ts(T0 + 100 * DAY) + 1) is False
    assert ChainStatus(chain).check_signed_at(ts(T0 + 200 * DAY)) is True  # no CRL: unchecked()
    # a CRL of another authority says nothing about this chain
    other = _cert("Other CA", k["other"], ca=True)
    st = ChainStatus(chain, [_crl(other, k["other"], 9, [(chain[0].serial_number, T0)])])
    st.check_signed_at(ts(T0 + 20 * DAY))


def test_a_crl_that_does_not_verify_is_an_error_not_silence(pki):
    k, chain = pki
    em, cal, _ = chain
    forged = _crl(cal, k["other"], 5)  # the calibration authority's name and another key
    ChainStatus(chain, [forged]).check_signed_at(ts(T0))  # its AKI names that other key: not ours
    b = (x509.CertificateRevocationListBuilder().issuer_name(cal.subject)
         .last_update(T0).next_update(T0 + DAY).add_extension(x509.CRLNumber(6), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             k["cal"].public_key()), critical=False))
    claims_ours = b.sign(k["other"], hashes.SHA256())
    with pytest.raises(StatusError, match="does not verify"):
        ChainStatus(chain, [claims_ours])
    nosign = _cert("Calibration", k["cal"], chain[2], k["root"], start=T0 - 10 * DAY, ca=True,
                   crl_sign=False)
    with pytest.raises(StatusError, match="no cRLSign"):
        ChainStatus([chain[0], nosign, chain[2]], [_crl(nosign, k["cal"], 7)])


def test_a_chain_that_stops_below_a_root_is_unchecked_at_its_top(pki):
    _, chain = pki
    assert ChainStatus(chain[:2]).unchecked() == ["CN=CERT_EM 1MSL0012345678", "CN=Calibration"]
    assert ChainStatus(chain).unchecked() == ["CN=CERT_EM 1MSL0012345678", "CN=Calibration"]
    assert ChainStatus(chain[2:]).unchecked() == []


def test_chain_model_for_the_authorities_above(pki):
    k, chain = pki
    em, cal, root = chain
    # the calibration authority revoked after it issued CERT_EM: CERT_EM's readings still count
    late = _crl(root, k["root"], 1, [(cal.serial_number, T0 + 5 * DAY)])
    ChainStatus(chain, [late]).check_signed_at(ts(T0 + 200 * DAY))
    # revoked before it issued CERT_EM: nothing CERT_EM signed counts
    early = _crl(root, k["root"], 2, [(cal.serial_number, T0 - 1 * DAY)])
    with pytest.raises(StatusError, match="after its issuer CN=Calibration was revoked"):
        ChainStatus(chain, [early]).check_signed_at(ts(T0 + 1 * DAY))
    # CERT_EM issued while its issuer was not yet valid
    em2 = _cert("CERT_EM 2", k["em"], cal, k["cal"], start=T0 - 20 * DAY)
    with pytest.raises(StatusError, match="outside its issuer's validity"):
        ChainStatus([em2, cal, root]).check_signed_at(ts(T0))
