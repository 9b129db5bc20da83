# The meter's IEC 62056-21 service and the reader, talking over an in-memory optical link that
# delivers characters after their wire time at the sender's rate (and garbage when the two
# sides' rates differ): readout with baud switch, addresses, reaction times, programming mode,
# inactivity, and the reader against meters of modes A and B, probe echoes, junk, short tr.
import asyncio

from mptest import raises

from iec_loop import pair
from meterseal.compat import ticks_diff
from meterseal.proto import iec62056_21 as iec
from meterseal.roles import iec_client
from meterseal.roles.iec_client import IecClient, NoAnswer, Refused
from meterseal.roles.iec_server import IecServer, civil

IMPORT = b"\x01\x00\x01\x08\x00\xff"
EXPORT = b"\x01\x00\x02\x08\x00\xff"
POWER = b"\x01\x00\x10\x07\x00\xff"
NOW = 1700000000  # 2023-11-14 22:13:20 UTC


def _registers():
    return [(IMPORT, 123456, -1, 30), (EXPORT, 7, -1, 30), (POWER, -400, 0, 27)]


EXPECTED = [("C.1.0", "12345678", None), ("0.9.1", "22:13:20", None),
            ("0.9.2", "23.11.14", None), ("1.8.0", "000012.3456", "kWh"),
            ("2.8.0", "000000.0007", "kWh"), ("16.7.0", "-000.400", "kW")]


def _with_meter(body, registers=_registers, initial=2400, fast=True, **kw):
    """Run body(probe, meter_uart, server) against a running meter service; always cancel.
    Tests that are not about timing sign on at 2400 Bd with 60 ms (meter) and 20 ms (reader)
    reaction times to stay quick; fast=False keeps the standard's 300 Bd and 200 ms."""
    if not fast:
        initial = 300
    probe, muart = pair(initial)
    probe.fast = fast
    srv = IecServer(muart, registers, {"id": 12345678}, lambda: NOW, initial_baud=initial,
                    reaction_ms=60 if fast else 220, **kw)

    async def main():
        task = asyncio.create_task(srv.run())
        try:
            return await body(probe, muart, srv)
        finally:
            task.cancel()
            await asyncio.sleep(0)

    return asyncio.run(main())


def _client(probe, **kw):
    if getattr(probe, "fast", False):
        kw.setdefault("reaction_ms", 20)
    return IecClient(probe, initial_baud=probe.initial, **kw)


def _bauds(uart):
    """The rates the UART went through, repeats folded."""
    out = []
    for b in uart.bauds:
        if not out or out[-1] != b:
            out.append(b)
    return out


def _reaction_times(uart):
    """Milliseconds from each received message's last chunk to the next answer written."""
    out = []
    last_rx = None
    for t, kind, _ in uart.log:
        if kind == "rx":
            last_rx = t
        elif last_rx is not None:
            out.append(ticks_diff(t, last_rx))
            last_rx = None
    return out


def test_readout_with_baud_switch_and_reaction_times():
    async def body(probe, muart, srv):
        info = await _client(probe).readout()
        assert (info["manufacturer"], info["baud_char"], info["ident"], info["mode"],
                info["baud"]) == ("MSL", "5", "MeterSeal1", "C", 9600)
        assert info["records"] == EXPECTED
        assert _bauds(muart)[-2:] == [9600, 300] and probe.bauds[-1] == 300
        times = _reaction_times(muart)
        assert len(times) == 2
        for t in times:  # IEC 62056-21: 200 ms <= tr <= 1500 ms
            assert 200 <= t <= 1500, times
        # the answer at 9600 Bd went out after the meter had switched
        assert muart.sent().endswith(iec.encode_readout(
            [iec.encode_data_set(*r) for r in EXPECTED]))

    _with_meter(body, fast=False)


def test_max_baud_of_client_and_meter():
    async def body(probe, muart, srv):
        info = await _client(probe, max_baud=2400).readout()
        assert info["baud"] == 2400 and 9600 not in muart.bauds
        assert info["records"] == EXPECTED

    _with_meter(body, initial=1200)

    async def body2(probe, muart, srv):
        info = await _client(probe).readout()
        assert info["baud_char"] == "4" and info["baud"] == 4800

    _with_meter(body2, max_baud=4800)


def test_sign_on_with_address():
    async def body(probe, muart, srv):
        assert (await _client(probe, address="12345678").readout())["records"] == EXPECTED
        assert (await _client(probe, address="0012345678").readout())["ident"] == "MeterSeal1"
        with raises(NoAnswer, match="identification"):
            await _client(probe, address="87654321", timeout_ms=1700).readout()
        assert b"/MSL" not in probe.log[-1][2]
        # the meter is still listening after the request for another device
        assert (await _client(probe).readout())["records"] == EXPECTED

    _with_meter(body)


def test_configured_address():
    async def body(probe, muart, srv):
        assert (await _client(probe, address="OPTO 7").readout())["records"] == EXPECTED

    _with_meter(body, address="OPTO 7")


def test_no_switch_reads_at_300_baud():
    async def body(probe, muart, srv):
        info = await _client(probe, switch=False).readout()
        assert info["baud"] == 300 and info["records"] == EXPECTED[:3]
        assert 9600 not in muart.bauds

    _with_meter(body, registers=lambda: [], fast=False)


def test_without_option_select_the_meter_sends_at_300_baud():
    # A bare `/?!` reader (vzlogger's D0 meter with no ack sequence) still gets the readout.
    async def body(probe, muart, srv):
        await probe.write(b"/?!\r\n")
        got = bytearray()
        while not (len(got) > 2 and got[-2] == 0x03):
            got += await probe.read(64)
        assert got.startswith(b"/MSL5MeterSeal1\r\n\x02C.1.0(12345678)")
        s = got.index(b"\x02")
        iec.decode_data_message(got, s, len(got))
        assert 9600 not in muart.bauds

    _with_meter(body, registers=lambda: [], fast=False)


async def _programming(probe, password):
    c = _client(probe)
    await c._sign_on(iec.MODE_PROGRAMMING)
    assert (await c._reply("P0")) == b"\x01P0\x02()\x03`"
    if password is not None:
        r = await c._command(iec.encode_command("P", "1", iec.encode_data_set("", password)), "P1")
        assert r == b"\x06", r
    return c


def _error(text):
    return iec.encode_error(text)


def test_programming_mode_read_write_break():
    refused = []

    async def body(probe, muart, srv):
        info = await _client(probe).program_read(["1.8.0", "C.1.0", "1-0:16.7.0*255",
                                                    "0.9.2"], password="s3cret")
        assert info["values"] == [("1.8.0", "000012.3456", "kWh"), ("C.1.0", "12345678", None),
                                  ("1-0:16.7.0*255", "-000.400", "kW"),
                                  ("0.9.2", "23.11.14", None)]
        await asyncio.sleep(0.1)
        assert _bauds(muart)[-2:] == [9600, 2400]  # B0 sent the meter back to its start rate
        n = srv.sessions
        c = await _programming(probe, "s3cret")
        w = iec.encode_command("W", "1", iec.encode_data_set("1.8.0", "000000.0000"))
        assert await c._command(w, "W1") == _error("SIGNED COMMAND REQUIRED")
        w = iec.encode_command("W", "1", iec.encode_data_set("0.9.1", "00:00:00"))
        assert await c._command(w, "W1") == _error("SIGNED COMMAND REQUIRED")
        w = iec.encode_command("W", "1", iec.encode_data_set("99.1.0", "1"))
        assert await c._command(w, "W1") == _error("UNKNOWN ADDRESS")
        r = iec.encode_command("R", "1", iec.encode_data_set("99.1.0", ""))
        assert await c._command(r, "R1") == _error("UNKNOWN ADDRESS")
        for other in (iec.encode_command("E", "2", b"C.1.0()"), iec.encode_command("R", "5", b"P.01()"),
                      iec.encode_command("P", "2", b"(1234)")):
            assert await c._command(other, "other") == _error("NOT SUPPORTED")
        # a corrupted BCC is answered with NAK; our NAK gets the last answer again
        bad = bytearray(iec.encode_command("R", "1", b"1.8.0()"))
        bad[-1] ^= 1
        await c._send(bytes(bad))
        assert await c._reply("NAK") == b"\x15"
        await c._send(b"\x15")
        assert await c._reply("repeat") == b"\x15"
        await c._send(iec.encode_command("R", "1", b"2.8.0()"))
        ans = await c._reply("R1")
        await c._send(b"\x15")
        assert await c._reply("repeat") == ans == iec.encode_answer(b"2.8.0(000000.0007*kWh)")
        await c._send(iec.encode_command("B", "0"))
        for _ in range(50):
            if srv.sessions > n:
                break
            await asyncio.sleep(0.02)
        assert muart.baud == 2400 and srv.sessions == n + 1
        assert refused == [("1.8.0", "iec62056-21 W1"), ("0.9.1", "iec62056-21 W1"),
                           ("99.1.0", "iec62056-21 W1")]

    _with_meter(body, password="s3cret", on_refused=lambda a, r: refused.append((a, r)))


def test_programming_mode_password_rules():
    async def body(probe, muart, srv):
        c = await _programming(probe, None)
        r = iec.encode_command("R", "1", b"1.8.0()")
        assert await c._command(r, "R1") == _error("PASSWORD REQUIRED")
        for i in range(3):  # the third wrong password ends the session
            p1 = iec.encode_command("P", "1", b"(guess%d)" % i)
            assert await c._command(p1, "P1") == _error("WRONG PASSWORD")
        await asyncio.sleep(0.3)
        assert muart.baud == 2400
        with raises(Refused, match="password: WRONG PASSWORD"):
            await _client(probe).program_read(["1.8.0"], password="s3cre")

    _with_meter(body, password="s3cret")

    async def body2(probe, muart, srv):
        with raises(Refused, match="password: PASSWORD NOT SET"):
            await _client(probe).program_read(["1.8.0"], password="00000000")
        with raises(Refused, match="read 1.8.0: PASSWORD REQUIRED"):
            await _client(probe).program_read(["1.8.0"])

    _with_meter(body2)  # no password stored: no way into programming mode


def test_programming_mode_inactivity_timeout():
    async def body(probe, muart, srv):
        await _programming(probe, "pw")
        assert muart.baud == 9600
        await asyncio.sleep(0.6)
        assert muart.baud == 2400  # tt expired: back to idle at the initial rate
        assert (await _client(probe).readout())["records"] == EXPECTED

    _with_meter(body, password="pw", tt_ms=300)


def test_probe_echo_and_junk_are_skipped():
    async def body(probe, muart, srv):
        probe.echo = True
        muart.check_baud = True
        muart.inject(b"\x00\x00")  # NUL wake-up characters before the request
        info = await _client(probe).readout()
        assert info["records"] == EXPECTED
        info = await _client(probe).program_read(["2.8.0"], password="pw")
        assert info["values"] == [("2.8.0", "000000.0007", "kWh")]

    _with_meter(body, password="pw")


async def _scripted_meter(uart, ident, data, react_ms=200, switch_to=None, wait_ack=True):
    got = bytearray()
    while b"!\r\n" not in got:
        got += await uart.read(64)
    await asyncio.sleep(react_ms / 1000)
    await uart.write(ident)
    if wait_ack:
        got = bytearray()
        while b"\r\n" not in got:
            got += await uart.read(64)
        z = got[got.index(b"\x06") + 2]
        uart.set_baud(iec.BAUDS_C[z - 0x30])
    elif switch_to:
        uart.set_baud(switch_to)
    await asyncio.sleep(react_ms / 1000)
    await uart.write(data)


def _run_scripted(meter_coro_args, client):
    probe, muart = pair(1200)  # the start rate of these meters' exchange, for speed

    async def main():
        t = asyncio.create_task(_scripted_meter(muart, *meter_coro_args[0], **meter_coro_args[1]))
        try:
            return await client(probe)
        finally:
            t.cancel()
            await asyncio.sleep(0)

    return asyncio.run(main())


_LGZ_DATA = (b"\x02F.F(00000000)\r\n0.0.0( 20000)\r\n1.8.1(001846.0*kWh)\r\n"
             b"2.8.1(004329.6*kWh)\r\n!\r\n\x03")


def test_reader_mode_b_and_mode_a_meters():
    data = _LGZ_DATA + bytes((iec.bcc(_LGZ_DATA, 1),))
    want = [("F.F", "00000000", None), ("0.0.0", " 20000", None),
            ("1.8.1", "001846.0", "kWh"), ("2.8.1", "004329.6", "kWh")]

    async def read(probe):
        return await _client(probe).readout()

    info = _run_scripted(((b"/XYZE2ZMD\r\n", data), {"wait_ack": False, "switch_to": 4800}), read)
    assert info["mode"] == "B" and info["baud"] == 4800 and info["records"] == want
    info = _run_scripted(((b"/XYZ*ABC\r\n", data), {"wait_ack": False}), read)
    assert info["mode"] == "A" and info["baud"] == 1200 and info["records"] == want


def test_reader_short_reaction_time_meter():
    # Third flag letter in lower case: the meter may answer 20 ms after our option select.
    data = _LGZ_DATA + bytes((iec.bcc(_LGZ_DATA, 1),))

    async def read(probe):
        return await _client(probe).readout()

    info = _run_scripted(((b"/ISk5MT174-0001\r\n", data), {"react_ms": 20}), read)
    assert info["manufacturer"] == "ISk" and info["baud"] == 9600 and len(info["records"]) == 4


def test_reader_rejects_bad_bcc():
    data = _LGZ_DATA + bytes((iec.bcc(_LGZ_DATA, 1) ^ 0x20,))

    async def read(probe):
        return await _client(probe).readout()

    with raises(iec.FrameError, match="bcc"):
        _run_scripted(((b"/LGZ52ZMD120APt.G03\r\n", data), {}), read)


def test_civil_dates():
    assert civil(0) == (1970, 1, 1, 0, 0, 0)
    assert civil(951782400) == (2000, 2, 29, 0, 0, 0)
    assert civil(NOW) == (2023, 11, 14, 22, 13, 20)
    assert civil(4102444799) == (2099, 12, 31, 23, 59, 59)
    assert iec_client._is_error("ERROR") and iec_client._is_error("UNKNOWN ADDRESS")
    assert not iec_client._is_error("23.11.14") and not iec_client._is_error("ISK1234567")
