# Console protocol framing: the only way the host talks to a board over its console UART.
#
#   0    1  SOF 0xA5
#   1    1  protocol version (1)
#   2    1  frame type (request / response / error)
#   3    2  request id, big-endian; a reply echoes it
#   5    2  payload length N, big-endian, at most MAX_PAYLOAD
#   7    2  header check: CRC-16/X-25 of bytes 1..6, big-endian
#   9    N  payload (deterministic CBOR)
#   9+N  2  CRC-16/X-25 of the payload, big-endian
#
# The header has its own check so that a corrupted length is caught at once instead of making
# the receiver wait for data that never comes. A reader resynchronises on the next SOF after
# any bad header. Requests carry [command, {args}]; responses a CBOR map; errors [code, reason].
from meterseal.compat import const
from meterseal.proto.crc import crc16_x25

SOF = const(0xA5)
VERSION = const(1)
HEADER_LEN = const(9)
MAX_PAYLOAD = const(4096)

T_REQUEST = const(1)
T_RESPONSE = const(2)
T_ERROR = const(3)

# Error codes carried in T_ERROR payloads: [code, reason].
E_FRAME = const(1)  # bad payload CRC, or a frame cut short
E_VERSION = const(2)  # protocol version not supported
E_TOO_LARGE = const(3)  # payload longer than MAX_PAYLOAD
E_UNKNOWN_COMMAND = const(4)
E_BAD_REQUEST = const(5)  # payload is not [command, {args}] or arguments are wrong
E_REJECTED = const(6)  # a security check said no (signature, role, replay, state)
E_BUSY = const(7)
E_INTERNAL = const(8)

ERROR_NAMES = {
    E_FRAME: "frame",
    E_VERSION: "version",
    E_TOO_LARGE: "too-large",
    E_UNKNOWN_COMMAND: "unknown-command",
    E_BAD_REQUEST: "bad-request",
    E_REJECTED: "rejected",
    E_BUSY: "busy",
    E_INTERNAL: "internal",
}


class FrameError(ValueError):
    """A frame that can be answered: args = (code, reason, request_id)."""


def encode_frame(ftype, req_id, payload):
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too large")
    out = bytearray(HEADER_LEN + n + 2)
    out[0] = SOF
    out[1] = VERSION
    out[2] = ftype
    out[3] = (req_id >> 8) & 0xFF
    out[4] = req_id & 0xFF
    out[5] = n >> 8
    out[6] = n & 0xFF
    c = crc16_x25(out, 1, 7)
    out[7] = c >> 8
    out[8] = c & 0xFF
    out[HEADER_LEN:HEADER_LEN + n] = payload
    c = crc16_x25(payload)
    out[HEADER_LEN + n] = c >> 8
    out[HEADER_LEN + n + 1] = c & 0xFF
    return bytes(out)


class FrameReader:
    """Incremental frame parser: feed() bytes as they arrive, then call next_frame() until None.

    next_frame() returns (type, request_id, payload) for a good frame, raises FrameError for a frame
    whose header was good but which cannot be used (the caller answers it), and silently skips
    noise and bad headers. The buffer never holds more than one maximal frame: memory is bounded
    whatever a sender does.
    """

    def __init__(self, max_payload=MAX_PAYLOAD):
        self._max = max_payload
        self._buf = bytearray()

    def pending(self):
        return len(self._buf)

    def reset(self):
        # Drop a partial frame (the caller decides when a sender has gone quiet for too long).
        self._buf = bytearray()

    def feed(self, data):
        self._buf.extend(data)
        cap = HEADER_LEN + self._max + 2
        if len(self._buf) > 2 * cap:
            # Noise without SOF faster than we parse it: keep only the tail.
            self._buf = self._buf[-cap:]

    def next_frame(self):
        buf = self._buf
        while True:
            i = buf.find(b"\xa5")
            if i < 0:
                buf[:] = b""
                return None
            if i:
                buf[:i] = b""
            if len(buf) < HEADER_LEN:
                return None
            if crc16_x25(buf, 1, 7) != (buf[7] << 8) | buf[8]:
                buf[:1] = b""  # not a header: look for the next SOF
                continue
            req_id = (buf[3] << 8) | buf[4]
            n = (buf[5] << 8) | buf[6]
            if buf[1] != VERSION:
                buf[:HEADER_LEN] = b""
                raise FrameError(E_VERSION, "protocol version %d not supported" % buf[1], req_id)
            if n > self._max:
                buf[:HEADER_LEN] = b""
                raise FrameError(E_TOO_LARGE, "payload of %d bytes exceeds %d" % (n, self._max),
                                 req_id)
            total = HEADER_LEN + n + 2
            if len(buf) < total:
                return None
            ftype = buf[2]
            payload = bytes(buf[HEADER_LEN:HEADER_LEN + n])
            good = crc16_x25(payload) == (buf[total - 2] << 8) | buf[total - 1]
            buf[:total] = b""
            if not good:
                raise FrameError(E_FRAME, "payload CRC mismatch", req_id)
            return ftype, req_id, payload
