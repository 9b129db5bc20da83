"""`meterseal iec read` against small third-party meters on a TCP socket (socket://): --baud is
the start rate, and a device that never stops talking does not keep the command waiting (D6)."""
import socket
import threading
import time

from host_tools import cli
from host_tools import serial_uart


def _bcc(data):
    x = 0
    for c in data:
        x ^= c
    return bytes((x & 0x7F,))


def _serve(script):
    """A one-connection meter running script(conn, received) in a thread; (url, thread, rx)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    rx = []

    def run():
        c, _ = srv.accept()
        c.settimeout(5)
        try:
            script(c, rx)
        except OSError:
            pass
        finally:
            time.sleep(0.2)
            c.close()
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return "socket://127.0.0.1:%d" % srv.getsockname()[1], t, rx


def _line(c, rx):
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = c.recv(1)
        if not d:
            raise OSError("closed")
        buf += d
    rx.append(buf)
    return buf


def _mode_c_meter(c, rx):
    _line(c, rx)
    time.sleep(0.05)
    c.sendall(b"/ISk5ME162\r\n")
    _line(c, rx)
    time.sleep(0.05)
    body = b"1.8.0(0001234.567*kWh)\r\n!\r\n\x03"
    c.sendall(b"\x02" + body + _bcc(body))


def test_baud_is_the_start_rate(monkeypatch, capsys):
    rates = []
    orig = serial_uart.SerialUart.set_baud

    def set_baud(self, baud):
        rates.append(baud)
        orig(self, baud)

    monkeypatch.setattr(serial_uart.SerialUart, "set_baud", set_baud)
    url, t, rx = _serve(_mode_c_meter)
    assert cli.main(["iec", "read", "--port", url, "--baud", "2400", "--no-switch"]) == 0
    t.join(5)
    assert "(mode C, 2400 Bd)" in capsys.readouterr().out
    assert set(rates) == {2400}  # never back to 300
    assert rx == [b"/?!\r\n", b"\x06030\r\n"]  # option select: stay at 2400 (Z = '3')
    assert cli.main(["iec", "read", "--port", "loop://", "--baud", "115200"]) == 2
    assert "IEC 62056-21 rates are 300 to 19200 Bd" in capsys.readouterr().err


def test_iec_read_help_describes_its_own_options(capsys):
    try:
        cli.main(["iec", "read", "--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert "start rate of the sign-on" in out and "console" not in out


def test_a_device_that_never_stops_talking_is_given_up(capsys):
    # A push meter: a data line every 0.5 s, never an identification.
    def push(c, rx):
        for _ in range(60):
            c.sendall(b"1.8.0(0001234.567*kWh)\r\n")
            time.sleep(0.5)

    url, t, _ = _serve(push)
    t0 = time.monotonic()
    assert cli.main(["iec", "read", "--port", url, "--timeout", "1"]) == 2
    assert time.monotonic() - t0 < 10
    assert "no identification from socket://" in capsys.readouterr().err


def test_backstop_bounds_the_whole_session(monkeypatch, capsys):
    from host_tools import cmd_iec

    assert cmd_iec.backstop_s(3, 300) > 3 + 16384 / 30  # a whole readout at 300 Bd fits
    monkeypatch.setattr(cmd_iec, "backstop_s", lambda *a: 0.5)

    def silent_meter(c, rx):
        _line(c, rx)
        time.sleep(2)

    url, t, _ = _serve(silent_meter)
    assert cli.main(["iec", "read", "--port", url, "--timeout", "3"]) == 2
    assert "no complete answer from socket://" in capsys.readouterr().err
