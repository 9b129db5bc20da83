"""A pyserial port behind the firmware's UART interface, so the host runs the firmware's own
protocol code (M-Bus master, IEC 62056-21 client) instead of a second copy of it.

The firmware's UARTs offer `async read(n)` (at least one byte), `async write(data)`,
`set_baud(baud)` and `baud`; this does the same on any port serial_for_url opens. Use it under
CPython's asyncio: `asyncio.run(master.scan(SerialUart(url, 2400, "8E1")))`.
"""
import asyncio

import serial

from .errors import PortError

_FRAMING = {"8E1": (8, serial.PARITY_EVEN, 1), "7E1": (7, serial.PARITY_EVEN, 1),
            "8N1": (8, serial.PARITY_NONE, 1)}
_POLL_S = 0.002


class SerialUart:
    def __init__(self, url, baud, framing="8N1"):
        bits, parity, stop = _FRAMING[framing]
        try:
            self._ser = serial.serial_for_url(url, baudrate=baud, bytesize=bits, parity=parity,
                                              stopbits=stop, timeout=0)
        except (serial.SerialException, ValueError) as e:
            raise PortError("cannot open %s: %s" % (url, e)) from e
        self.url = url
        self.baud = baud

    def set_baud(self, baud):
        self.baud = baud
        self._ser.baudrate = baud  # ignored by socket://, applied by a real port

    async def read(self, n):
        while True:
            try:
                data = self._ser.read(n)
            except serial.SerialException as e:
                raise PortError("%s: %s" % (self.url, e)) from e
            if data:
                return data
            await asyncio.sleep(_POLL_S)

    async def write(self, data):
        try:
            self._ser.write(data)
            self._ser.flush()
        except serial.SerialException as e:
            raise PortError("%s: %s" % (self.url, e)) from e

    def discard_input(self):
        self._ser.reset_input_buffer()

    def close(self):
        self._ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
