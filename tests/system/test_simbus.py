"""The simulator's shared line: bytes reach every other peer, including boards' UARTs (P2)."""
import serial

from host_tools.console import BoardConsole
from host_tools.simbus import BusHub
from host_tools.sim import SimulatedBoard


def test_bytes_reach_every_other_peer():
    with BusHub() as hub:
        a = serial.serial_for_url(hub.url, timeout=1)
        b = serial.serial_for_url(hub.url, timeout=1)
        c = serial.serial_for_url(hub.url, timeout=1)
        try:
            hub.wait_for_peers(3)
            a.write(b"\x10\x5b\x01\x5c\x16")
            assert b.read(5) == b"\x10\x5b\x01\x5c\x16"
            assert c.read(5) == b"\x10\x5b\x01\x5c\x16"
            a.timeout = 0.2
            assert a.read(5) == b""  # no echo to the sender
        finally:
            for s in (a, b, c):
                s.close()


def test_board_uart_joins_the_hub(tmp_path):
    with BusHub() as hub:
        with SimulatedBoard(tmp_path / "m", links={"mbus": hub.address}) as b:
            assert b.url("mbus") == hub.url
            assert b.config["uarts"]["mbus"]["tcp_connect"] == hub.address
            hub.wait_for_peers(1)  # the board's M-Bus UART dialled in
            with BoardConsole(b.url()) as con:  # the console is still its own server
                assert con.request("info")["board"] == "esp32"
