# The simulator's board: the unchanged firmware on a PC. Every UART is a TCP server on the
# loopback that pyserial reaches as socket://HOST:PORT; storage is a littlefs2 image of the real
# board's filesystem size mounted with os.VfsLfs2 (a plain folder only under CPython); the board
# secret (its "eFuse") is the file efuse.bin. Everything lives in the state folder, so a board
# killed at any moment starts again where it stopped.
import asyncio
import gc
import os
import sys

from meterseal.compat import IS_MICROPYTHON, asleep_ms, const, wait_for_ms
from meterseal.hal.storage import Storage

_MOUNT = "/flash"
_SECRET_LEN = 32
_PEER_CHECK_MS = const(250)  # how soon a read notices that a new host connection took the UART


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


class FileBlockDevice:
    """A flash chip in a file, with the extended block protocol littlefs uses (byte offsets)."""

    def __init__(self, path, block_size, block_count):
        self.block_size = block_size
        self.block_count = block_count
        try:
            self._f = open(path, "r+b")
        except OSError:
            with open(path, "wb") as f:
                # Erased NOR flash reads as 0xFF; small pieces, as a fragmented heap may not
                # hold a whole block in one allocation.
                blank = b"\xff" * 256
                for _ in range(block_count * block_size // 256):
                    f.write(blank)
            self._f = open(path, "r+b")

    def readblocks(self, block, buf, offset=0):
        self._f.seek(block * self.block_size + offset)
        self._f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        # Each write reaches the OS at once, so a killed process leaves what a power cut would.
        self._f.seek(block * self.block_size + (offset or 0))
        self._f.write(buf)
        self._f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.block_count
        if op == 5:  # block size
            return self.block_size
        return 0  # init, deinit, sync, erase (littlefs needs no real erase here)


class SimUart:
    """One UART as a TCP server (cfg "tcp_port"), or as a client of a shared line such as a wired
    M-Bus or the wireless M-Bus air (cfg "tcp_connect": "HOST:PORT", the simulator's bus hub).
    The newest connection is the cable that is plugged in; bytes written while nothing is
    connected are lost, as on a real line. Writes take as long as the baud rate makes them take."""

    def __init__(self, name, cfg, host):
        self.name = name
        self.host = host
        self.port = cfg.get("tcp_port")
        self.connect_to = cfg.get("tcp_connect")
        self.baud = cfg.get("baud", 115200)
        self._bits_per_char = 1 + cfg.get("bits", 8) + (0 if cfg.get("parity") is None else 1) \
            + cfg.get("stop", 1)
        self._reader = None
        self._writer = None
        self._connected = asyncio.Event()
        self._server = None

    async def start(self):
        if self.connect_to:
            asyncio.create_task(self._dial())
        else:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _dial(self):
        host, port = self.connect_to.rsplit(":", 1)
        while True:
            if self._reader is None:
                try:
                    reader, writer = await asyncio.open_connection(host, int(port))
                    await self._accept(reader, writer)
                except OSError:
                    pass  # the hub is not up (yet): try again, as a board would re-sync
            await asleep_ms(200)

    async def _accept(self, reader, writer):
        old = self._writer
        self._reader, self._writer = reader, writer
        self._connected.set()
        if old is not None:
            try:
                old.close()
            except OSError:
                pass

    def set_baud(self, baud):
        self.baud = baud

    async def read(self, n):
        """At least one byte, at most n; waits for a connection if there is none."""
        while True:
            reader = self._reader
            if reader is None:
                self._connected.clear()
                await self._connected.wait()
                continue
            try:
                # A read pending on a replaced peer's stream is not woken when _accept closes
                # it (MicroPython), so wait in slices and look whether the peer changed.
                data = await wait_for_ms(reader.read(n), _PEER_CHECK_MS)
            except asyncio.TimeoutError:
                continue
            except OSError:
                data = b""
            if data:
                return data
            if reader is self._reader:  # the peer went away
                self._drop()

    def _drop(self):
        w = self._writer
        self._reader = self._writer = None
        if w is not None:
            try:
                w.close()
            except OSError:
                pass

    async def write(self, data):
        w = self._writer
        if w is not None:
            try:
                w.write(data)
                await w.drain()
            except OSError:
                self._drop()
        await asleep_ms(len(data) * self._bits_per_char * 1000 // self.baud)


class SimPin:
    """A pin of the simulated board; the simulator (or a test) drives inputs with value(v)."""

    def __init__(self, name):
        self.name = name
        self._value = 0
        self._handler = None

    def value(self, v=None):
        if v is None:
            return self._value
        rising = v and not self._value
        self._value = 1 if v else 0
        if rising and self._handler is not None:
            self._handler(self)

    def irq(self, handler):
        self._handler = handler


class Board:
    def __init__(self, config):
        self.config = config
        self.name = config["board"]
        self.role = config.get("role")
        self.state_dir = config["state_dir"]
        import time

        self._started = time.time()  # the host's clock: no 30-bit ticks wrap-around to fold
        self._clock_offset = _read_int(self.state_dir + "/rtc_offset")  # set_time() keeps it
        self._uarts = {}
        self._pins = {}
        host = config.get("host", "127.0.0.1")
        for name, cfg in config.get("uarts", {}).items():
            self._uarts[name] = SimUart(name, cfg, host)
        self.storage = self._mount()
        self.storage.recover()
        self._preload(config.get("sim_frozen_modules", ()))
        self.frozen_bytes = config.get("sim_frozen_bytes", 0)

    def _preload(self, modules):
        # On a board the firmware is frozen: every module is there and its bytecode sits in flash.
        # The simulator imports them all now, into the extra heap it was given for that
        # (sim_frozen_bytes, measured by host_tools/frozen.py), so what remains free is what the
        # real board has for data. Collecting after each import packs the bytecode: the next
        # module fills the holes the last one's loading left, as flash would hold it, instead
        # of scattering them over the heap (largest free block ~37 KB without, ~114 KB with).
        for m in modules:
            __import__(m)
            gc.collect()

    def _mount(self):
        if not IS_MICROPYTHON:
            root = self.state_dir + "/fs"
            try:
                os.mkdir(root)
            except OSError:
                pass
            return Storage(root)
        flash = self.config["flash"]
        dev = FileBlockDevice(self.state_dir + "/flash.img", flash["block_bytes"],
                              flash["fs_bytes"] // flash["block_bytes"])
        try:
            vfs = os.VfsLfs2(dev)
        except OSError:
            os.VfsLfs2.mkfs(dev)  # a blank chip: format it, as MicroPython does on first boot
            vfs = os.VfsLfs2(dev)
        os.mount(vfs, _MOUNT)
        return Storage(_MOUNT)

    async def start(self):
        for u in self._uarts.values():
            await u.start()

    def seal_console(self):
        """Nothing to close here: the simulator's console is a socket with no REPL behind it."""

    def uart(self, name):
        return self._uarts[name]

    def uart_names(self):
        return sorted(self._uarts)

    def pin(self, name):
        p = self._pins.get(name)
        if p is None:
            if name not in self.config.get("pins", {}):
                raise KeyError("board has no pin " + name)
            p = self._pins[name] = SimPin(name)
        return p

    def time(self):
        import time

        return int(time.time()) + self._clock_offset

    def set_time(self, epoch):
        """Set the clock to `epoch` (seconds since 1970 UTC). The offset to the host's clock is
        kept beside the image, as a battery-backed RTC keeps its time over a power cut."""
        import time

        self._clock_offset = int(epoch) - int(time.time())
        with open(self.state_dir + "/rtc_offset", "w") as f:
            f.write(str(self._clock_offset))

    def uptime_ms(self):
        import time

        return int((time.time() - self._started) * 1000)

    def random_bytes(self, n):
        return os.urandom(n)

    def secret(self):
        """The board secret (eFuse): made once, on first boot, from the host's RNG."""
        path = self.state_dir + "/efuse.bin"
        try:
            with open(path, "rb") as f:
                s = f.read()
            if len(s) == _SECRET_LEN:
                return s
        except OSError:
            pass
        s = os.urandom(_SECRET_LEN)
        with open(path, "wb") as f:
            f.write(s)
        return s

    def unique_id(self):
        import hashlib

        return hashlib.sha256(b"meterseal-sim-uid" + self.secret()).digest()[:8]

    def interpreter(self):
        impl = sys.implementation
        v = impl.version
        return "%s %d.%d.%d" % (impl.name, v[0], v[1], v[2])
