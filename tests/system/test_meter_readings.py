"""Sealed readings end to end on a simulated MicroPython meter with an accelerated clock (S1, U1,
D1, issue 6 items 1, 3-5): an unprovisioned meter measures but does not seal; a provisioned one
seals every 15 meter-minutes, serves its ring byte for byte, and `meterseal readings pull|verify`
checks each reading against CERT_EM -> calibration authority -> institute root; any altered byte
makes verify fail and name the reading."""
import os
import random
import subprocess
import sys
import time

import pytest

from host_tools import pki as pkimod
from host_tools import readings as rd
from host_tools.console import BoardConsole
from meter_help import em_key, make_ca, meter_board, provision_fully
from meterseal.proto import sml
from meterseal.security import sealed

SCALE = 1440  # a day in one minute: 15 meter-minutes = 0.625 s


def _ms(*args, ok=True):
    out = subprocess.run([sys.executable, "-m", "host_tools.cli"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if ok:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def _wait_readings(con, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        st = con.request("meter")
        if st["readings"]["last"] >= n:
            return st
        assert time.monotonic() < deadline, st
        time.sleep(0.2)


@pytest.fixture(scope="module")
def sealed_meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("readings")
    p, directory = make_ca(d)
    b = meter_board(d / "meter", scale=SCALE)
    b.start()
    try:
        cert, st = provision_fully(b, p, directory)
        with BoardConsole(b.url(), timeout=10) as con:
            _wait_readings(con, 6)
        yield b, p, directory, cert, d
    finally:
        b.kill()


def test_unprovisioned_meter_measures_but_does_not_seal(tmp_path):
    b = meter_board(tmp_path / "m", scale=SCALE)
    with b, BoardConsole(b.url(), timeout=10) as con:
        time.sleep(2.0)  # three snapshot periods
        st = con.request("meter")
        assert st["sealing"].startswith("off: the meter is factory"), st["sealing"]
        assert st["registers"]["imp"] + st["registers"]["exp"] > 0
        r = con.request("readings", {})
        assert r["readings"] == [] and r["last"] == 0 and r["sealing"] == st["sealing"]
        regs = con.request("readout")["registers"]
        assert [bytes(x[0]) for x in regs] == [b"\x01\x00\x01\x08\x00\xff",
                                               b"\x01\x00\x02\x08\x00\xff",
                                               b"\x01\x00\x10\x07\x00\xff"]
        # import = tariff 1 + tariff 2 exactly, in mWh
        r = con.request("meter")["registers"]
        assert r["imp"] == r["t1"] + r["t2"] and r["imp"] + r["exp"] > 0


def test_readings_are_sealed_and_served_byte_for_byte(sealed_meter):
    b, p, directory, cert, _ = sealed_meter
    key = em_key(cert)
    with BoardConsole(b.url(), timeout=10) as con:
        st = con.request("meter")
        assert st["sealing"] == "on"
        one, info = rd.pull(con)
        two, _ = rd.pull(con, first=one[0][0])
    assert info["device_id"] == "1MSL0112345678"
    assert [n for n, _ in one] == list(range(1, len(one) + 1))
    assert dict(two)[3] == dict(one)[3]  # the same bytes every time
    prev = None
    for n, data in one:
        ress = sealed.verify_sealed(data, key)
        assert [bytes(r.entry(sealed.OBIS_CONTRACT).value) for r in ress] == [
            b"1-0:1.8.0*255", b"1-0:1.8.1*255", b"1-0:1.8.2*255", b"1-0:2.8.0*255"]
        v = [r.entry(sealed.OBIS_READING).value for r in ress]
        assert v[0] == v[1] + v[2] or abs(v[0] - v[1] - v[2]) <= 2  # 0.1 Wh rounding
        t = ress[0].entry(sealed.OBIS_READING).val_time
        assert t.value % 900 == 0 and t.local_offset == 60  # period ends, CET
        sec = ress[0].entry(sealed.OBIS_SECONDS_INDEX).value.value
        pag = [r.entry(sealed.OBIS_PAGINATION).value for r in ress]
        assert pag == list(range(pag[0], pag[0] + 4))
        if prev is not None:
            assert t.value == prev[0] + 900  # no gap: the meter ran all along
            assert sec > prev[1] and pag[0] == prev[2] + 1
            assert all(a >= b for a, b in zip(v, prev[3]))  # registers never go back
        prev = (t.value, sec, pag[-1], v)
        opened = [m.body for m in sml.decode_frame(data) if isinstance(m.body, sml.OpenRes)]
        assert bytes(opened[0].req_file_id) == n.to_bytes(4, "big")


def test_cli_pull_and_verify_with_directory_and_with_files(sealed_meter, tmp_path):
    b, p, directory, cert, d = sealed_meter
    f = tmp_path / "r.sml"
    out = _ms("readings", "pull", "--port", b.url(), "-o", f)
    assert "written to" in out.stdout and "1MSL0112345678" in out.stdout
    out = _ms("readings", "verify", f, "--directory", d / "dir")
    assert "readings of 1MSL0112345678 verified" in out.stdout
    assert "1.8.0 Wh" in out.stdout and "FAILED" not in out.stdout
    rows = [ln for ln in out.stdout.splitlines() if ln.rstrip().endswith(" ok")]
    assert len(rows) == len(rd.split(f.read_bytes())) >= 6
    # CERT_EM and the calibration certificate as files, the institute root as a file
    (tmp_path / "em.pem").write_bytes(pkimod.to_pem(cert) + pkimod.to_pem(p.certificate("calibration")))
    (tmp_path / "root.pem").write_bytes(pkimod.to_pem(pkimod.trust_anchor(p, "institute")))
    _ms("readings", "verify", f, "--cert", tmp_path / "em.pem", "--root", tmp_path / "root.pem")
    # straight from the meter
    out = _ms("readings", "verify", "--port", b.url(), "--directory", d / "dir")
    assert "verified" in out.stdout
    # a root that is not the institute's: refused for every reading
    (tmp_path / "ca.pem").write_bytes(pkimod.to_pem(pkimod.trust_anchor(p, "ca")))
    out = _ms("readings", "verify", f, "--cert", tmp_path / "em.pem", "--root",
              tmp_path / "ca.pem", ok=False)
    assert out.returncode == 1 and "not signed by" in out.stderr


def test_any_altered_byte_fails_and_names_the_reading(sealed_meter, tmp_path):
    _, _, directory, _, d = sealed_meter
    data = b"".join(x for _, x in rd.pull(BoardConsole(sealed_meter[0].url(), timeout=10))[0])
    frames = rd.split(data)
    key_for = rd.key_source(directory=directory)
    assert all(r["ok"] for r in rd.verify_data(data, key_for))
    rng = random.Random(6)
    for _ in range(120):  # random single-byte changes anywhere in the file, in process
        k = rng.randrange(len(frames))
        off, fr = frames[k]
        pos = off + rng.randrange(len(fr))
        bad = bytearray(data)
        bad[pos] ^= 1 << rng.randrange(8)
        try:
            rows = rd.verify_data(bytes(bad), key_for)
        except rd.VerifyFailed as e:  # the frame boundaries themselves were hit
            assert "reading #%d" % (k + 1) in str(e), (pos, e)
            continue
        failed = [r for r in rows if not r["ok"]]
        assert [r["index"] for r in failed] == [k + 1], (pos, failed)
        assert failed[0]["n"] == k + frames_first(frames), (pos, failed)
    # the CLI says which one and exits 1
    off, fr = frames[2]
    bad = bytearray(data)
    bad[off + len(fr) // 2] ^= 0x40
    f = tmp_path / "bad.sml"
    f.write_bytes(bytes(bad))
    out = _ms("readings", "verify", f, "--directory", d / "dir", ok=False)
    n3 = rd.reading_number(fr)
    assert out.returncode == 1 and ("reading %d:" % n3) in out.stderr, out.stderr
    assert "1 of %d readings FAILED" % len(frames) in out.stdout


def frames_first(frames):
    return rd.reading_number(frames[0][1])


def test_verify_needs_a_key_source_and_a_readable_file(tmp_path, monkeypatch):
    monkeypatch.delenv("METERSEAL_DIRECTORY", raising=False)
    env_out = subprocess.run([sys.executable, "-m", "host_tools.cli", "readings", "verify",
                              str(tmp_path / "none.sml")], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items()
                                  if k != "METERSEAL_DIRECTORY"})
    assert env_out.returncode == 2 and "cannot read" in env_out.stderr


def test_readings_after_cert_em_was_revoked_fail_earlier_ones_stand(sealed_meter, tmp_path):
    """S1 for years: a revoked meter key keeps what it sealed before the revocation; the CRL
    comes through the directory as `meterseal dir publish` leaves it (chain model). A block
    signs local time only (UTC + up to 18 h), so a reading counts only if it was sealed 18 h
    before the revocation, whatever offset the SML claims."""
    import datetime
    import shutil

    from cryptography.hazmat.primitives.serialization import Encoding

    from host_tools.directory import FolderDirectory
    from host_tools.pki_profile import build_crl

    b, p, directory, cert, d = sealed_meter
    data = b"".join(x for _, x in rd.pull(BoardConsole(b.url(), timeout=10))[0])
    f = tmp_path / "r.sml"
    f.write_bytes(data)
    rows = rd.verify_data(data, rd.key_source(directory=directory))
    assert len(rows) >= 4 and all(r["ok"] for r in rows)
    local = [r["time"] for r in rows]  # the signed (local) times
    utc = datetime.timezone.utc

    def directory_with_crl(name, when, number):
        # A copy of the directory with a calibration authority CRL listing CERT_EM from `when`
        # (built directly, so the module's PKI index stays as the other tests expect it).
        dcopy = tmp_path / name
        shutil.copytree(d / "dir", dcopy)
        crl = build_crl(p.certificate("calibration"), p.signer("calibration"),
                        [(cert.serial_number, datetime.datetime.fromtimestamp(when, utc),
                          "key-compromise")], number)
        crl_file = tmp_path / (name + ".crl")
        crl_file.write_bytes(crl.public_bytes(Encoding.DER))
        _ms("dir", "publish", crl_file, "--directory", dcopy)
        return dcopy, crl_file

    # revoked 18 h and a minute after the last reading: every reading stands
    late, _ = directory_with_crl("late", max(local) + 18 * 3600 + 60, 7)
    assert FolderDirectory(late).crls()[0].issuer == p.certificate("calibration").subject
    assert all(r["ok"] for r in rd.verify_data(data, rd.key_source(
        directory=FolderDirectory(late))))
    out = _ms("readings", "verify", f, "--directory", late)
    assert "revocation checked against CRL 7 of CN=Metrological Institute Calibration" \
        in out.stdout
    # revoked at the first reading's time: none can be shown to come before it
    early, crl_file = directory_with_crl("early", local[0], 8)
    rows = rd.verify_data(data, rd.key_source(directory=FolderDirectory(early)))
    assert not any(r["ok"] for r in rows)
    assert all("not before its certificate was revoked" in r["reason"] for r in rows), rows[0]
    out = _ms("readings", "verify", f, "--directory", early, ok=False)
    assert out.returncode == 1 and "revoked" in out.stderr
    # the same CRL as a file, with the certificates as files
    (tmp_path / "em.pem").write_bytes(pkimod.to_pem(cert) + pkimod.to_pem(
        p.certificate("calibration")))
    (tmp_path / "root.pem").write_bytes(pkimod.to_pem(pkimod.trust_anchor(p, "institute")))
    out = _ms("readings", "verify", f, "--cert", tmp_path / "em.pem", "--root",
              tmp_path / "root.pem", "--crl", crl_file, ok=False)
    assert out.returncode == 1 and "%d of %d readings FAILED" % (len(rows), len(rows)) \
        in out.stdout
    # without a CRL the verifier passes them all, and says revocation was not checked
    out = _ms("readings", "verify", f, "--directory", d / "dir")
    assert "revocation NOT checked for" in out.stdout and "Calibration" in out.stdout


def test_spliced_duplicated_and_reordered_readings_fail(sealed_meter):
    """Each GetList.Res is signed alone: a file built from genuine pieces of several readings,
    or with a reading twice, out of order or relabelled, must not verify as it stands (S1)."""
    from meterseal.proto import sml as smlmod

    b, p, directory, cert, d = sealed_meter
    data = b"".join(x for _, x in rd.pull(BoardConsole(b.url(), timeout=10))[0])
    frames = [f for _, f in rd.split(data)]
    key_for = rd.key_source(directory=directory)
    assert len(frames) >= 3 and all(r["ok"] for r in rd.verify_data(data, key_for))
    a, c = smlmod.decode_frame(frames[0]), smlmod.decode_frame(frames[2])
    # reading 3 with reading 1's 1.8.0 (same signature, same file layout)
    spliced = bytes(smlmod.encode_frame(c[:1] + a[1:2] + c[2:]))
    row = rd.verify_data(spliced, key_for)[0]
    assert not row["ok"] and "different readings" in row["reason"], row
    # a reading twice, and out of order: the later copies fail, the first ones stand
    rows = rd.verify_data(frames[0] + frames[1] + frames[1] + frames[0], key_for)
    assert [r["ok"] for r in rows] == [True, True, False, False]
    assert "duplicate or out of order" in rows[2]["reason"]
    # a gap is a note, not a failure
    rows = rd.verify_data(frames[0] + frames[2], key_for)
    assert all(r["ok"] for r in rows) and rows[1]["missing_before"] == 1


def test_an_escape_off_the_four_byte_grid_splits_right():
    # A value or signature holding 1B1B1B1B is sent doubled wherever it falls (SML transport
    # v1); the splitter must not stop at one that is not 4-byte aligned.
    from meterseal.proto import sml_tl

    out = bytearray(sml_tl.START) + b"\x00" + sml_tl.ESC + b"\x00\x00\x00"
    frame = bytes(sml_tl.finish_frame(out))
    assert frame.count(sml_tl.ESC * 2) == 1 and frame.index(sml_tl.ESC * 2) % 4 == 1
    assert [f for _, f in rd.split(frame + frame)] == [frame, frame]
