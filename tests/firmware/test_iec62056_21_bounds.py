# The IEC 62056-21 reader and meter against peers that misbehave or need more than the happy
# path: devices that never stop talking (the reader must give up in bounded time), an HHU that
# retries its sign-on or trickles bytes (the meter's ACK wait), answers with a bad BCC, partial
# blocks, alphanumeric R1 values, and password guessing over several sessions.
import asyncio

from mptest import raises

from iec_loop import pair
from meterseal.compat import asleep_ms, ticks_diff, ticks_ms, wait_for_ms
from meterseal.proto import iec62056_21 as iec
from meterseal.roles.iec_client import IecClient, NoAnswer, Refused
from meterseal.roles.iec_server import IecServer

NOW = 1700000000
IDENT = b"/MSL5MeterSeal1\r\n"


def _run(meter, client, baud=2400, pace=True, echo=False):
    """client(probe) against the coroutine meter(uart); a hang fails instead of stalling."""
    probe, muart = pair(baud, pace)
    probe.echo = echo
    probe.log = muart.log = None  # kilobytes of junk: keep the heap for the reader

    async def main():
        t = asyncio.create_task(meter(muart))
        try:
            return await wait_for_ms(client(probe), 8000)
        finally:
            t.cancel()
            await asyncio.sleep(0)

    return asyncio.run(main())


def _reader(**kw):
    kw.setdefault("timeout_ms", 500)
    return lambda probe: IecClient(probe, initial_baud=probe.initial, reaction_ms=20,
                                   **kw).readout()


async def _push(uart, chunk, every_ms, n=1000):
    for _ in range(n):
        await uart.write(chunk)
        await asleep_ms(every_ms)


async def _until(uart, end):
    got = bytearray()
    while end not in got:
        got += await uart.read(64)
    return got


def _ident_then(after):
    """A mode C meter: identification (20 ms tr), the option select's rate, then after(uart)."""
    async def meter(uart):
        await _until(uart, b"!\r\n")
        await asleep_ms(20)
        await uart.write(b"/ISk5MT174\r\n")
        got = await _until(uart, b"\r\n")
        uart.set_baud(iec.BAUDS_C[got[got.index(b"\x06") + 2] - 0x30])
        await after(uart)
    return meter


# --- the reader: every wait bounded as a whole ----------------------------------------------

def test_reader_gives_up_on_a_push_meter():
    # Data lines every 300 ms, never an identification: each chunk used to restart the wait.
    t0 = ticks_ms()
    with raises(NoAnswer, match="identification"):
        _run(lambda u: _push(u, b"1.8.0(0001234.567*kWh)\r\n", 300), _reader())
    assert ticks_diff(ticks_ms(), t0) < 2500


def test_reader_skips_only_so_much_junk():
    with raises(iec.FrameError, match="no identification"):  # no CR LF at all
        _run(lambda u: _push(u, b"\x7f" * 64, 5), _reader(), pace=False)
    with raises(iec.FrameError, match="no identification"):  # lines without '/'
        _run(lambda u: _push(u, b"\x00 noise\r\n" * 8, 5), _reader(), pace=False)


def test_reader_gives_up_when_no_stx_comes():
    t0 = ticks_ms()
    with raises(NoAnswer, match="data message"):
        _run(_ident_then(lambda u: _push(u, b"\x7f\x00 noise\r\n", 300)), _reader())
    assert ticks_diff(ticks_ms(), t0) < 3000
    with raises(iec.FrameError, match="no STX"):
        _run(_ident_then(lambda u: _push(u, b"\x7f" * 64, 5)), _reader(), pace=False)


def test_reader_bounds_the_data_message():
    def endless(line):
        async def meter(uart):
            await asleep_ms(50)  # the reader's switch
            await uart.write(b"\x02")
            await _push(uart, line * 4, 2)
        return meter

    with raises(iec.FrameError, match="length"):  # 16384 characters
        _run(_ident_then(endless(b"1-0:1.8.0*255(0001234.567*kWh)" + b" " * 90 + b"\r\n")),
             _reader(), pace=False)
    with raises(iec.FrameError, match="records"):  # 256 data sets on a board
        _run(_ident_then(endless(b"P.01" + b"(1)" * 100 + b"\r\n")), _reader(), pace=False)


# --- the reader in programming mode ---------------------------------------------------------

def _prog_meter(answers, log):
    """A programming-mode meter: P0 after the option select, then answers[i] to the i-th
    message it receives (blocks, or a lone ACK/NAK); every message received goes to log."""
    async def after(uart):
        await asleep_ms(20)
        await uart.write(iec.encode_command("P", "0", b"()"))
        buf = bytearray()
        todo = list(answers)
        while True:
            msg = None
            if buf and (buf[0] == iec.ACK or buf[0] == iec.NAK):
                msg = bytes(buf[:1])
                buf[:1] = b""
            elif buf:
                blk = iec.find_block(buf)
                if blk is not None:
                    msg = bytes(buf[blk[0]:blk[1]])
                    buf[:blk[1]] = b""
            if msg is None:
                buf += await uart.read(64)
                continue
            log.append(msg)
            if msg.startswith(b"\x01B0"):
                return
            if todo:
                await asleep_ms(20)
                await uart.write(todo.pop(0))
    return _ident_then(after)


def _program(addresses):
    return lambda probe: IecClient(probe, initial_baud=probe.initial, reaction_ms=20).program_read(
        addresses, password="00000000")


def _bad(block):
    return block[:-1] + bytes((block[-1] ^ 1,))


P1 = iec.encode_command("P", "1", b"(00000000)")
B0 = iec.encode_command("B", "0")
ACK = b"\x06"
NAK = b"\x15"


def _r1(a):
    return iec.encode_command("R", "1", iec.encode_data_set(a, ""))


def test_r1_alphanumeric_value_is_a_value_not_an_error():
    # ISKRA answers R1 of C.1.0 with "(ISK1234567)": no address, no unit, letters and digits.
    log = []
    info = _run(_prog_meter([ACK, iec.encode_answer(b"(ISK1234567)")], log), _program(["C.1.0"]))
    assert info["values"] == [("C.1.0", "ISK1234567", None)]
    for text in ("ERROR", "ERR", "NO ACCESS"):  # error texts have no digit
        with raises(Refused, match="read 1.8.0: " + text):
            _run(_prog_meter([ACK, iec.encode_error(text)], []), _program(["1.8.0"]))


def test_bad_bcc_of_an_answer_is_answered_with_nak():
    ans = iec.encode_answer(b"(0032835.698*kWh)")
    log = []
    info = _run(_prog_meter([ACK, _bad(ans), ans], log), _program(["1.8.0"]))
    assert info["values"] == [("1.8.0", "0032835.698", "kWh")]
    assert log == [P1, _r1("1.8.0"), NAK, B0]
    log = []
    with raises(iec.FrameError, match="bcc"):  # three repeats asked for, then we give up
        _run(_prog_meter([ACK] + [_bad(ans)] * 4, log), _program(["1.8.0"]))
    assert log == [P1, _r1("1.8.0"), NAK, NAK, NAK, B0]


def test_partial_blocks_are_acknowledged_and_joined():
    first = iec.encode_answer(b"1.8.0(0000001*kWh)", partial=True)
    second = iec.encode_answer(b"1.8.0*01(0000002*kWh)", partial=True)
    last = iec.encode_answer(b"1.8.0*02(0000003*kWh)")
    want = [("1.8.0", "0000001", "kWh"), ("1.8.0*01", "0000002", "kWh"),
            ("1.8.0*02", "0000003", "kWh")]
    log = []
    info = _run(_prog_meter([ACK, first, second, last], log), _program(["1.8.0"]))
    assert info["values"] == want
    assert log == [P1, _r1("1.8.0"), ACK, ACK, B0]
    # through a probe that echoes: our lone ACK and NAK come back to us and are skipped
    log = []
    info = _run(_prog_meter([ACK, _bad(first), first, second, last], log), _program(["1.8.0"]),
                echo=True)
    assert info["values"] == want
    assert log == [P1, _r1("1.8.0"), NAK, ACK, ACK, B0]


# --- the meter ------------------------------------------------------------------------------

def _with_meter(body, **kw):
    probe, muart = pair(2400)
    srv = IecServer(muart, lambda: [], {"id": 12345678}, lambda: NOW, initial_baud=2400,
                    reaction_ms=60, **kw)

    async def main():
        task = asyncio.create_task(srv.run())
        try:
            return await wait_for_ms(body(probe, srv), 15000)
        finally:
            task.cancel()
            await asyncio.sleep(0)

    return asyncio.run(main())


async def _collect(probe, ms, end=None):
    """What arrives within ms (or up to `end`)."""
    got = bytearray()
    t0 = ticks_ms()
    while end is None or end not in got:
        left = ms - ticks_diff(ticks_ms(), t0)
        if left <= 0:
            break
        try:
            got += await wait_for_ms(probe.read(64), left)
        except asyncio.TimeoutError:
            break
    return bytes(got)


def test_meter_answers_a_repeated_sign_on():
    async def body(probe, srv):
        await probe.write(b"/?!\r\n")
        assert await _collect(probe, 1000, b"\r\n") == IDENT
        await asleep_ms(300)
        await probe.write(b"/?!\r\n")  # the HHU missed the identification: it asks again
        assert await _collect(probe, 1000, b"\r\n") == IDENT
        await probe.write(b"/?12345678!\r\n")  # addressed to us: also a restart
        assert await _collect(probe, 1000, b"\r\n") == IDENT
        await probe.write(b"/?99999999!\r\n")  # another meter's: ignored
        assert await _collect(probe, 400) == b""
        await probe.write(b"\x06030\r\n")  # now the option select: readout at 2400 Bd
        got = await _collect(probe, 1500, b"!\r\n")
        assert got.startswith(b"\x02C.1.0(12345678)")

    _with_meter(body)


def test_meter_ack_wait_is_not_extended_by_trickling_bytes():
    async def body(probe, srv):
        await probe.write(b"/?!\r\n")
        assert await _collect(probe, 1000, b"\r\n") == IDENT
        t_id = ticks_ms()

        async def trickle():
            for _ in range(12):
                await asleep_ms(300)
                await probe.write(b"\x00")

        t = asyncio.create_task(trickle())
        try:
            got = await _collect(probe, 4000, b"\x02")
        finally:
            t.cancel()
        # no option select within 2000 ms of the identification: the readout at 2400 Bd
        assert got.startswith(b"\x02C.1.0("), got
        assert ticks_diff(ticks_ms(), t_id) < 2700

    _with_meter(body)


def test_wrong_passwords_slow_down_across_sessions():
    async def p1(c, pw):
        t0 = ticks_ms()
        r = await c._command(iec.encode_command("P", "1", iec.encode_data_set("", pw)), "P1")
        return r, ticks_diff(ticks_ms(), t0)

    async def sign_on(probe):
        c = IecClient(probe, initial_baud=2400, reaction_ms=20)
        await c._sign_on(iec.MODE_PROGRAMMING)
        await c._reply("P0")
        return c

    wrong = iec.encode_error("WRONG PASSWORD")

    async def body(probe, srv):
        c = await sign_on(probe)
        r, ms = await p1(c, "guess1")
        assert r == wrong and ms < 300  # the first failure costs nothing
        r, ms = await p1(c, "guess2")
        assert r == wrong and ms >= 100  # 100 ms << 0
        r, ms = await p1(c, "guess3")  # the third ends the session ...
        assert r == wrong and ms >= 200
        assert srv.pw_failures == 3
        await asleep_ms(200)
        c = await sign_on(probe)  # ... but a new one does not forget
        r, ms = await p1(c, "guess4")
        assert r == wrong and ms >= 400
        r, ms = await p1(c, "s3cret")  # the right one waits too: the delay tells nothing
        assert r == ACK and ms >= 800
        assert srv.pw_failures == 0
        await c._send(B0)

    _with_meter(body, password="s3cret", pw_delay_ms=100)
