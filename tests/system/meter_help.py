"""Shared by the meter's system tests: a simulated MicroPython meter with an accelerated clock,
provisioned exactly as tests/system/test_provisioning.py does it (manufacture, calibrate,
install over the console)."""
import json

from host_tools import pki as pkimod
from host_tools import provision
from host_tools.console import BoardConsole
from host_tools.directory import FolderDirectory
from host_tools.sim import SimulatedBoard

PASS = b"correct horse battery staple"
WMBUS_KEY = bytes(range(16))


def make_ca(path):
    p = pkimod.init_pki(path / "pki", PASS, manufacturers=("MeterSeal Devices",), msp="Demo MSP")
    p.close()
    p = pkimod.open_pki(path / "pki", PASS)
    directory = FolderDirectory(path / "dir")
    directory.publish_pki(p)  # the authorities (institute root, calibration CA): verify's chain
    return p, directory


def meter_board(state, scale=1440, **cfg):
    """A simulated meter whose board.json carries the simulator settings (kept across kill and
    start of this object; a new SimulatedBoard on the same folder would rebuild board.json)."""
    b = SimulatedBoard(state)
    b.config.update({"sim_time_scale": scale,
                     "sim_load": {"base_w": 800, "shape": "household", "pv_peak_w": 3000}})
    b.config.update(cfg)
    (b.state_dir / "board.json").write_text(json.dumps(b.config, indent=1))
    return b


def provision_fully(b, p, directory):
    with BoardConsole(b.url(), timeout=10) as con:
        provision.manufacture(con, p, "MSL", 12345678)
        cert = provision.calibrate(con, p, directory)
        provision.install(con, p, directory, {"wmbus": WMBUS_KEY}, primary_address=5)
        return cert, con.request("status")


def em_key(cert):
    from cryptography.hazmat.primitives import serialization

    return cert.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)[1:]
