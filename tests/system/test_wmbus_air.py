"""A simulated water meter (MicroPython, ESP32 heap) and a simulated MUC on one wireless M-Bus
"air" (a BusHub): the MUC receives and decrypts the meter's mode 7 telegrams, a telegram the test
replays into the air is refused as a replay, and `meterseal wmbus listen` decodes the same air
from the host (D6, S3, K5).

The MUC runs the same firmware under CPython: under MicroPython with 128 KiB its services'
modules, compiled from source by the simulator, fragment the heap past what the ESP32 has left
(a MemoryError at import in some runs; frozen/.mpy modules on a board do not pay this)."""
import binascii
import json
import os
import subprocess
import sys
import time

import serial

from host_tools.console import BoardConsole
from host_tools.sim import SimulatedBoard
from host_tools.simbus import BusHub
from meterseal.proto import oms, wmbus


def _board(path, role, hub, interpreter="micropython", **extra):
    b = SimulatedBoard(path, role=role, links={"aux": hub.address}, interpreter=interpreter)
    cfg_path = b.state_dir / "board.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(extra)
    cfg_path.write_text(json.dumps(cfg))
    b.config = cfg
    return b


def _wait(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def _packets(ser, seconds):
    """Packets heard on the air for a while: L-prefixed link frames."""
    data = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data += ser.read(512)
    out = []
    while data and len(data) >= data[0] + 1:
        out.append(data[:data[0] + 1])
        data = data[data[0] + 1:]
    return out


def test_meter_to_muc_over_the_air_with_replay(tmp_path):
    key = os.urandom(16)
    with BusHub(name="air") as hub:
        meter = _board(tmp_path / "meter", "wmbus_meter", hub, wmbus_interval_s=1,
                       sim_flow_lph=3600)
        muc = _board(tmp_path / "muc", "muc", hub, interpreter="cpython")
        radio = serial.serial_for_url(hub.url, timeout=0.05)  # the test's own radio
        try:
            with meter, muc:
                hub.wait_for_peers(3)
                with BoardConsole(meter.url()) as mc, BoardConsole(muc.url()) as uc:
                    st = mc.request("wmbus_meter")
                    name = st["meter"]
                    assert st["mode"] == 7 and st["radio"] == "air"
                    args = {"meter": name, "key": binascii.hexlify(key).decode()}
                    mc.request("wmbus_key", args)
                    uc.request("wmbus_key", args)

                    def got():
                        r = uc.request("wmbus_readings")
                        return [x for x in r["readings"] if x["meter"] == name]

                    first = _wait(got, what="a reading at the MUC")[0]
                    assert first["mode"] == 7 and first["device_type"] == 7
                    vols = [rec[5] for rec in first["records"] if rec[4] == 0x13]
                    assert len(vols) == 1 and vols[0] >= 0  # litres

                    # Hear the air ourselves: the telegram is what the MUC decrypted.
                    heard = [p for p in _packets(radio, 2.5) if len(p) > 11]
                    assert heard, "nothing on the air"
                    pkt = heard[-1]
                    t = oms.parse(pkt)
                    assert t.meter() == name and t.mode == 7 and t.counter is not None
                    assert t.c == wmbus.SND_NR
                    apl = oms.open_apl(t, pkt, key)
                    assert apl[:2] == b"\x2f\x2f"

                    _wait(lambda: uc.request("wmbus_readings")["readings"][0]["counter"]
                          >= t.counter, what="the MUC to take the heard telegram")
                    radio.write(pkt)  # a replay into the air
                    summary = _wait(lambda: (lambda s: s if [name, "replay"] in s["last_rejects"]
                                             else None)(uc.request("wmbus_readings")),
                                    what="the replay to be refused")
                    assert summary["rejected"]["replay"] >= 1
                    # The meter's telegrams keep coming and keep being accepted.
                    n = summary["accepted"]
                    _wait(lambda: uc.request("wmbus_readings")["accepted"] > n,
                          what="later telegrams")

                    # The host listens to the same air through the firmware's receiver.
                    out = subprocess.run(
                        [sys.executable, "-m", "host_tools.cli", "wmbus", "listen", "--port",
                         hub.url, "--key", "%s=%s" % (name, args["key"]), "--count", "1",
                         "--seconds", "15", "--json"],
                        capture_output=True, text=True, timeout=60)
                    assert out.returncode == 0, out.stderr
                    line = [json.loads(x) for x in out.stdout.splitlines()
                            if '"records"' in x][0]
                    assert line["meter"] == name and line["mode"] == 7
                    assert any(r["quantity"] == "volume" and r["unit"] == "m3"
                               for r in line["records"])
                    assert mc.request("wmbus_meter")["sent"] >= 3
        finally:
            radio.close()
