"""The MUC as master of a wired M-Bus (D5, D6): a simulated MUC (RP2040, MicroPython) reads a
simulated meter on the same bus and hands back its RSP_UD telegrams unchanged; pyMeterBus and our
decoder read them to the meter's identity and energy."""
import meterbus
import pytest

from host_tools.console import BoardConsole
from host_tools.errors import BoardError
from host_tools.simbus import BusHub
from host_tools.sim import SimulatedBoard
from meterseal.proto import mbus
from meterseal.proto import mbus_records as mr


def test_muc_reads_a_meter_on_its_bus(tmp_path):
    with BusHub(name="mbus") as hub:
        meter = SimulatedBoard(tmp_path / "meter", links={"mbus": hub.address}).start()
        muc = SimulatedBoard(tmp_path / "muc", board="rp2040", role="muc",
                             links={"mbus": hub.address}).start()
        try:
            hub.wait_for_peers(2)
            with BoardConsole(meter.url(), timeout=10) as con:
                ident = con.request("readout")["identity"]
            with BoardConsole(muc.url(), timeout=15) as con:
                out = con.request("mbus_read", {"address": ident["primary_address"]})
                with pytest.raises(BoardError, match="M-Bus"):  # nobody at that address
                    con.request("mbus_read", {"address": (ident["primary_address"] % 250) + 1})
        finally:
            muc.kill()
            meter.kill()
    assert out["address"] == ident["primary_address"] and out["records"] >= 3
    raw = bytes(out["frames"][0])
    kind, c, a, ci, ds, de = mbus.parse(raw)
    assert kind == mbus.KIND_LONG and ci == mbus.CI_RSP_VARIABLE
    header = mr.parse_header(raw, ds, de)
    assert header[0] == ident["id"] and header[1] == ident["manufacturer"]
    t = meterbus.load(raw)  # an independent decoder agrees
    h = t.body.interpreted["header"]
    assert h["manufacturer"] == ident["manufacturer"]
    digits = "".join("%02X" % int(x, 16) for x in h["identification"].split(","))  # BCD, MSB first
    assert int(digits) == ident["id"]
