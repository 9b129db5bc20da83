"""Issue 5 end to end on simulated MicroPython boards: the CA hierarchy, then manufacture,
calibrate (the seal) and install over the console; refusals after the seal; power loss during
each step; erase leaves no key material (K1-K6, S5, U3)."""
import random
import shutil
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools import pki as pkimod
from host_tools import provision
from host_tools.console import BoardConsole
from host_tools.directory import FolderDirectory
from host_tools.errors import BoardError, ToolError
from host_tools.signing import sign_command
from host_tools.sim import SimulatedBoard
from meterseal.proto import console as cp

PASS = b"correct horse battery staple"
WMBUS_KEY = bytes(range(16))


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    p = pkimod.init_pki(d / "pki", PASS, manufacturers=("MeterSeal Devices",), msp="Demo MSP")
    p.close()
    return pkimod.open_pki(d / "pki", PASS), FolderDirectory(d / "dir")


def _provision_fully(b, p, directory):
    with BoardConsole(b.url(), timeout=10) as con:
        provision.manufacture(con, p, "MSL", 12345678)
        cert = provision.calibrate(con, p, directory)
        provision.install(con, p, directory, {"wmbus": WMBUS_KEY}, primary_address=5)
        return cert, con.request("status")


def test_blank_to_installed_and_cert_em_verifies_with_openssl(ca, tmp_path):
    p, directory = ca
    with SimulatedBoard(tmp_path / "b") as b:
        cert, st = _provision_fully(b, p, directory)
        assert st["state"] == "installed" and st["sealed"]
        assert st["device_id"] == "1MSL0112345678"
        assert set(st["trust"]) >= {"institute", "calibration", "em", "manufacturer", "ca", "msp"}
        # openssl: CERT_EM -> calibration authority -> institute root
        (tmp_path / "root.pem").write_bytes(pkimod.to_pem(pkimod.trust_anchor(p, "institute")))
        (tmp_path / "cal.pem").write_bytes(pkimod.to_pem(p.certificate("calibration")))
        (tmp_path / "em.pem").write_bytes(pkimod.to_pem(cert))
        if shutil.which("openssl"):
            out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"),
                                  "-untrusted", str(tmp_path / "cal.pem"), str(tmp_path / "em.pem")],
                                 capture_output=True, text=True)
            assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
        # the certified key is the one the board signs with: a fresh board signature verifies
        em = cert.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        challenge = pkimod.new_challenge()
        with BoardConsole(b.url(), timeout=10) as con:
            att = con.request("attest", {"challenge": challenge})
        assert bytes(att["em"]) == em
        provision.verify_kx_binding(em, att["kx"], challenge, att["kx_binding"])
        assert directory.fetch(st["device_id"], kind="em") == cert


def test_sealed_board_refuses_everything_unsigned(ca, tmp_path):
    p, directory = ca
    with SimulatedBoard(tmp_path / "b") as b:
        _, before = _provision_fully(b, p, directory)
        with BoardConsole(b.url(), timeout=10) as con:
            # raw-REPL entry (what mpremote sends), Ctrl-C, Ctrl-D: just noise to the console
            con._ser.write(b"\r\x03\x03\x01\x04\x02\r\n" + b"import os\r\n\x04")
            time.sleep(0.3)
            for cmd, args in (("calibrate", {"cert_em": b"x", "institute_root": b"x",
                                             "calibration_ca": b"x"}),
                              ("manufacture", {"identity": {"manufacturer": "EVL", "id": 1},
                                               "manufacturer_cert": b"x", "ca_root": b"x"}),
                              ("erase", {}),
                              ("keygen", {"challenge": bytes(32)})):
                with pytest.raises(BoardError) as e:
                    con.request(cmd, args)
                assert e.value.code == cp.E_REJECTED and "sealed" in e.value.reason, (cmd, e.value)
            # a second calibrate, with real certificates, is refused too
            with pytest.raises(BoardError, match="sealed"):
                con.request("calibrate", {
                    "cert_em": pkimod.to_der(directory.fetch(before["device_id"], kind="em")),
                    "institute_root": pkimod.to_der(pkimod.trust_anchor(p, "institute")),
                    "calibration_ca": pkimod.to_der(p.certificate("calibration"))})
            # an install signed by the MSP (not the manufacturer) and a garbage one
            sm = p.signer("sm")
            msg = sign_command(sm, [pkimod.to_der(p.certificate("sm"))], before["device_id"],
                               "erase", {})
            with pytest.raises(BoardError, match="chain"):
                con.request("signed", {"command": msg})
            with pytest.raises(BoardError):
                con.request("signed", {"command": b"\xd2\x84garbage"})
            after = con.request("status")
        assert after["public_keys"] == before["public_keys"]
        assert after["state"] == "installed"


def test_a_resent_request_is_answered_from_cache_not_run_twice(ca, tmp_path):
    """A host that timed out resends the same frame: the board must not run the command again
    (a signed command would then be refused as a replay, an erase would run twice)."""
    import cbor2

    from meterseal.crypto import cbor

    p, directory = ca
    with SimulatedBoard(tmp_path / "r") as b:
        _, st = _provision_fully(b, p, directory)
        aid = p.authority_id("manufacturer")
        msg = sign_command(p.signer(aid), [pkimod.to_der(p.certificate(aid))], st["device_id"],
                           "install", {"msp_cert": pkimod.to_der(pkimod.trust_anchor(p, "sm"))})
        frame = cp.encode_frame(cp.T_REQUEST, 4242, cbor.dumps(["signed", {"command": msg}]))
        with BoardConsole(b.url(), timeout=10) as con:
            answers = []
            for _ in range(2):
                con._ser.write(frame)
                answers.append(con._wait(4242, 10))
            assert answers[0] == answers[1] and answers[0][0] == cp.T_RESPONSE
            assert cbor2.loads(answers[0][1])["state"] == "installed"
            with pytest.raises(BoardError, match="replay"):  # the same command, a new request
                con.request("signed", {"command": msg})


def _kill_during(b, step):
    """Run step() here while a timer pulls the board's plug at a random moment."""
    timer = threading.Timer(random.uniform(0.0, 0.4), b.kill)
    timer.start()
    try:
        step()
    except (ToolError, OSError):
        pass  # the board died under the step, or the step found it already dead
    finally:
        timer.join()


def test_power_loss_during_each_step_then_repeat(ca, tmp_path):
    p, directory = ca
    random.seed(7)
    state = tmp_path / "pl"
    steps = [
        ("manufacture", lambda con: provision.manufacture(con, p, "MSL", 22334455)),
        ("calibrate", lambda con: provision.calibrate(con, p, directory)),
        ("install", lambda con: provision.install(con, p, directory, {"wmbus": WMBUS_KEY})),
    ]
    order = ["factory", "manufactured", "calibrated", "installed"]
    for i, (name, step) in enumerate(steps):
        for _attempt in range(2):  # kill twice at random moments inside this step
            b = SimulatedBoard(state).start()
            con = BoardConsole(b.url(), timeout=5, retries=0)
            _kill_during(b, lambda: step(con))
            con.close()
            b = SimulatedBoard(state).start()
            try:
                with BoardConsole(b.url(), timeout=10) as c2:
                    st = c2.request("status")
                    assert st["keystore"] in ("ok", "empty"), st
                    assert st["state"] in order[i:i + 2], (name, st["state"])
                    if st["state"] == order[i]:
                        step(c2)  # not done: the step can simply run again
                    assert c2.request("status")["state"] == order[i + 1]
            finally:
                b.kill()
        # (after the first attempt the step is done; the second kill hits the next status only)


def test_erase_leaves_no_key_material(ca, tmp_path):
    p, directory = ca
    with SimulatedBoard(tmp_path / "e") as b:
        _, st = _provision_fully(b, p, directory)
        pubs = [bytes(v) for v in st["public_keys"].values()]
        with BoardConsole(b.url(), timeout=10) as con:
            out = provision.erase(con, p)
            assert out["state"] == "factory"
            assert con.request("status")["keystore"] == "empty"
        b.kill()
    image = (tmp_path / "e" / "flash.img").read_bytes()
    for secret in pubs + [WMBUS_KEY] + [x[1:33] for x in pubs]:
        assert secret not in image, "key material left in the flash image after erase"


def test_cli_walks_a_board_from_blank_to_installed(tmp_path):
    """The commands a newcomer types (README): ca init, then provision each step."""
    import os
    import sys

    env = dict(os.environ, METERSEAL_CA_PASSPHRASE=PASS.decode(), METERSEAL_PKI=str(tmp_path / "pki"),
               METERSEAL_DIRECTORY=str(tmp_path / "dir"))

    def ms(*args, ok=True):
        out = subprocess.run([sys.executable, "-m", "host_tools.cli"] + list(args), env=env,
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if ok:
            assert out.returncode == 0, out.stdout + out.stderr
        return out

    ms("ca", "init", "--manufacturer", "MeterSeal Devices", "--msp", "Demo MSP")
    with SimulatedBoard(tmp_path / "b") as b:
        port = b.url()
        assert "factory" in ms("provision", "status", "--port", port).stdout
        ms("provision", "manufacture", "--port", port, "--flag", "MSL", "--id", "4711")
        out = ms("provision", "calibrate", "--port", port, ok=False)
        assert out.returncode == 2 and "--yes" in out.stderr  # the seal wants a confirmation
        ms("provision", "calibrate", "--port", port, "--yes")
        ms("provision", "install", "--port", port, "--key", "wmbus=" + WMBUS_KEY.hex(),
           "--iec-password", "S3cret42")
        # the optical port's programming mode now takes the installed password, and only it
        aux = b.url("aux")
        out = ms("iec", "read", "--port", aux, "--register", "1.8.0", "--password", "S3cret42")
        assert "1.8.0" in out.stdout
        out = ms("iec", "read", "--port", aux, "--register", "1.8.0", "--password", "guess",
                 ok=False)
        assert out.returncode == 1
        st = ms("provision", "status", "--port", port).stdout
        assert "installed (sealed)" in st and "1MSL0100004711" in st
        out = ms("provision", "calibrate", "--port", port, "--yes", ok=False)
        assert out.returncode == 2 and "installed" in out.stderr
        assert "1MSL0100004711" in ms("dir", "list").stdout
        ms("provision", "erase", "--port", port, "--yes")
        assert "factory" in ms("provision", "status", "--port", port).stdout
