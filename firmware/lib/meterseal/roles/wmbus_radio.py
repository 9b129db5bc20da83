# The wireless M-Bus radio as its UART shows it (docs/wmbus-radio.md). A board's "aux" UART
# goes to a Radiocrafts RC1180-MBUS family module in its default modem mode: the module does
# the RF, the 3-of-6 coding and the link-layer CRCs (format A); the host sees frames without
# CRCs, first byte the length.
#
#   module -> host (DATA_INTERFACE 0x00, RSSI_MODE 0): L C M(2) A(6) CI data   (CRCs checked, removed)
#   host -> module: L CI data; the module adds C, M and A from its configuration memory
#   (MAN_ID1/2, ID1-4, VER, DEV) and the CRCs.
#
# In the simulator there is no module: the "air" is a bus hub (host_tools/simbus.py) that
# carries what the receiving module would hand its host, so a sending board writes the whole
# link frame ("radio": "air", the default under the sim HAL).
import asyncio

from meterseal.compat import const, wait_for_ms
from meterseal.proto import wmbus

RADIO_BAUD = const(19200)  # RC1180-MBUS factory setting: 19200 8N1, no flow control
_GAP_MS = const(50)  # silence that ends a broken packet: ~100 character times at 19200 Bd
_READ = const(64)


def kind(board):
    """"air" (simulator: whole link frames) or "rc1180" (a module that adds C, M, A)."""
    k = board.config.get("wmbus_radio")
    if k:
        return k
    return "air" if board.config.get("hal") == "sim" else "rc1180"


def open_uart(board):
    u = board.uart(board.config.get("wmbus_uart", "aux"))
    u.set_baud(board.config.get("wmbus_baud", RADIO_BAUD))
    return u


def tx_bytes(radio, frame):
    """What to write to the module for link frame `frame` (wmbus.encode's form)."""
    if radio == "air":
        return frame
    # L CI data: the module puts C M A (10 bytes with L) back in front, so L shrinks by 9.
    return bytes((frame[0] - 9,)) + frame[wmbus.HEADER_LEN:]


class PacketReader:
    """Cuts the module's byte stream into packets by their length byte. A packet whose bytes
    stop coming for _GAP_MS is dropped and the next byte starts a new one (the module sends
    each packet in one go), so a lost byte costs one packet, not the stream."""

    def __init__(self, uart):
        self._uart = uart
        self._buf = bytearray()
        self.dropped = 0

    async def next(self):
        while True:
            buf = self._buf
            if buf:
                need = buf[0] + 1
                if len(buf) >= need:
                    self._buf = buf[need:]
                    return bytes(buf[:need])
                try:
                    data = await wait_for_ms(self._uart.read(_READ), _GAP_MS)
                except asyncio.TimeoutError:
                    self.dropped += 1
                    self._buf = bytearray()
                    continue
            else:
                data = await self._uart.read(_READ)
            self._buf.extend(data)
