# The board on real hardware (board.json "hal": "machine"): ESP32 and RP2040 under MicroPython
# 1.29, through `machine`. Same interface as hal/sim.py's Board; see hal/README.md. Chip
# differences (where the board secret lives) are in chip_esp32.py / chip_rp2040.py, picked by
# sys.platform so that each board imports only modules it has.
import os
import sys
import time

from machine import Pin
from meterseal.compat import const, ticks_diff, ticks_ms
from meterseal.hal.machine_uart import MachineUart, StdioUart
from meterseal.hal.storage import Storage

_DATA = "/data"
_CONSOLE = "console"
# Seconds from 1970-01-01 to 2000-01-01. MicroPython's time docs (1.29): "The unix, windows,
# webassembly, alif, mimxrt and rp2 ports use the standard for POSIX systems epoch of
# 1970-01-01 00:00:00 UTC. The other embedded ports use an epoch of 2000-01-01", so the ESP32
# counts from 2000 and the RP2040 from 1970; gmtime(0) tells which.
_Y2K = const(946684800)
_FOLD_MS = const(3600000)  # fold ticks into the uptime counter at least this often


class MachinePin:
    """A board.json pin: {"pin": number, "mode": "in"/"out", "pull": "up"/"down" (optional)}."""

    def __init__(self, name, cfg):
        self.name = name
        self.pulses = 0  # rising edges seen since boot
        self._handler = None
        mode = Pin.OUT if cfg.get("mode") == "out" else Pin.IN
        pull = {"up": Pin.PULL_UP, "down": Pin.PULL_DOWN}.get(cfg.get("pull"))
        # pull=None switches the pull resistors off (docs: machine.Pin, "None - No pull up or
        # down resistor"); leaving it out would keep whatever the pin had before.
        self._pin = Pin(cfg["pin"], mode, pull)  # type: ignore[arg-type]  # stub wrong: pull=None allowed

    def value(self, v=None):
        if v is None:
            return self._pin.value()
        self._pin.value(1 if v else 0)
        return None

    def irq(self, handler):
        """Call handler(pin) once per rising edge (the S0 pulse input, EN 62053-31)."""
        self._handler = handler
        # Soft IRQ on both ports: the esp32 port always hands the callback to the scheduler
        # (its Pin.irq takes no `hard` argument, ports/esp32/machine_pin.c, although the stub
        # offers one) and rp2 does so by default (hard=False). The callback therefore runs
        # between bytecodes, not in the interrupt: it may allocate, and it only counts and
        # hands over, so the next pulse finds the scheduler queue free.
        self._pin.irq(handler=self._edge, trigger=Pin.IRQ_RISING)

    def _edge(self, _pin):
        self.pulses += 1
        h = self._handler
        if h is not None:
            h(self)


class Board:
    def __init__(self, config):
        self.config = config
        self.name = config["board"]
        self.role = config.get("role")
        self._up_ms = 0
        self._last_ticks = ticks_ms()
        self._uarts = {}  # type: dict[str, MachineUart | StdioUart]
        self._pins = {}
        self._secret = None
        for name, cfg in config.get("uarts", {}).items():
            if name == _CONSOLE:
                self._uarts[name] = StdioUart(name, cfg)
            else:
                self._uarts[name] = MachineUart(name, cfg)
        # MicroPython's _boot.py mounts the flash filesystem (littlefs2 on both ports) at "/".
        try:
            os.mkdir(_DATA)
        except OSError:
            pass  # exists
        self.storage = Storage(_DATA)
        self.storage.recover()
        self._epoch_offset = _Y2K if time.gmtime(0)[0] == 2000 else 0

    async def start(self):
        import asyncio

        for u in self._uarts.values():
            await u.start()
        asyncio.create_task(self._fold_uptime())

    def seal_console(self):
        """The board is sealed (architecture.md, life cycle): Ctrl-C becomes data at once, with no
        grace period for mpremote, so no byte on the console reaches the REPL again."""
        import micropython

        c = self._uarts.get(_CONSOLE)
        if isinstance(c, StdioUart):
            c._grace_ms = 0
        micropython.kbd_intr(-1)

    def uart(self, name):
        return self._uarts[name]

    def uart_names(self):
        return sorted(self._uarts)

    def pin(self, name):
        p = self._pins.get(name)
        if p is None:
            cfg = self.config.get("pins", {}).get(name)
            if cfg is None:
                raise KeyError("board has no pin " + name)
            p = self._pins[name] = MachinePin(name, cfg)
        return p

    def time(self):
        """Seconds since 1970-01-01 UTC as the RTC has it. The RTC starts from a port-specific
        point at power-up (docs: time.time()); setting it is the caller's business."""
        return int(time.time()) + self._epoch_offset

    def set_time(self, epoch):
        """Set the RTC to `epoch` (seconds since 1970 UTC); it counts on from there."""
        from machine import RTC

        t = time.gmtime(int(epoch) - self._epoch_offset)
        # gmtime: (year, month, mday, hour, minute, second, weekday, yearday);
        # RTC.datetime takes (year, month, day, weekday, hours, minutes, seconds, subseconds).
        RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))

    def uptime_ms(self):
        # ticks_ms wraps (2**30 ms on the ports, about 12 days) and ticks_diff is only right
        # for less than half of that, so the difference is folded into a plain int here and
        # at least hourly by the task start() runs: a meter is up for years.
        now = ticks_ms()
        self._up_ms += ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._up_ms

    async def _fold_uptime(self):
        import asyncio

        while True:
            await asyncio.sleep_ms(_FOLD_MS)
            self.uptime_ms()

    def random_bytes(self, n):
        # ESP32: the hardware RNG, true random while the radio is on, else only pseudo-random
        # (chip_esp32.py); RP2040: the ring oscillator, not fit for security alone, so its
        # output is hashed with the board secret and a counter (chip_rp2040.mixed_random).
        if sys.platform == "rp2":
            from meterseal.hal import chip_rp2040

            return chip_rp2040.mixed_random(n, self.secret())
        return os.urandom(n)

    def secret(self):
        """The 32-byte board secret, made on first boot (ESP32: NVS; RP2040: /data/.secret)."""
        if self._secret is None:
            if sys.platform == "esp32":
                from meterseal.hal.chip_esp32 import load_or_make_secret
            elif sys.platform == "rp2":
                from meterseal.hal.chip_rp2040 import load_or_make_secret
            else:
                raise OSError("no board secret on platform " + sys.platform)
            self._secret = load_or_make_secret(self.storage)
        return self._secret

    def secure_blobs(self, namespace):
        """Raw NVS blobs of `namespace` (ESP32 only; the keystore's "esp32-nvs" backend):
        get(key) -> bytes or None, put(key, data), delete(key). See chip_esp32.SecureBlobs."""
        if sys.platform == "esp32":
            from meterseal.hal.chip_esp32 import SecureBlobs

            return SecureBlobs(namespace)
        raise OSError("no NVS on platform " + sys.platform)

    def unique_id(self):
        # ESP32: the 6-byte base MAC from eFuse; RP2040: the 8-byte ID of the flash chip.
        import machine

        return machine.unique_id()

    def interpreter(self):
        impl = sys.implementation
        v = impl.version
        return "%s %d.%d.%d" % (impl.name, v[0], v[1], v[2])
