"""Three simulated meters (MicroPython, ESP32 heap) on one wired M-Bus (a BusHub); the host runs
the firmware's master through SerialUart on socket://hub at 2400 Bd pacing (D6)."""
import asyncio
import json
import subprocess
import sys
import time

import pytest

from host_tools.console import BoardConsole
from host_tools.serial_uart import SerialUart
from host_tools.sim import SimulatedBoard
from host_tools.simbus import BusHub
from meterseal.proto import mbus
from meterseal.proto import mbus_encode as me
from meterseal.roles.mbus_master import MBusMaster


def _meter(path, hub):
    b = SimulatedBoard(path, links={"mbus": hub.address})
    # A meter without the optical port: the IEC 62056-21 server and the M-Bus slave do not
    # both fit a 128 KiB heap while the simulator compiles the firmware from source (see the
    # M-Bus report); the M-Bus side is what this test is about.
    cfg = b.config
    cfg["uarts"].pop("aux", None)
    (b.state_dir / "board.json").write_text(json.dumps(cfg))
    return b.start()


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    root = tmp_path_factory.mktemp("mbus")
    with BusHub() as hub:
        boards = []
        try:
            for i in range(3):
                boards.append(_meter(root / ("m%d" % i), hub))
            hub.wait_for_peers(3)
            idents = []
            for b in boards:
                with BoardConsole(b.url()) as con:
                    idents.append(con.request("readout")["identity"])
            yield hub, boards, idents
        finally:
            for b in boards:
                b.kill()


def _address(ident):
    return me.pack_address(ident["id"], ident["manufacturer"], ident["version"], ident["medium"])


def test_secondary_search_finds_three_then_reads_by_secondary_and_primary(bus):
    hub, boards, idents = bus
    with SerialUart(hub.url, 2400, "8E1") as uart:
        m = MBusMaster(uart, slack_ms=150, pace=True)

        async def go():
            t0 = time.monotonic()
            found, unresolved = await m.search_secondary()
            search_s = time.monotonic() - t0
            by_secondary = [await m.read_secondary(_address(i)) for i in idents]
            for k, i in enumerate(idents):  # primary addresses 1..3, set over the bus
                assert await m.select(_address(i)) == "single"
                await m.set_primary_address(mbus.ADDR_SELECTED, k + 1)
            await m.send_nke(mbus.ADDR_SELECTED)  # deselect
            found_primary, collided = await m.scan_primary(1, 4)
            by_primary = [await m.read(k + 1) for k in range(3)]
            return found, unresolved, search_s, by_secondary, found_primary, collided, by_primary
        (found, unresolved, search_s, by_secondary, found_primary, collided,
         by_primary) = asyncio.run(go())
    print("secondary search of 3 meters at 2400 Bd: %.2f s, %d selections" % (
        search_s, m.stats["probes"]))
    assert sorted(found) == sorted(_address(i) for i in idents) and unresolved == []
    assert found_primary == [1, 2, 3] and collided == []
    for i, a, b in zip(idents, by_secondary, by_primary):
        assert a.header[:4] == b.header[:4] == (i["id"], i["manufacturer"], i["version"], 2)
        assert b.frames[0][5] == by_primary.index(b) + 1  # answers from its new address
        vifs = [(r.vif, r.vife) for r in b.records]
        assert vifs[:3] == [(0x02, b""), (0x02, b"\x3c"), (0x2B, b"")]
        assert b.records[2].value == 400  # the simulator's load model: 400 W
        assert b.records[3].vif == mbus.VIF_FABRICATION_NO and b.records[3].value == i["id"]
        assert b.records[0].value >= a.records[0].value  # energy only grows
        y = b.records[4].value[0]
        assert y == time.gmtime().tm_year or y == time.gmtime().tm_year - 1
    for b in boards:  # the new primary address is kept in identity.json
        with BoardConsole(b.url()) as con:
            assert con.request("readout")["identity"]["primary_address"] in (1, 2, 3)


def test_cli_mbus_read_against_a_simulated_meter(bus):
    hub, boards, idents = bus
    sid = "%08d" % idents[0]["id"]
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "mbus", "read", "--port",
                          hub.url, "--secondary", sid, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["header"]["id"] == idents[0]["id"]
    rows = doc["records"]
    assert rows[0]["quantity"] == "energy" and rows[0]["unit"] == "Wh"
    assert rows[1]["quantity"] == "energy backward"
    assert rows[2]["quantity"] == "power" and rows[2]["scaled"] == 400
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "mbus", "read", "--port",
                          hub.url, "--address", "2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "fabrication number" in out.stdout and "power" in out.stdout
    # nobody at 77: exit code 2 with the reason
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "mbus", "read", "--port",
                          hub.url, "--address", "77", "--retries", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "meterseal: mbus: SND_NKE to 77" in out.stderr, out.stderr
