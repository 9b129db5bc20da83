# The UARTs of a real board as the byte streams hal/sim.py's SimUart offers: async read(n) of
# at least one byte, async write(data) that returns when the bytes are out, set_baud(baud).
#
# Two kinds: the console is the REPL's own stream (UART0 through the CP2102 on the ESP32
# DevKitC, USB CDC on the Pico), so it goes through sys.stdin.buffer / sys.stdout.buffer; every
# other UART is a machine.UART wrapped in an asyncio stream. Nothing here blocks the scheduler
# waiting for a peer: reads wait in asyncio's poller, and only bytes already received are read.
import asyncio
import sys

from machine import UART, Pin
from meterseal.compat import const

_READ_CHUNK = const(256)  # the largest read() answer; the console service asks for 256
_RXBUF = const(512)  # driver ring buffer: an M-Bus long frame (<= 261 bytes) fits twice
_WRITE_CHUNK = const(64)  # console writes are cut into chunks so other tasks run in between
_REPL_GRACE_MS = const(3000)  # Ctrl-C still stops main.py this long after boot (see start())


def _bits_per_char(cfg):
    # start bit + data bits + parity bit (if any) + stop bits: the wire time of one character.
    return 1 + cfg.get("bits", 8) + (0 if cfg.get("parity") is None else 1) + cfg.get("stop", 1)


class MachineUart:
    """A machine.UART (board.json "uarts": id, tx, rx, baud, bits, parity null/0/1, stop)."""

    def __init__(self, name, cfg):
        self.name = name
        self.baud = cfg.get("baud", 9600)
        self._cfg = cfg
        self._char_bits = _bits_per_char(cfg)
        # timeout=0: read()/readinto() return what the driver holds and never wait, so the
        # only waiting is asyncio's poll on the UART (docs: machine.UART, "timeout specifies the
        # time to wait for the first character (in ms)"). rxbuf is only given here: re-inits
        # in set_baud keep the buffer (and, on the ESP32, the installed IDF driver).
        self._uart = UART(cfg["id"], baudrate=self.baud, bits=cfg.get("bits", 8),
                          parity=cfg.get("parity"), stop=cfg.get("stop", 1),
                          tx=Pin(cfg["tx"]), rx=Pin(cfg["rx"]), timeout=0, timeout_char=0,
                          rxbuf=_RXBUF)
        # asyncio.StreamReader and StreamWriter are one class in MicroPython (aliases of
        # Stream, extmod/asyncio/stream.py); it polls the UART through the stream ioctl, which
        # machine.UART implements on both ports. One object each way keeps the types honest.
        self._reader = asyncio.StreamReader(self._uart)
        self._writer = asyncio.StreamWriter(self._uart)
        self._buf = bytearray(_READ_CHUNK)  # made once: reads go readinto it (style.md, hal)
        self._mv = memoryview(self._buf)

    async def start(self):
        pass

    async def read(self, n):
        """At least one byte, at most n (and at most _READ_CHUNK)."""
        mv = self._mv[:n] if n < _READ_CHUNK else self._mv
        while True:
            # Stream.readinto waits until the UART polls readable, then takes what is there.
            k = await self._reader.readinto(mv)
            if k:
                return bytes(mv[:k])

    async def write(self, data):
        """Write and wait until the last stop bit has left the pin.

        drain() only hands the bytes to the driver's TX buffer. The callers need the line
        idle: an M-Bus slave times its answer from the end of the request, and IEC 62056-21
        (mode C) switches the baud rate right after the acknowledgement has gone out.
        txdone() is polled (docs: "Availability: rp2, esp32, ...") instead of the blocking
        flush(), sleeping roughly one character time per try.
        """
        self._writer.write(data)
        await self._writer.drain()
        pause = max(1, self._char_bits * 1000 // self.baud)
        while not self._uart.txdone():
            await asyncio.sleep_ms(pause)

    def set_baud(self, baud):
        # UART.init may be called again to reconfigure on the fly (docs: machine.UART.init).
        # The frame format and pins are restated so no port falls back to its defaults.
        cfg = self._cfg
        self._uart.init(baudrate=baud, bits=cfg.get("bits", 8), parity=cfg.get("parity"),
                        stop=cfg.get("stop", 1), tx=Pin(cfg["tx"]), rx=Pin(cfg["rx"]),
                        timeout=0, timeout_char=0)
        self.baud = baud


class StdioUart:
    """The console: the REPL's stream while main.py runs (UART0 on the ESP32, USB CDC on the
    Pico), read through sys.stdin.buffer and written through sys.stdout.buffer (raw bytes: the
    text-mode sys.stdin turns CR into LF, sys.stdout LF into CRLF)."""

    def __init__(self, name, cfg, grace_ms=_REPL_GRACE_MS):
        import select

        self.name = name
        self.baud = cfg.get("baud", 115200)
        self._grace_ms = grace_ms
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        # Waiting for the first byte happens in asyncio's poller (the stdio objects implement
        # the poll ioctl, shared/runtime/sys_stdio_mphal.c); a private poll object with
        # timeout 0 then says whether more bytes are already there.
        self._stream = asyncio.StreamReader(self._in)
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._buf = bytearray(_READ_CHUNK)
        self._mv = memoryview(self._buf)
        self._first = self._mv[:1]  # the byte the poller waited for lands in _buf[0]
        self._one = bytearray(1)  # the bytes that follow, one at a time

    async def start(self):
        asyncio.create_task(self._own_ctrl_c())

    async def _own_ctrl_c(self):
        # A console frame may contain 0x03; while the REPL's Ctrl-C handling is on, that byte
        # raises KeyboardInterrupt in main.py instead of reaching us. kbd_intr(-1) makes it
        # data (docs: micropython.kbd_intr). The grace period after boot keeps `mpremote`
        # usable for a developer who resets the board and connects at once; pyexec turns
        # Ctrl-C back on when main.py ends. When the REPL closes for good is decided by the
        # seal (architecture.md, device life cycle): a sealed board must use grace_ms=0.
        if self._grace_ms:
            await asyncio.sleep_ms(self._grace_ms)
        import micropython

        micropython.kbd_intr(-1)

    def _more(self):
        for _ in self._poll.ipoll(0):  # ipoll reuses its result tuple: no allocation
            return True
        return False

    async def read(self, n):
        """At least one byte, at most n (and at most _READ_CHUNK).

        sys.stdin.buffer.read(k) and readinto() wait until all k bytes have come
        (stdio_buffer_read loops on mp_hal_stdin_rx_chr), so never ask for more than the poll
        says is there: one byte per poll.
        """
        n = min(n, _READ_CHUNK)
        await self._stream.readinto(self._first)  # waits in the poller, then reads one byte
        buf = self._buf
        one = self._one
        k = 1
        while k < n and self._more():
            self._in.readinto(one)
            buf[k] = one[0]
            k += 1
        return bytes(self._mv[:k])

    async def write(self, data):
        # The stdio poll always reports writable and the port's stdout routine waits until the
        # UART FIFO or the USB CDC buffer has taken the bytes: cut the data into small chunks
        # and yield between them, so a long answer does not hold up the other tasks.
        mv = memoryview(data)
        for i in range(0, len(mv), _WRITE_CHUNK):
            self._out.write(mv[i:i + _WRITE_CHUNK])
            await asyncio.sleep_ms(0)

    def set_baud(self, baud):
        # The console's rate belongs to the REPL (USB CDC has none at all): changing it here
        # would cut off the host that is talking to us.
        if baud != self.baud:
            raise ValueError("console baud rate is fixed at %d" % self.baud)
