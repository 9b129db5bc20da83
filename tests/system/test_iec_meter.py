"""`meterseal iec read` against a simulated MicroPython meter's optical port (aux UART, 300 Bd
7E1 at start; the simulator paces the meter's bytes at its current rate) (D6)."""
import json
import subprocess
import sys

import pytest

from host_tools import cli
from host_tools.console import BoardConsole


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    from host_tools.sim import SimulatedBoard

    with SimulatedBoard(tmp_path_factory.mktemp("iecmeter")) as b:
        yield b


def _registers(board):
    with BoardConsole(board.url()) as con:
        r = con.request("readout")
    return {bytes(x[0]): x[1] for x in r["registers"]}, r["identity"]


def _cli(*argv, timeout=60):
    return subprocess.run([sys.executable, "-m", "host_tools.cli", "iec", "read"] + list(argv),
                          capture_output=True, text=True, timeout=timeout)


def test_cli_reads_the_data_set_with_baud_switch(meter):
    before, ident = _registers(meter)
    out = _cli("--port", meter.url("aux"), "--json")
    after, _ = _registers(meter)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert (got["manufacturer"], got["mode"], got["baud_char"], got["baud"]) == ("MSL", "C", "5",
                                                                                9600)
    rec = {r["address"]: r for r in got["records"]}
    assert list(rec)[:3] == ["C.1.0", "0.9.1", "0.9.2"]
    assert rec["C.1.0"]["value"] == "%08d" % ident["id"]
    assert rec["C.1.0"]["obis"] == "*-*:96.1.0**"
    # 1.8.0 in kWh with 4 decimals = the register in 0.1 Wh, read between the two console reads
    imp = rec["1.8.0"]
    assert imp["unit"] == "kWh" and imp["obis"] == "*-*:1.8.0**"
    v = int(imp["value"].replace(".", ""))
    assert before[b"\x01\x00\x01\x08\x00\xff"] <= v <= after[b"\x01\x00\x01\x08\x00\xff"]
    assert rec["16.7.0"] == {"address": "16.7.0", "value": "000.400", "unit": "kW",
                             "obis": "*-*:16.7.0**"}  # the simulator's 400 W load


def test_cli_table_with_address_and_without_switch(meter):
    _, ident = _registers(meter)
    out = _cli("--port", meter.url("aux"), "--address", "%08d" % ident["id"], "--baud-max", "2400")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("meter MSL MeterSeal1  (mode C, 2400 Bd)")
    assert "1.8.0    " in out.stdout and "kWh" in out.stdout
    # --no-switch: the whole readout at 300 Bd
    out = _cli("--port", meter.url("aux"), "--no-switch")
    assert out.returncode == 0, out.stderr
    assert "(mode C, 300 Bd)" in out.stdout and "16.7.0" in out.stdout


def test_other_address_gets_no_answer(meter):
    out = _cli("--port", meter.url("aux"), "--address", "99999999x", "--timeout", "1.5")
    assert out.returncode == 2
    assert out.stderr.startswith("meterseal: iec: no identification from socket://")
    # and the meter still answers the next sign-on
    assert _cli("--port", meter.url("aux")).returncode == 0


def test_programming_mode_without_stored_password_is_refused(meter):
    out = _cli("--port", meter.url("aux"), "--register", "1.8.0", "--password", "00000000")
    assert out.returncode == 1
    assert "meter refused: password: PASSWORD NOT SET" in out.stderr


def test_in_process_help_and_usage_errors(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("METERSEAL_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["iec", "read"]) == 2
    assert "no port: give --port (an optical probe" in capsys.readouterr().err
    assert cli.main(["iec", "read", "--port", "loop://", "--password", "x"]) == 2
    assert "--password is for programming-mode reads" in capsys.readouterr().err
