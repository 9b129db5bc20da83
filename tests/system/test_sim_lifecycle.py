"""`meterseal sim` and `meterseal demo`: boards start, stop, leave nothing behind and continue on
the same state folder (P2)."""
import json
import os
import signal
import subprocess
import sys
import time

from host_tools.console import BoardConsole
from host_tools.sim import SimulatedBoard


def _no_process_uses(path):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return str(path) not in out


def test_restart_on_same_state_keeps_storage_and_ports(tmp_path):
    b = SimulatedBoard(tmp_path / "s").start()
    url = b.url()
    st = b.state_dir
    b.kill()
    # (file contents surviving kills is test_power_loss.py's job; here: identity and ports)
    b2 = SimulatedBoard(st).start()
    try:
        assert b2.url() == url  # the same socket:// URL keeps working
        with BoardConsole(url) as con:
            ident = con.request("info")
        assert ident["board"] == "esp32"
        assert (st / "flash.img").stat().st_size == 2 * 1024 * 1024
        assert (st / "efuse.bin").stat().st_size == 32
    finally:
        b2.kill()
    uid = ident["unique_id"]
    with SimulatedBoard(st) as b3, BoardConsole(b3.url()) as con:
        assert con.request("info")["unique_id"] == uid  # same eFuse, same identity


def test_state_folder_refuses_another_board(tmp_path):
    SimulatedBoard(tmp_path / "s", board="esp32")
    try:
        SimulatedBoard(tmp_path / "s", board="rp2040")
    except Exception as e:
        assert "holds a simulated esp32" in str(e)
    else:
        raise AssertionError("accepted a different board on the same state")


def test_meterseal_sim_foreground_until_ctrl_c(tmp_path):
    state = tmp_path / "fg"
    p = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "sim", "--board", "rp2040",
                          "--state", str(state)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        deadline = time.monotonic() + 30
        cfg = None
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if "Ctrl-C stops the board" in line:
                cfg = json.loads((state / "board.json").read_text())
                break
        assert cfg, "meterseal sim did not come up"
        url = "socket://127.0.0.1:%d" % cfg["uarts"]["console"]["tcp_port"]
        with BoardConsole(url) as con:
            ident = con.request("info")
        assert ident["board"] == "rp2040"
        assert 180 * 1024 < ident["heap_total"] <= 196608  # the Pico's heap
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            p.kill()
    time.sleep(0.2)
    assert _no_process_uses(state), "a board process outlived meterseal sim"


def test_demo_prints_identity_and_leaves_no_process(tmp_path):
    """make demo: a fresh meter provisioned, sealing, its readings pulled and verified (P3, S1)."""
    env = dict(os.environ)
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "demo", "--keep", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert time.monotonic() - t < 60
    assert "interpreter  micropython 1." in out.stdout
    assert "KiB free of 12" in out.stdout  # the ESP32's 128 KiB heap
    assert "board sealed: calibrated" in out.stdout and "sealing on" in out.stdout
    assert "board stopped." in out.stdout
    rows = [ln for ln in out.stdout.splitlines() if ln.rstrip().endswith(" ok")]
    assert len(rows) >= 6 and "FAILED" not in out.stdout
    assert "sealed readings verified, each signed while CERT_EM was valid." in out.stdout
    assert "revocation checked against CRL 1 of CN=Metrological Institute Calibration" in out.stdout
    time.sleep(0.2)
    assert _no_process_uses(tmp_path / "d")


def test_board_dies_with_its_owner_even_on_sigkill(tmp_path):
    """No simulated board outlives the process that started it (Linux PR_SET_PDEATHSIG)."""
    code = ("from host_tools.sim import SimulatedBoard\nimport time\n"
            "SimulatedBoard(%r).start()\nprint('up', flush=True)\ntime.sleep(60)\n"
            % str(tmp_path / "orphan"))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "up"
    finally:
        p.kill()
        p.wait()
    time.sleep(0.5)
    assert _no_process_uses(tmp_path / "orphan")
