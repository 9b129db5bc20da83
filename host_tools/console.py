"""Talk to a board's console: framed requests over any port pyserial's serial_for_url opens
(/dev/ttyUSB0, socket://127.0.0.1:PORT for a simulated board, spy://... to hexdump it)."""
import itertools
import time

import cbor2
import serial

from meterseal.crypto import cbor
from meterseal.proto import console as cp

from .errors import BoardError, NoAnswer, PortError

DEFAULT_BAUD = 115200


_BUSY_RETRIES = 4  # answers "busy" tolerated per request, waiting 0.2, 0.4, 0.8, 1.6 s


class BoardConsole:
    def __init__(self, port, baud=DEFAULT_BAUD, timeout=2.0, retries=2):
        self.port = port
        self.baud = baud
        self.timeout = timeout
        self.retries = retries
        self._ids = itertools.count(int(time.monotonic() * 1000) & 0x7FFF)
        try:
            self._ser = serial.serial_for_url(port, baudrate=baud, timeout=0.05)
        except (serial.SerialException, ValueError) as e:
            hint = "" if "socket://" in port else " (is another program using it?)"
            raise PortError("cannot open %s: %s%s" % (port, e, hint)) from e
        self._reader = cp.FrameReader()

    def close(self):
        self._ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, command, args=None, timeout=None):
        """Send one command and return the board's answer (a dict); raise BoardError or NoAnswer.

        A retry resends the same frame with the same request id: the board answers a repeated
        request from its cache instead of running it twice (an erase, a signed command).
        timeout: seconds for this command if it needs longer than the default."""
        # The board accepts only RFC 8949 deterministic CBOR (keys sorted bytewise); cbor2's
        # canonical mode sorts the older RFC 7049 way, so encode with the firmware's codec and
        # let cbor2 decode the answers (an independent check of the board's encoder).
        payload = cbor.dumps([command, args or {}])
        req_id = next(self._ids) & 0xFFFF
        frame_bytes = cp.encode_frame(cp.T_REQUEST, req_id, payload)
        self._ser.reset_input_buffer()
        self._reader.reset()
        silent = busy = 0
        while silent <= self.retries:
            self._ser.write(frame_bytes)
            self._ser.flush()
            frame = self._wait(req_id, timeout or self.timeout)
            if frame is None:
                silent += 1
                continue
            ftype, body = frame
            value = cbor2.loads(body)
            if ftype == cp.T_ERROR:
                code, reason = value
                if code == cp.E_BUSY and busy < _BUSY_RETRIES:
                    # The board ran out of heap in one piece and collected: give its other
                    # tasks time to let go of what they hold, then ask again.
                    time.sleep(0.2 * 2 ** busy)
                    busy += 1
                    continue
                raise BoardError(code, cp.ERROR_NAMES.get(code, str(code)), reason)
            return value
        raise NoAnswer("no answer from %s within %.1f s (%d tries): is it the board's console "
                       "port, at %d baud, with the MeterSeal firmware running?"
                       % (self.port, timeout or self.timeout, self.retries + 1, self.baud))

    def _wait(self, req_id, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                data = self._ser.read(512)
            except serial.SerialException as e:
                raise PortError("%s: %s" % (self.port, e)) from e
            if data:
                self._reader.feed(data)
            while True:
                try:
                    frame = self._reader.next_frame()
                except cp.FrameError:
                    continue  # a damaged reply: keep waiting, the retry resends
                if frame is None:
                    break
                ftype, rid, body = frame
                if rid == req_id and ftype in (cp.T_RESPONSE, cp.T_ERROR):
                    return ftype, body
        return None
