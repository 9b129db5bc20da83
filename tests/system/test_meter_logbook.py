"""Issue 6 items 8-9 on a provisioned MicroPython meter: entries of the logbook deleted,
reordered, altered or cut in the board's flash image are found by `meterseal logbook verify`;
a full logbook (capacity 6 from board.json) refuses metrological changes until the institute
reads and resets it, and the reset is the first entry of the new log, carrying the hash of the
last one (D3, S1)."""
import json
import subprocess
import time
from pathlib import Path

import pytest

from host_tools import cli
from host_tools import pki as pkimod
from host_tools import provision
from host_tools.commands import Operator, Session
from host_tools.console import BoardConsole
from host_tools.directory import FolderDirectory
from host_tools.errors import BoardError
from host_tools.logbook import last_hash, load, read_all
from host_tools.sim import SimulatedBoard, micropython_command
from meterseal.security import roles as R
from meterseal.security.logbook import entry_payload

PASS = b"correct horse battery staple"
KEYPW = b"institute key passphrase"
PROBE = Path(__file__).with_name("logbook_probe.py")


def probe(board, *args):
    proc = subprocess.run([micropython_command(), "-X", "heapsize=%d" % (1 << 20), str(PROBE),
                           str(board.state_dir)] + list(args), env=board.environment(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def frames(data):
    out, pos = [], 0
    while pos < len(data):
        n = data[pos] * 256 + data[pos + 1]
        out.append(data[pos:pos + 2 + n])
        pos += 2 + n
    return out


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("lb")
    p = pkimod.init_pki(d / "pki", PASS, manufacturers=("MeterSeal Devices",), msp="Demo MSP")
    pkimod.issue_metrological_operator(p, "Ina Institute", [R.METROLOGICAL_INSTITUTE],
                                       key_passphrase=KEYPW)
    directory = FolderDirectory(d / "dir")
    b = SimulatedBoard(d / "meter")
    b.config["logbook_capacity"] = 6  # small, so the test fills it
    (b.state_dir / "board.json").write_text(json.dumps(b.config))
    b.start()
    try:
        with BoardConsole(b.url(), timeout=20) as con:
            provision.manufacture(con, p, "MSL", 12345678)
            provision.calibrate(con, p, directory)
            provision.install(con, p, directory, {})
        yield {"p": p, "dir": directory, "board": b, "tmp": d}
    finally:
        b.kill()


def _session(m, con):
    return Session(con, m["p"], Operator(m["p"], "Ina Institute", KEYPW), m["dir"])


def _cli(m, *args):
    base = ["--dir", str(m["p"].path), "--directory", str(m["dir"].path), "--port",
            m["board"].url(), "--as", "Ina Institute"]
    return cli.main(list(args) + base)


def test_full_logbook_blocks_metrological_changes_until_read_and_reset(meter, monkeypatch,
                                                                      capsys):
    m = meter
    monkeypatch.setenv("METERSEAL_CA_PASSPHRASE", PASS.decode())
    monkeypatch.setenv("METERSEAL_KEY_PASSPHRASE", KEYPW.decode())
    with BoardConsole(m["board"].url(), timeout=20) as con:
        s = _session(m, con)
        n = s.send("read_logbook", {"count": 1})["head"]["count"]  # install was logged
        for i in range(6 - n):
            s.send("set_parameter", {"name": "utc_offset_min", "value": 60 + i})
        with pytest.raises(BoardError, match="full"):
            s.send("set_parameter", {"name": "utc_offset_min", "value": 0})
        with pytest.raises(BoardError, match="full"):
            s.send("set_time", {"time": int(time.time())})
        head = s.send("read_logbook", {"count": 1})["head"]
        assert head["full"] and head["count"] == 6 and head["lost"] == 2
        with pytest.raises(BoardError, match="head"):  # not read up to its end
            s.send("reset_logbook", {"head": bytes(32)})
    archive = m["tmp"] / "before-reset.cbor"
    assert _cli(m, "logbook", "reset", "--yes", "--out", str(archive)) == 0
    assert "new log starts with the reset" in capsys.readouterr().out
    old = load(archive)["entries"]
    assert len(old) == 6
    with BoardConsole(m["board"].url(), timeout=20) as con:
        s = _session(m, con)
        s.send("set_parameter", {"name": "utc_offset_min", "value": 60})  # allowed again
        entries, head = read_all(s)
    first = entry_payload(entries[0])
    assert first["ev"] == "reset_logbook" and first["prev"] == last_hash(old)
    assert first["old"] == {"entries": 6, "lost": 3, "generation": 0}  # + the refused reset
    assert entry_payload(entries[1])["ev"] == "set_parameter" and head["count"] == 2
    # the new log verifies, and against the archive of the one before
    assert _cli(m, "logbook", "verify", "--previous", str(archive)) == 0


def test_garbage_on_the_console_cannot_fill_the_logbook(meter):
    """Refusals anyone can cause without a signature are logged while the logbook has room,
    counted (into "lost") once only a fifth is left: the institute's changes still fit."""
    m = meter
    with BoardConsole(m["board"].url(), timeout=20) as con:
        s = _session(m, con)
        head = s.send("read_logbook", {"count": 1})["head"]
        assert head["count"] <= 4, head  # capacity 6: room for the test
        for _ in range(12):
            with pytest.raises(BoardError, match="malformed"):
                con.request("signed", {"command": b"\x00"})
        head = s.send("read_logbook", {"count": 1})["head"]
        assert head["count"] == 5 and not head["full"] and head["lost"] >= 1, head
        s.send("set_parameter", {"name": "utc_offset_min", "value": 30})  # still room for it
        assert s.send("read_logbook", {"count": 1})["head"]["count"] == 6


@pytest.mark.parametrize("how", ["delete", "reorder", "alter", "truncate"])
def test_tampered_logbook_in_the_flash_image_is_detected(meter, monkeypatch, capsys, how):
    m = meter
    b = m["board"]
    monkeypatch.setenv("METERSEAL_CA_PASSPHRASE", PASS.decode())
    monkeypatch.setenv("METERSEAL_KEY_PASSPHRASE", KEYPW.decode())
    with BoardConsole(b.url(), timeout=20) as con:
        s = _session(m, con)
        if s.send("read_logbook", {"count": 1})["head"]["count"] < 4:
            for v in (61, 62):
                s.send("set_parameter", {"name": "utc_offset_min", "value": v})
    assert _cli(m, "logbook", "verify") == 0
    capsys.readouterr()
    b.kill()
    name = sorted(probe(b, "ls")["files"])[0]
    assert name.startswith("g") and name.endswith("-0.bin")
    original = bytes.fromhex(probe(b, "read", name)["data"])
    f = frames(original)
    assert len(f) >= 4
    if how == "delete":
        bad = b"".join(f[:1] + f[2:])
    elif how == "reorder":
        bad = b"".join([f[0], f[2], f[1]] + f[3:])
    elif how == "alter":
        e = bytearray(f[2])
        e[-70] ^= 0x01  # a byte of the payload, before the 64-byte signature
        bad = b"".join(f[:2] + [bytes(e)] + f[3:])
    else:
        bad = b"".join(f[:-1]) + f[-1][:len(f[-1]) // 2]
    (b.state_dir / "bad.hex").write_text(bad.hex())
    probe(b, "write", name, "@" + str(b.state_dir / "bad.hex"))
    b.start()
    assert _cli(m, "logbook", "verify") == 1
    err = capsys.readouterr().err
    want = {"delete": "sequence", "reorder": "sequence", "alter": "signature",
            "truncate": "tamper"}[how]
    assert want in err, err
    # put the log back as it was, for the next case (a truncation leaves its tamper entry:
    # that log stays broken, which is the point; start the next case from a fresh reset)
    b.kill()
    (b.state_dir / "bad.hex").write_text(original.hex())
    probe(b, "write", name, "@" + str(b.state_dir / "bad.hex"))
    b.start()
    if how == "truncate":
        assert _cli(m, "logbook", "verify") == 1  # the meter's tamper entry stays
