"""`meterseal ca ...` in-process: every action, its output, its exit codes, and the passphrase
never shown."""
import io
import os

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from host_tools import cli, pki
from host_tools.pki_profile import sec1

PASS = "a passphrase nobody guesses"


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """run(*argv, stdin=None) -> (exit code, stdout, stderr), with the CA passphrase in the
    environment and every output checked for it."""
    monkeypatch.setenv("METERSEAL_CA_PASSPHRASE", PASS)
    monkeypatch.delenv("METERSEAL_PKI", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))

    def _run(*argv, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert PASS not in out + err and "operator's long passphrase" not in out + err
        return code, out, err
    return _run


@pytest.fixture
def ca(run, tmp_path):
    d = tmp_path / "pki"
    code, out, err = run("ca", "init", "--dir", d, "--manufacturer", "ACME Meters",
                         "--msp", "Stadtwerke MSP")
    assert (code, err) == (0, ""), err
    assert "PKI created in %s (p256)" % d in out
    for aid in ("institute", "calibration", "software", "ca", "manufacturer:acme-meters", "sm"):
        assert aid in out
    return d


def _pub_file(tmp_path, name, form):
    k = ec.generate_private_key(ec.SECP256R1())
    if form == "pem":
        data = k.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    elif form == "hex":
        data = sec1(k.public_key()).hex().encode() + b"\n"
    else:
        data = sec1(k.public_key())
    (tmp_path / name).write_bytes(data)
    return tmp_path / name, k


def _serials(d, kind):
    with pki.open_pki(d) as p:
        return [r["serial"] for r in p.index.rows(kind=kind)]


def test_init_list_show_export(run, ca, tmp_path):
    code, out, _ = run("ca", "list", "--dir", ca)
    assert code == 0 and out.splitlines()[0].split() == ["serial", "kind", "identity", "issuer",
                                                         "not", "after", "status"]
    assert "6 certificates" in out and "stadtwerke-msp-security-management" in out
    code, out, _ = run("ca", "show", "--dir", ca, "sm", "--pem")
    assert code == 0 and "MSP Security Management (CERT_SM)" in out and "msp-security" in out
    cert = cx509.load_pem_x509_certificate(out[out.index("-----BEGIN"):].encode())
    serial = format(cert.serial_number, "x")
    code, out2, _ = run("ca", "show", "--dir", ca, serial)
    assert code == 0 and out2 == out[:out.index("-----BEGIN")]
    fp = pki.fingerprint(cert)
    assert run("ca", "show", "--dir", ca, fp[:12])[1] == out2
    code, out, _ = run("ca", "export", "--dir", ca, "sm", "--chain")
    chain = cx509.load_pem_x509_certificates(out.encode())
    assert [c.serial_number for c in chain][0] == cert.serial_number and len(chain) == 2
    code, out, _ = run("ca", "export", "--dir", ca, "institute", "--der", "-o", tmp_path / "i.der")
    assert code == 0 and cx509.load_der_x509_certificate((tmp_path / "i.der").read_bytes())
    assert run("ca", "export", "--dir", ca, "sm", "--der")[0] == 2
    code, _, err = run("ca", "init", "--dir", ca)
    assert code == 2 and err.startswith("meterseal: ca: ") and "not empty" in err


def test_issue_every_kind(run, ca, tmp_path, monkeypatch):
    pem, k = _pub_file(tmp_path, "em.pem", "pem")
    code, out, _ = run("ca", "issue-em", "--dir", ca, "1MSL0012345678", "--public-key", pem,
                       "-o", tmp_path / "em-cert.pem", "--manufacturer", "ACME Meters")
    assert code == 0 and "1MSL0012345678" in out
    em = cx509.load_pem_x509_certificate((tmp_path / "em-cert.pem").read_bytes())
    assert sec1(em.public_key()) == sec1(k.public_key())
    hexf, k = _pub_file(tmp_path, "muc.hex", "hex")
    code, out, _ = run("ca", "issue-device", "--dir", ca, "--kind", "muc", "9MSL0000000001",
                       "--public-key", hexf)
    assert code == 0 and "MUC 9MSL0000000001" in out
    raw, _ = _pub_file(tmp_path, "cn.bin", "raw")
    assert run("ca", "issue-device", "--dir", ca, "--kind", "cn", "CN-7", "--public-key", raw,
               "--manufacturer", "ACME Meters")[0] == 0
    monkeypatch.setenv("METERSEAL_KEY_PASSPHRASE", "the operator's long passphrase")
    code, out, _ = run("ca", "issue-operator", "--dir", ca, "Alice", "--role", "msp-operator",
                       "--role", "local-operator")
    assert code == 0 and "keys/op-alice.key.pem" in out
    assert run("ca", "issue-operator", "--dir", ca, "Bob", "--role", "customer",
               "--public-key", pem)[0] == 0
    code, out, _ = run("ca", "issue-dcs", "--dir", ca, "Collector", "--org", "Collect AG",
                       "--key-passphrase-file", tmp_path / "missing")
    assert code == 2 and "cannot read passphrase file" in _
    pf = tmp_path / "dcs.pass"
    pf.write_text("the dcs long passphrase\n")
    code, out, _ = run("ca", "issue-dcs", "--dir", ca, "Collector", "--org", "Collect AG",
                       "--key-passphrase-file", pf)
    assert code == 0 and "keys/dcs-collector.key.pem" in out
    serialization.load_pem_private_key((ca / "keys" / "dcs-collector.key.pem").read_bytes(),
                                       b"the dcs long passphrase")
    code, out, _ = run("ca", "list", "--dir", ca, "--kind", "op")
    assert "alice" in out and "bob" in out and "2 certificates" in out
    code, out, _ = run("ca", "issue-mo", "--dir", ca, "Inspector", "--role",
                       "metrological-institute")
    assert code == 0 and "keys/mo-inspector.key.pem" in out and "Calibration Authority" in out
    with pytest.raises(SystemExit):  # the calibration authority grants no MSP roles
        run("ca", "issue-mo", "--dir", ca, "Mallory", "--role", "msp-operator")
    code, out, _ = run("ca", "add-manufacturer", "--dir", ca, "Second Maker")
    assert code == 0 and "Second Maker Manufacturer CA" in out
    # With two manufacturers, --manufacturer is needed.
    code, _, err = run("ca", "issue-device", "--dir", ca, "--kind", "cn", "CN-8", "--public-key",
                       raw)
    assert code == 2 and "no authority 'manufacturer'" in err
    with pytest.raises(SystemExit) as e:  # argparse refuses before the CA would
        run("ca", "issue-operator", "--dir", ca, "Eve", "--role", "msp-security",
            "--public-key", pem)
    assert e.value.code == 2


def test_revoke_asks_then_crl(run, ca, tmp_path):
    pem, _ = _pub_file(tmp_path, "op.pem", "pem")
    assert run("ca", "issue-operator", "--dir", ca, "Carol", "--role", "msp-operator",
               "--public-key", pem)[0] == 0
    serial = _serials(ca, "op")[0]
    code, out, err = run("ca", "revoke", "--dir", ca, serial, "--reason", "key-compromise",
                         stdin="yes\n")
    assert code == 2 and "Type REVOKE" in out and "nothing revoked" in err
    assert run("ca", "revoke", "--dir", ca, serial)[0] == 2  # EOF on stdin: no
    with pki.open_pki(ca) as p:
        assert p.index.rows(status="revoked") == []
    code, out, _ = run("ca", "revoke", "--dir", ca, serial, "--reason", "key-compromise",
                       stdin="REVOKE\n")
    assert code == 0 and "revoked %s (key-compromise)" % serial in out
    code, _, err = run("ca", "revoke", "--dir", ca, serial, "--yes")
    assert code == 2 and "already revoked" in err
    code, out, _ = run("ca", "list", "--dir", ca, "--status", "revoked")
    assert serial in out and "1 certificate\n" in out
    code, out, _ = run("ca", "crl", "--dir", ca, "--issuer", "sm", "-o", tmp_path / "sm.pem",
                       "--pem")
    assert code == 0 and "CRL number 1 of sm: 1 revoked" in out
    crl = cx509.load_pem_x509_crl((tmp_path / "sm.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    assert cx509.load_der_x509_crl((ca / "crl" / "sm.crl").read_bytes()) == crl
    code, out, _ = run("ca", "crl", "--dir", ca, "--issuer", "manufacturer:ACME Meters")
    assert code == 0 and "CRL number 1 of manufacturer:ACME Meters: 0 revoked" in out
    assert "CRL number 2" in run("ca", "crl", "--dir", ca, "--issuer", "sm")[1]
    code, _, err = run("ca", "revoke", "--dir", ca, "institute", "--yes")
    assert code == 2


def test_passphrase_sources_and_errors(run, ca, tmp_path, monkeypatch):
    pem, _ = _pub_file(tmp_path, "em.pem", "pem")
    monkeypatch.setenv("METERSEAL_CA_PASSPHRASE", "wrong but long enough")
    code, _, err = run("ca", "issue-em", "--dir", ca, "1MSL1", "--public-key", pem)
    assert code == 2 and "wrong passphrase?" in err
    monkeypatch.delenv("METERSEAL_CA_PASSPHRASE")
    code, _, err = run("ca", "issue-em", "--dir", ca, "1MSL1", "--public-key", pem)
    assert code == 2 and "no CA passphrase: give --passphrase-file FILE or set " \
        "METERSEAL_CA_PASSPHRASE" in err
    pf = tmp_path / "pass.txt"
    pf.write_text(PASS + "\n")
    assert run("ca", "issue-em", "--dir", ca, "1MSL1", "--public-key", pem,
               "--passphrase-file", pf)[0] == 0
    # Reading needs no passphrase.
    assert run("ca", "list", "--dir", ca)[0] == 0
    pf.write_text("short\n")
    code, _, err = run("ca", "init", "--dir", tmp_path / "new", "--passphrase-file", pf)
    assert code == 2 and "shorter than 12 characters" in err
    code, _, err = run("ca", "list")
    assert code == 2 and err == "meterseal: ca: no PKI folder: give --dir PKI or set " \
        "METERSEAL_PKI\n"
    monkeypatch.setenv("METERSEAL_PKI", str(ca))
    assert run("ca", "list")[0] == 0
    code, _, err = run("ca", "show", "nothing-hex")
    assert code == 2 and "neither a serial number nor a fingerprint" in err
    code, _, err = run("ca", "issue-em", "1MSL1", "--public-key", tmp_path / "pass.txt",
                       "--passphrase-file", pf)
    assert code == 2 and "not a public key" in err


def test_brainpool_init(run, tmp_path):
    code, out, _ = run("ca", "init", "--dir", tmp_path / "bp", "--curve", "brainpoolP256r1")
    assert code == 0 and "(brainpoolP256r1)" in out
    c = cx509.load_pem_x509_certificate((tmp_path / "bp" / "certs" / "sm.pem").read_bytes())
    assert isinstance(c.public_key().curve, ec.BrainpoolP256R1)
    assert oct(os.stat(tmp_path / "bp" / "private").st_mode & 0o777) == "0o700"
