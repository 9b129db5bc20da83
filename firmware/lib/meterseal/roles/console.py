# The console service every role runs on the console UART: reads framed requests, dispatches
# them to the command table, answers. Malformed input gets an error reply or is dropped; it
# never stops the service, and a slow or silent sender never blocks the board's other tasks.
import asyncio
import gc

from meterseal.compat import wait_for_ms
from meterseal.crypto import cbor
from meterseal.crypto.errors import DecodeError
from meterseal.proto import console as cp

_READ_CHUNK = 256
_FRAME_TIMEOUT_MS = 1000  # a frame whose bytes stop arriving for this long is dropped


class CommandError(Exception):
    """Raised by a command handler: args = (error code from proto.console, readable reason)."""


class ConsoleService:
    def __init__(self, uart, commands):
        self._uart = uart
        self._commands = commands  # name -> handler(args) returning a dict (may be async)
        self._reader = cp.FrameReader()
        # The last request (id, payload digest) and its answer frame: a host that timed out
        # resends the same frame, and must get the same answer without the command running twice.
        self._last_key = None
        self._last_answer = None

    async def run(self):
        uart = self._uart
        reader = self._reader
        while True:
            if reader.pending():
                try:
                    data = await wait_for_ms(uart.read(_READ_CHUNK), _FRAME_TIMEOUT_MS)
                except asyncio.TimeoutError:
                    reader.reset()
                    continue
            else:
                data = await uart.read(_READ_CHUNK)
            reader.feed(data)
            while True:
                try:
                    frame = reader.next_frame()
                    if frame is None:
                        break
                    await self._handle(frame)
                except cp.FrameError as e:
                    # Not through _answer: a garbled frame must not replace the cached answer
                    # of the last request, which its clean retry is still owed.
                    await self._uart.write(cp.encode_frame(cp.T_ERROR, e.args[2], cbor.dumps(
                        [e.args[0], e.args[1]])))
                except MemoryError:
                    # A fragmented heap must cost one request, never the console: drop what is
                    # buffered, collect, and tell the host to try again.
                    reader.reset()
                    gc.collect()
                    try:
                        await self._send_error(0, cp.E_BUSY, "out of memory; try again")
                    except MemoryError:
                        pass
                    break

    async def _send_error(self, req_id, code, reason):
        await self._answer(cp.encode_frame(cp.T_ERROR, req_id, cbor.dumps([code, reason])))

    async def _answer(self, frame):
        self._last_answer = frame
        await self._uart.write(frame)

    async def _handle(self, frame):
        ftype, req_id, payload = frame
        if ftype != cp.T_REQUEST:
            return  # replies from a confused peer: nothing to answer
        import hashlib

        key = (req_id, hashlib.sha256(payload).digest())
        if key == self._last_key and self._last_answer is not None:
            await self._uart.write(self._last_answer)  # a retry: same answer, no second run
            return
        self._last_key = key
        self._last_answer = None
        try:
            req = cbor.loads(payload)
            if not (isinstance(req, list) and len(req) == 2 and isinstance(req[0], str)
                    and isinstance(req[1], dict)):
                raise CommandError(cp.E_BAD_REQUEST, "request must be [command, {arguments}]")
            handler = self._commands.get(req[0])
            if handler is None:
                raise CommandError(cp.E_UNKNOWN_COMMAND, "unknown command " + repr(req[0]))
            result = handler(req[1])
            if hasattr(result, "send"):  # a coroutine (generator on MicroPython)
                result = await result
            out = cbor.dumps(result)
            if len(out) > cp.MAX_PAYLOAD:
                raise CommandError(cp.E_INTERNAL, "answer too large")
        except CommandError as e:
            await self._send_error(req_id, e.args[0], e.args[1])
            return
        except DecodeError as e:
            await self._send_error(req_id, cp.E_BAD_REQUEST, "payload is not deterministic CBOR: "
                                   + str(e))
            return
        except MemoryError:
            # Not cached: the host's retry of this request must run it again.
            self._last_key = None
            gc.collect()
            await self._uart.write(cp.encode_frame(cp.T_ERROR, req_id, cbor.dumps(
                [cp.E_BUSY, "out of memory; try again"])))
            return
        except Exception as e:  # a bug must not take the console down with it
            await self._send_error(req_id, cp.E_INTERNAL, "%s: %s" % (type(e).__name__, e))
            return
        await self._answer(cp.encode_frame(cp.T_RESPONSE, req_id, out))
