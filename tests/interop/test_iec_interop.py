"""IEC 62056-21 against the `iec62056_21` PyPI library (pwitab/iec62056-21 0.0.2), both ways:
its client reads our simulated meter's data set (MicroPython) over the aux UART through a
pyserial object (socket://) and over its TCP transport, and its parser yields what ours does
from the same bytes; its programming-mode client reads and is refused a write on a meter with
a stored password; our reader reads a meter scripted from the library's own message classes;
and the message codecs agree in both directions.

Library quirks met here (0.0.2): SerialTransport opens serial.Serial(name), which takes no
URL, so a subclass hands it a serial_for_url object; IdentificationMessage assumes a backslash
after the baud character and drops that character (the W of an enhanced `\\W` stays in its
identification); Client.send_password builds DataSet(value=...) without its required address
and raises TypeError, so the P1 is built here.
"""
import asyncio
import json
import random
import socket
import threading

import pytest
import serial
from iec62056_21 import client as pw_client
from iec62056_21 import messages as pw
from iec62056_21 import transports, utils

from host_tools.serial_uart import SerialUart
from host_tools.sim import SimulatedBoard
from meterseal.proto import iec62056_21 as iec
from meterseal.roles.iec_client import IecClient


class UrlSerialTransport(transports.SerialTransport):
    """The library's serial transport on any pyserial URL (socket://, rfc2217://, loop://)."""

    def __init__(self, url, timeout=10):
        super().__init__(port=url, timeout=timeout)
        self.raw = []

    def connect(self):
        self.port = serial.serial_for_url(
            self.port_name, baudrate=300, bytesize=serial.SEVENBITS, parity=serial.PARITY_EVEN,
            stopbits=serial.STOPBITS_ONE, timeout=self.timeout / 2)

    def switch_baudrate(self, baud):
        self.port.baudrate = baud  # socket:// ignores it; a real port switches

    def read(self, timeout=None):
        data = super().read(timeout)
        self.raw.append(data)
        return data


class RecordingTcpTransport(transports.TcpTransport):
    def __init__(self, address, timeout=10):
        super().__init__(address=address, timeout=timeout)
        self.raw = []

    def read(self, timeout=None):
        data = super().read(timeout)
        self.raw.append(data)
        return data


@pytest.fixture(scope="module")
def mp_meter(tmp_path_factory):
    with SimulatedBoard(tmp_path_factory.mktemp("iec_mp")) as b:
        yield b


def _pw_sets(answer):
    return [(d.address or "", d.value, d.unit) for d in answer.data]


def _our_sets(raw):
    s, e, _ = iec.decode_data_message(raw)
    return iec.parse_data_sets(raw, s, e)


def _check_readout(transport, ident_id):
    c = pw_client.Iec6205621Client(transport)
    c.connect()
    try:
        answer = c.standard_readout()
    finally:
        c.disconnect()
    assert c.manufacturer_id == "MSL" and c.switchover_baudrate == 9600
    assert c.identification == "eterSeal1"  # "MeterSeal1" less its first character (see above)
    theirs = _pw_sets(answer)
    ours = _our_sets(transport.raw[-1])
    # the library's parser keeps the trailing "!" line as an empty data line: no sets there
    assert theirs == [(a, v, u) for a, v, u in ours]
    assert [a for a, _, _ in theirs] == ["C.1.0", "0.9.1", "0.9.2", "1.8.0", "2.8.0", "16.7.0"]
    assert theirs[0][1] == "%08d" % ident_id
    assert theirs[3][2] == "kWh" and theirs[5] == ("16.7.0", "000.400", "kW")
    return theirs


def _ident_id(board):
    from host_tools.console import BoardConsole

    with BoardConsole(board.url()) as con:
        return con.request("readout")["identity"]["id"]


def test_library_reads_micropython_meter_through_pyserial_url(mp_meter):
    _check_readout(UrlSerialTransport(mp_meter.url("aux")), _ident_id(mp_meter))


def test_library_reads_micropython_meter_over_its_tcp_transport(mp_meter):
    host, port = mp_meter.url("aux")[len("socket://"):].rsplit(":", 1)
    _check_readout(RecordingTcpTransport((host, int(port))), _ident_id(mp_meter))


def test_library_programming_mode_read_and_refused_write(tmp_path):
    # A CPython board: its storage is a folder, so the password file can be put there as
    # manufacture would (iec62056_21.json, see roles/iec_server.py).
    b = SimulatedBoard(tmp_path / "cpy", interpreter="cpython")
    (b.state_dir / "fs").mkdir(exist_ok=True)
    (b.state_dir / "fs" / "iec62056_21.json").write_text(json.dumps({"password": "12345678"}))
    with b:
        c = pw_client.Iec6205621Client(UrlSerialTransport(b.url("aux")))
        c.connect()
        try:
            p0 = c.access_programming_mode()
            assert (p0.command, p0.command_type, p0.data_set.value) == ("P", 0, "")
            p1 = pw.CommandMessage("P", 1, pw.DataSet(address="", value="12345678"))
            c.transport.send(p1.to_bytes())
            assert c._recv_ack() == "\x06"
            v = c.read_single_value("1.8.0")
            assert (v.address, v.unit) == ("1.8.0", "kWh") and v.value.startswith("0000")
            assert c.read_single_value("C.1.0").value == "%08d" % _ident_id(b)
            with pytest.raises(ValueError, match="invalid response"):
                c.write_single_value("1.8.0", "000000.0000")  # the meter sent an error message
            want = iec.encode_error("SIGNED COMMAND REQUIRED")
            assert c.transport.port.read(len(want) - 1) == want[1:]  # its STX was read above
            c.send_break()
        finally:
            c.disconnect()
        # our reader on the same meter, same password: the same register through R1
        with SerialUart(b.url("aux"), 300, "7E1") as u:
            info = asyncio.run(IecClient(u).program_read(["C.1.0"], password="12345678"))
        assert info["values"] == [("C.1.0", "%08d" % _ident_id(b), None)]


# --- a meter scripted from the library's message classes, read by our reader ----------------

def _library_meter(conn, script):
    """Answer each expected message (by its first bytes) with the library-made bytes."""
    f = conn.makefile("rb")
    try:
        for expect, answer in script:
            got = b""
            while not got.startswith(expect) or not (got.endswith(b"\r\n") or (
                    len(got) >= 2 and got[-2] == 3)):
                ch = f.read(1)
                if not ch:
                    return
                got += ch
            if answer:
                conn.sendall(answer)
    finally:
        f.close()
        conn.close()


def _serve(script):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        _library_meter(conn, script)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return "socket://127.0.0.1:%d" % srv.getsockname()[1], t


def test_our_reader_reads_library_made_messages():
    ident = pw.IdentificationMessage(identification="2EK280", manufacturer="Els",
                                     switchover_baudrate_char="5").to_bytes()
    block = pw.DataBlock([pw.DataLine([pw.DataSet("3:14", "314", "kWh"),
                                       pw.DataSet("4:15", "415", "kWh")]),
                          pw.DataLine([pw.DataSet("1.8.0", "001234.567", "kWh")]),
                          pw.DataLine([pw.DataSet("F.F", "00000000")])])
    readout = pw.ReadoutDataMessage(block).to_bytes()
    url, t = _serve([(b"/?!", ident), (b"\x06", readout)])
    with SerialUart(url, 300, "7E1") as u:
        info = asyncio.run(IecClient(u).readout())
    t.join(5)
    assert (info["manufacturer"], info["enhanced"], info["ident"], info["baud"]) == (
        "Els", "2", "EK280", 9600)
    assert info["records"] == [("3:14", "314", "kWh"), ("4:15", "415", "kWh"),
                               ("1.8.0", "001234.567", "kWh"), ("F.F", "00000000", None)]

    p0 = pw.CommandMessage("P", 0, pw.DataSet(address="", value="")).to_bytes()
    answer = pw.AnswerDataMessage(pw.DataBlock([pw.DataLine([pw.DataSet(
        "1.8.0", "001234.567", "kWh")])])).to_bytes()
    url, t = _serve([(b"/?45678903!", ident), (b"\x06051", p0), (b"\x01P1", b"\x06"),
                     (b"\x01R1", answer), (b"\x01B0", None)])
    with SerialUart(url, 300, "7E1") as u:
        info = asyncio.run(IecClient(u, address="45678903").program_read(["1.8.0"], "pw"))
    t.join(5)
    assert info["values"] == [("1.8.0", "001234.567", "kWh")]


# --- the codecs in both directions -------------------------------------------------------------

def test_bcc_agrees_with_library_on_random_blocks():
    rng = random.Random(62056)
    for _ in range(2000):
        body = bytes(rng.randrange(0x20, 0x7F) for _ in range(rng.randrange(0, 80)))
        start = rng.choice((b"\x01", b"\x02"))
        msg = start + body + rng.choice((b"\x03", b"\x04"))
        assert utils.add_bcc(msg)[-1] == iec.bcc(msg, 1)


def test_messages_agree_with_library_both_ways():
    # ours -> theirs
    assert pw.RequestMessage.from_bytes(iec.encode_request("45678903")).device_address == \
        "45678903"
    ack = pw.AckOptionSelectMessage.from_bytes(iec.encode_ack_option("5", "1"))
    assert (ack.baud_char, ack.mode_char) == ("5", "1")
    im = pw.IdentificationMessage.from_bytes(iec.encode_identification("Els", "6", "EK280", "2"))
    assert (im.manufacturer, im.switchover_baudrate_char, im.identification) == (
        "Els", "6", "2EK280")  # the library keeps W in the identification (its own test too)
    ro = pw.ReadoutDataMessage.from_bytes(iec.encode_readout(
        [iec.encode_data_set("1.8.0", "001234.567", "kWh") + iec.encode_data_set("F.F", "0")]))
    sets = ro.data_block.data_lines[0].data_sets
    assert [(d.address, d.value, d.unit) for d in sets] == [("1.8.0", "001234.567", "kWh"),
                                                             ("F.F", "0", None)]
    cm = pw.CommandMessage.from_bytes(iec.encode_command("R", "1", b"1.8.0(1)"))
    assert (cm.command, cm.command_type, cm.data_set.address) == ("R", 1, "1.8.0")
    am = pw.AnswerDataMessage.from_bytes(iec.encode_error("ERROR"))
    assert am.data[0].value == "ERROR"
    # theirs -> ours
    assert iec.decode_request(pw.RequestMessage("12345678").to_bytes()) == "12345678"
    assert iec.decode_ack_option(pw.AckOptionSelectMessage("4", "0").to_bytes()) == (
        "0", "4", "0")
    for cmd, ctype, ds in (("R", 1, pw.DataSet("1.8.0", "1")), ("W", 1, pw.DataSet("C.1", "7")),
                           ("B", 0, None), ("P", 1, pw.DataSet("", "00000000"))):
        raw = pw.CommandMessage(cmd, ctype, ds).to_bytes()
        c, t, s, e = iec.decode_command(raw)
        assert (c, t) == (cmd, str(ctype))
        if ds is not None:
            assert iec.parse_data_sets(raw, s, e) == [(ds.address, ds.value, None)]
