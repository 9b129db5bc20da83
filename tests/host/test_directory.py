"""The certificate directory (K6): folder backend round trips, chains, renewals, tampering, and
`meterseal dir publish|fetch|list`."""
import io
import json

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec

from host_tools import cli, pki
from host_tools.directory import Directory, DirectoryError, FolderDirectory, open_directory
from host_tools.pki_profile import sec1
from meterseal.crypto import x509

PASS = "directory test passphrase"


def _pub():
    return sec1(ec.generate_private_key(ec.SECP256R1()).public_key())


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    p = pki.init_pki(tmp_path_factory.mktemp("ca") / "pki", PASS)
    em = pki.issue_em(p, _pub(), "1MSL0012345678")
    op = pki.issue_operator(p, "Olga", ["msp-operator"], _pub())
    yield p, em, op
    p.close()


def test_publish_fetch_list_round_trip(ca, tmp_path):
    p, em, op = ca
    d = FolderDirectory(tmp_path / "dir")
    assert d.list() == []
    entries = d.publish_pki(p)
    assert len(entries) == 8 and len(d.list()) == 8
    assert d.publish_pki(p) == entries  # idempotent
    assert d.fetch("1MSL0012345678") == em
    assert d.fetch("1msl0012345678") == em
    assert d.fetch(pki.fingerprint(op)[:8]) == op
    assert d.fetch("Olga") == op and d.fetch(op.subject.rfc4514_string()) == op
    assert [e["identity"] for e in d.list("em")] == ["1MSL0012345678"]
    assert {e["kind"] for e in d.list()} == {"institute", "calibration", "software", "ca",
                                            "manufacturer", "sm", "em", "op"}
    e = d.find("1MSL0012345678")
    assert e["name"] == "em-1MSL0012345678" and e["serial"] == format(em.serial_number, "x")
    folder = tmp_path / "dir"
    assert cx509.load_der_x509_certificate((folder / "em-1MSL0012345678.der").read_bytes()) == em
    assert cx509.load_pem_x509_certificate((folder / "em-1MSL0012345678.pem").read_bytes()) == em
    index = json.loads((folder / "index.json").read_text())
    assert len(index["entries"]) == 8 and index["format"] == 1
    # A second Directory object over the same folder sees the same things.
    assert FolderDirectory(folder, create=False).fetch("Olga") == op


def test_chains_come_out_of_the_directory_and_verify(ca, tmp_path):
    p, em, op = ca
    d = FolderDirectory(tmp_path / "dir")
    d.publish_pki(p)
    chain = d.fetch_chain("1MSL0012345678")
    assert chain == pki.chain(p, em)
    ders = [pki.to_der(c) for c in chain]
    anchor = pki.to_der(d.fetch("metrological-institute-root-ca"))
    assert x509.verify_chain(ders[:-1], [anchor]).public_key() == sec1(em.public_key())
    assert d.fetch_chain("Olga", kind="op")[1] == p.certificate("sm")
    # Without the issuers, the chain cannot be completed.
    lone = FolderDirectory(tmp_path / "lone")
    lone.publish(em)
    with pytest.raises(DirectoryError, match="chain incomplete"):
        lone.fetch_chain("1MSL0012345678")


def test_renewal_ambiguity_and_tampering(tmp_path):
    p = pki.init_pki(tmp_path / "pki", PASS)
    em = pki.issue_em(p, _pub(), "1MSL0012345678")
    d = FolderDirectory(tmp_path / "dir")
    d.publish(em)
    later = pki.issue_em(p, _pub(), "1MSL0012345678",
                         not_before=em.not_valid_before_utc.replace(year=em.not_valid_before_utc
                                                                    .year + 1))
    e = d.publish(later)
    assert e["name"] == "em-1MSL0012345678-2"
    assert d.fetch("1MSL0012345678") == later  # the newest of a holder's certificates
    assert d.fetch(pki.fingerprint(em)) == em
    d.publish(p.certificate("institute"), kind="muc", identity="1MSL0012345678")
    with pytest.raises(DirectoryError, match="several kinds"):
        d.fetch("1MSL0012345678")
    assert d.fetch("1MSL0012345678", kind="em") == later
    with pytest.raises(DirectoryError, match="nothing in the directory"):
        d.fetch("9XXX")
    with pytest.raises(DirectoryError, match="unknown kind"):
        d.publish(em, kind="bogus")
    # A file swapped behind the index's back is refused.
    (tmp_path / "dir" / "em-1MSL0012345678.der").write_bytes(pki.to_der(later))
    with pytest.raises(DirectoryError, match="does not hold the certificate"):
        d.fetch(pki.fingerprint(em))
    p.close()


def test_backends_and_interface():
    with pytest.raises(DirectoryError, match="LDAP backend is not implemented"):
        open_directory("ldap://directory.example:389/ou=meters")
    with pytest.raises(DirectoryError, match="no directory"):
        open_directory(None)
    with pytest.raises(NotImplementedError):
        Directory().list()


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("METERSEAL_DIRECTORY", raising=False)
    monkeypatch.delenv("METERSEAL_PKI", raising=False)
    monkeypatch.delenv("METERSEAL_CA_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def _run(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return _run


def test_dir_commands(ca, run, tmp_path, monkeypatch):
    p, em, op = ca
    dd = tmp_path / "dir"
    n = len(p.index.rows(status="valid"))
    code, out, _ = run("dir", "publish", "--directory", dd, "--from-ca", "--ca", p.path)
    assert code == 0 and "%d certificates of %s in the directory (%d new)" % (n, p.path, n) in out
    code, out, _ = run("dir", "list", "--directory", dd, "--kind", "em")
    assert code == 0 and "1MSL0012345678" in out and "1 certificate\n" in out
    code, out, _ = run("dir", "fetch", "--directory", dd, "1MSL0012345678")
    assert code == 0 and cx509.load_pem_x509_certificate(out.encode()) == em
    code, out, _ = run("dir", "fetch", "--directory", dd, "1MSL0012345678", "--chain",
                       "-o", tmp_path / "chain.pem")
    assert code == 0 and "wrote 3 certificates" in out
    assert cx509.load_pem_x509_certificates((tmp_path / "chain.pem").read_bytes()) == \
        pki.chain(p, em)
    monkeypatch.setenv("METERSEAL_DIRECTORY", str(tmp_path / "other"))
    code, out, _ = run("dir", "publish", tmp_path / "chain.pem")
    assert code == 0 and out.count("published") == 3
    assert run("dir", "fetch", "1MSL0012345678", "--der", "-o", tmp_path / "em.der")[0] == 0
    assert cx509.load_der_x509_certificate((tmp_path / "em.der").read_bytes()) == em
    code, _, err = run("dir", "publish", tmp_path / "em.der", "--kind", "op", "--identity", "x")
    assert code == 0
    code, _, err = run("dir", "fetch", "nobody")
    assert code == 2 and err == "meterseal: dir: nothing in the directory for 'nobody'\n"
    code, _, err = run("dir", "publish")
    assert code == 2 and "give certificate FILEs or --from-ca" in err
    code, _, err = run("dir", "publish", "--from-ca")
    assert code == 2 and "--from-ca needs --ca PKI" in err
    (tmp_path / "junk").write_bytes(b"junk")
    code, _, err = run("dir", "publish", tmp_path / "junk")
    assert code == 2 and "holds no readable certificate" in err
    assert run("dir", "fetch", "1MSL0012345678", "--der")[0] == 2
    monkeypatch.delenv("METERSEAL_DIRECTORY")
    code, _, err = run("dir", "list")
    assert code == 2 and "no directory: give --directory DIR" in err


def test_crls_checked_and_kept_per_authority_from_files_and_from_the_ca(tmp_path, run):
    """K6: the directory keeps every CRL an authority published (a later one may drop an
    expired certificate's entry), each checked against its issuer when published; `dir publish`
    takes CRL files (PEM or DER) and `--from-ca` the CA's; `dir list` shows them."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from host_tools.pki_profile import build_crl

    p = pki.init_pki(tmp_path / "pki", PASS)
    try:
        em = pki.issue_em(p, _pub(), "1MSL0099999999")
        first, _ = pki.make_crl(p, "calibration")
        pki.revoke(p, format(em.serial_number, "x"), "key-compromise")
        second, second_path = pki.make_crl(p, "calibration")
        d = FolderDirectory(tmp_path / "dir")
        with pytest.raises(DirectoryError, match="no certificate of its issuer"):
            d.publish_crl(second)  # the calibration authority is not in this directory yet
        d.publish(p.certificate("calibration"))
        assert d.crls() == []
        assert d.publish_crl(second) is True
        assert d.publish_crl(first) is True  # history: both stay
        assert d.publish_crl(second) is False
        assert sorted(len(c) for c in d.crls()) == [0, 1]
        # a CRL in the authority's name under another key is not published
        other = ec.generate_private_key(ec.SECP256R1())

        class OtherSigner:
            def public_key(self):
                return other.public_key()

            def sign(self, tbs):
                from cryptography.hazmat.primitives import hashes

                return other.sign(tbs, ec.ECDSA(hashes.SHA256()))

        forged = build_crl(p.certificate("calibration"), OtherSigner(), [], 99)
        with pytest.raises(DirectoryError, match="not published"):
            d.publish_crl(forged)
        assert len(d.crls()) == 2
        (tmp_path / "first.pem").write_bytes(first.public_bytes(Encoding.PEM))
        dd = tmp_path / "dir2"
        run("dir", "publish", "--directory", dd, "--from-ca", "--ca", p.path)
        code, out, _ = run("dir", "publish", "--directory", dd, tmp_path / "first.pem")
        assert code == 0 and out.startswith("published CRL 1 of CN="), out
        code, out, _ = run("dir", "publish", "--directory", dd, second_path)  # DER, already in
        assert code == 0 and out.startswith("already there: CRL 2 of CN="), out
        code, out, _ = run("dir", "list", "--directory", dd)
        assert code == 0 and "CRL of" in out and "Calibration" in out
        (tmp_path / "bad.pem").write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
        code, _, err = run("dir", "publish", "--directory", dd, tmp_path / "bad.pem")
        assert code == 2 and "holds no readable CRL" in err
    finally:
        p.close()
