# A pair of in-memory UARTs wired to each other (the optical link between a probe and a
# meter) with the firmware's UART interface, for the IEC 62056-21 service tests on both
# interpreters. Each side logs (ticks_ms, bytes) of what it wrote and when it received, so the
# tests can measure reaction times, and both sides must agree on the baud rate or the receiver
# sees garbage, as on a real line.
import asyncio

from meterseal.compat import ticks_ms


class LoopUart:
    def __init__(self, name, baud=300, pace=False):
        self.name = name
        self.baud = baud
        self.initial = baud
        self.peer = None
        self.pace = pace  # deliver after the wire time of what is written (10 bits a character)
        self.check_baud = True
        self.echo = False  # an optical head that hears its own transmitter
        self._rx = bytearray()
        self._ev = asyncio.Event()
        self.log = []  # (ticks_ms, "tx"|"rx", bytes); None: keep no log (long runs)
        self.bauds = []

    def set_baud(self, baud):
        self.baud = baud
        self.bauds.append(baud)

    async def read(self, n):
        while not self._rx:
            self._ev.clear()
            await self._ev.wait()
        data = bytes(self._rx[:n])
        self._rx[:n] = b""
        if self.log is not None:
            self.log.append((ticks_ms(), "rx", data))
        return data

    def discard_input(self):
        self._rx[:] = b""

    def inject(self, data):
        self._rx += data
        self._ev.set()

    async def write(self, data):
        data = bytes(data)
        if self.log is not None:
            self.log.append((ticks_ms(), "tx", data))
        for i in range(0, len(data), 16):  # arriving a few characters at a time
            chunk = data[i:i + 16]
            if self.pace:  # the receiver has a character once its stop bit is through
                await _sleep_ms(len(chunk) * 10000 // self.baud)
            if self.echo:
                self.inject(chunk)
            p = self.peer
            if p is not None:
                if self.check_baud and p.baud != self.baud:
                    # a receiver at another rate decodes framing errors, not our characters
                    chunk = b"\x7f" * len(chunk)
                p.inject(chunk)

    def sent(self):
        return b"".join(d for _, k, d in self.log if k == "tx")


def _sleep_ms(ms):
    if hasattr(asyncio, "sleep_ms"):
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


def pair(baud=300, pace=True):
    a = LoopUart("probe", baud, pace)
    b = LoopUart("meter", baud, pace)
    a.peer, b.peer = b, a
    return a, b


def run(coro):
    return asyncio.run(coro)
