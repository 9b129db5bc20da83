# Where the meter's energy comes from (D1). Two sources with one interface, take(now_ms, dt_ms)
# -> (power_w, mwh), mwh signed (> 0 import, < 0 export), counted once:
#   S0Input   a real board: the S0 pulse output of a metering front end (DIN 43864 / EN 62053-31)
#             on board.pin("s0"); every pulse is 1000 / impulses_per_kwh Wh.
#   LoadModel the simulator: base load x daily shape (24 hourly percentages) minus an optional PV
#             bell, driven by the meter clock, which the time-scale factor speeds up for demos.
# A metering IC over SPI/I2C (ADE7953, ATM90E26, ...) is a third class with the same take();
# docs/meter.md says what it must do.
from meterseal.compat import const

_DAY_S = const(86400)
# A household-like day (percent of base_w per local hour): low at night, morning and evening peaks.
HOUSEHOLD = (60, 50, 45, 45, 45, 55, 90, 140, 130, 100, 95, 100,
             115, 105, 95, 95, 110, 150, 190, 200, 170, 140, 110, 80)
FLAT = (100,) * 24


def _shape(cfg):
    s = cfg.get("shape", "flat")
    if s == "household":
        return HOUSEHOLD
    if s == "flat":
        return FLAT
    if not (isinstance(s, (list, tuple)) and len(s) == 24
            and all(isinstance(x, int) and 0 <= x <= 1000 for x in s)):
        raise ValueError("board.json sim_load.shape: 'flat', 'household' or 24 percentages 0..1000")
    return tuple(s)


class LoadModel:
    """board.json "sim_load": {"base_w": 400, "shape": "flat"|"household"|[24 %], "pv_peak_w": 0}.

    The default (400 W flat, no PV) is the constant load the link-protocol tests read back.
    Power is integer watts, linear between the hourly points; PV is a half-sine-like parabola
    from 06:00 to 18:00 local time peaking at pv_peak_w, and its surplus is exported.
    """

    def __init__(self, cfg=None):
        cfg = cfg or {}
        self.base_w = int(cfg.get("base_w", 400))
        self.shape = _shape(cfg)
        self.pv_peak_w = int(cfg.get("pv_peak_w", 0))
        if self.base_w < 0 or self.base_w > 100000 or self.pv_peak_w < 0 or self.pv_peak_w > 100000:
            raise ValueError("board.json sim_load: base_w and pv_peak_w 0..100000 W")
        self._rest = 0  # mWh * 3600 carried between ticks: integer energy without drift

    def power_w(self, local_s):
        """Power at local second-of-day (any int; taken modulo a day). Negative: export."""
        s = local_s % _DAY_S
        h, m = s // 3600, s % 3600
        a, b = self.shape[h], self.shape[(h + 1) % 24]
        p = self.base_w * (a * (3600 - m) + b * m) // 360000
        if self.pv_peak_w and 21600 < s < 64800:
            x = s - 43200  # seconds from noon, |x| < 6 h
            p -= self.pv_peak_w * (21600 * 21600 - x * x) // (21600 * 21600)
        return p

    def max_w(self):
        return self.base_w * max(self.shape) // 100

    def take(self, local_s, dt_ms, scale):
        """(power_w, signed mWh) for dt_ms of real time at `scale` simulated s per real s."""
        p = self.power_w(local_s)
        # W * ms -> mWh: / 3600; the remainder carries so no energy is lost to rounding.
        q = p * dt_ms * scale + self._rest
        mwh = q // 3600 if q >= 0 else -((-q) // 3600)
        self._rest = q - mwh * 3600
        return p, mwh


class S0Input:
    """S0 pulses on board.pin("s0") counted in its interrupt handler (import only: an S0 output
    carries one direction). The handler only adds to an int: no allocation in the IRQ (MicroPython
    small ints), and the measuring task takes the count with interrupts still running: a pulse
    that lands between the read and the subtraction stays pending for the next tick."""

    def __init__(self, pin, impulses_per_kwh):
        self.impulses_per_kwh = impulses_per_kwh
        self.pending = 0
        self._rest = 0  # pulse energy below 1 mWh carried to the next tick (units: mWh * ipk)
        pin.irq(self._pulse)

    def _pulse(self, pin):
        self.pending += 1

    def set_constant(self, impulses_per_kwh):
        self.impulses_per_kwh = impulses_per_kwh
        self._rest = 0

    def take(self, local_s, dt_ms, scale):
        n = self.pending
        self.pending -= n
        # 1 pulse = 1e6 / impulses_per_kwh mWh; the remainder carries (any constant, no drift).
        q = n * 1000000 + self._rest
        mwh = q // self.impulses_per_kwh
        self._rest = q - mwh * self.impulses_per_kwh
        # Power from the pulse rate over the tick: W = mWh * 3600 / ms.
        p = mwh * 3600 // dt_ms if dt_ms > 0 else 0
        return p, mwh

    def max_w(self):
        return 0
