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
        # One buffer for one maximal frame, made once: a board's heap fragments over a long
        # uptime, and a frame must never need a fresh multi-kilobyte block to be received.
        self._buf = bytearray(HEADER_LEN + max_payload + 2)
        self._mv = memoryview(self._buf)
        self._n = 0

    def pending(self):
        return self._n

    def reset(self):
        # Drop a partial frame (the caller decides when a sender has gone quiet for too long).
        self._n = 0

    def _drop(self, k):
        # Forget the first k buffered bytes (memmove within the buffer, no allocation).
        n = self._n
        if k >= n:
            self._n = 0
            return
        self._mv[0:n - k] = self._mv[k:n]
        self._n = n - k

    def feed(self, data):
        cap = len(self._buf)
        i = 0
        while i < len(data):
            if self._n == cap:
                # Full without a complete frame: what is there cannot start one; keep parsing
                # from the next SOF after the first byte.
                self._drop(max(1, self._find(1)))
            k = min(cap - self._n, len(data) - i)
            self._mv[self._n:self._n + k] = data[i:i + k]
            self._n += k
            i += k
            if self._n == cap:
                return  # the caller's next_frame() makes room; the rest is dropped as noise

    def _find(self, start=0):
        i = self._buf.find(b"\xa5", start, self._n)
        return self._n if i < 0 else i

    def next_frame(self):
        buf = self._buf
        while True:
            i = self._find()
            if i:
                self._drop(i)
            n_buf = self._n
            if n_buf < HEADER_LEN:
                return None
            if crc16_x25(buf, 1, 7) != (buf[7] << 8) | buf[8]:
                self._drop(1)  # not a header: look for the next SOF
                continue
            req_id = (buf[3] << 8) | buf[4]
            n = (buf[5] << 8) | buf[6]
            if buf[1] != VERSION:
                v = buf[1]
                self._drop(HEADER_LEN)
                raise FrameError(E_VERSION, "protocol version %d not supported" % v, req_id)
            if n > self._max:
                self._drop(HEADER_LEN)
                raise FrameError(E_TOO_LARGE, "payload of %d bytes exceeds %d" % (n, self._max),
                                 req_id)
            total = HEADER_LEN + n + 2
            if n_buf < total:
                return None
            ftype = buf[2]
            crc = (buf[total - 2] << 8) | buf[total - 1]
            good = crc16_x25(buf, HEADER_LEN, HEADER_LEN + n) == crc
            payload = bytes(self._mv[HEADER_LEN:HEADER_LEN + n]) if good else None
            self._drop(total)
            if not good:
                raise FrameError(E_FRAME, "payload CRC mismatch", req_id)
            return ftype, req_id, payload
