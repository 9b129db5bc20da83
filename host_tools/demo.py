"""`make demo`: a simulated installation end to end (it grows as capabilities land).

A fresh simulated meter (MicroPython, the ESP32's heap) is provisioned as the provisioning
steps do it (CA hierarchy in a temporary folder with a generated passphrase; manufacture,
calibrate, install over the console), runs at 2880x (15 meter-minutes in 0.3 s) for a few
profile periods, and the host pulls its sealed readings and verifies each one against CERT_EM
and its chain to the institute root. Everything stops at the end; nothing keeps running."""
import secrets
import tempfile
import time
from pathlib import Path

from .console import BoardConsole
from .report import print_identity
from .sim import SimulatedBoard, describe

DEMO_SCALE = 2880
DEMO_READINGS = 6


def _say(text):
    print("  " + text, flush=True)


def run_demo(board="esp32", interpreter="micropython", keep=None):
    from . import pki as pkimod
    from . import provision
    from . import readings as rd
    from .cmd_readings import print_revocation, print_rows
    from .directory import FolderDirectory

    with tempfile.TemporaryDirectory(prefix="meterseal-demo-") as tmp:
        state = keep or tmp
        work = Path(tmp) / "host"
        passphrase = secrets.token_urlsafe(18).encode()  # a throw-away CA for this run only
        print("certification authority (temporary, generated passphrase): %s" % work)
        p = pkimod.init_pki(work / "pki", passphrase, manufacturers=("MeterSeal Devices",),
                            msp="Demo MSP")
        p.close()
        p = pkimod.open_pki(work / "pki", passphrase)
        directory = FolderDirectory(work / "dir")
        directory.publish_pki(p)
        b = SimulatedBoard(state, board=board, interpreter=interpreter, settings={
            "sim_time_scale": DEMO_SCALE,
            "sim_load": {"base_w": 800, "shape": "household", "pv_peak_w": 1500}})
        with b:
            print(describe(b))
            print()
            with BoardConsole(b.url("console"), timeout=10) as con:
                ident = con.request("info")
                print("identity read over the console UART (%s):" % b.url("console"))
                print_identity(ident)
                print()
                print("provisioning:")
                provision.manufacture(con, p, "MSL", 12345678, progress=_say)
                cert = provision.calibrate(con, p, directory, progress=_say)
                provision.install(con, p, directory, {"wmbus": secrets.token_bytes(16)},
                                  progress=_say)
                print()
                print("measuring at %dx (15 meter-minutes in %.2f s), sealing each period:"
                      % (DEMO_SCALE, 900.0 / DEMO_SCALE))
                deadline = time.monotonic() + 30
                while True:
                    st = con.request("meter")
                    if st["readings"]["last"] >= DEMO_READINGS or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                _say("sealing %s, %d readings, last sealing took %s ms on the board"
                     % (st["sealing"], st["readings"]["last"], st["seal_ms"]))
                got, info = rd.pull(con)
            out = work / "readings.sml"
            rd.save(got, out)
            _say("pulled %d readings of %s (%d bytes)" % (len(got), info["device_id"],
                                                         out.stat().st_size))
        print()
        print("board stopped.")
        print()
        print("verifying on the host against CERT_EM %x -> calibration authority -> institute "
              "root:" % cert.serial_number)
        # The authorities publish their CRLs (none revoked here); verify consults them.
        for aid in ("institute", "calibration"):
            directory.publish_crl(pkimod.make_crl(p, aid)[0])
        key_for = rd.key_source(directory=directory)
        rows = rd.verify_data(out.read_bytes(), key_for)
        print_rows(rows)
        bad = [r for r in rows if not r["ok"]]
        print()
        if bad or not rows:
            print("%d of %d readings FAILED" % (len(bad), len(rows)))
            return 1
        print("%d sealed readings verified, each signed while CERT_EM was valid." % len(rows))
        print_revocation(key_for, rows)
    return 0
