# The meter's clock (D1): the board clock, sped up by the simulator's time-scale factor.
#
#   meter time = S + (board.time() - R) * scale      (S, R: the anchor in meter/clock.json)
#
# Between boots the meter follows the board clock (a board that was off for 10 s at scale 96
# finds 16 meter-minutes gone); while running it adds ticks_ms differences, so the meter time
# has millisecond steps even at scale 2880, where one board second is 48 meter minutes. On a
# real board scale is 1 and S == R: the meter time is the RTC.
# Rules: the meter time never goes back (a board clock behind the last persisted meter time
# re-anchors at that time), and a jump of the board clock while running (hal set_time, the
# metrological set-time command) moves the meter time by the same amount, unscaled.
import json

from meterseal.compat import const

_FILE = "meter/clock.json"
_JUMP_S = const(3)  # board clock vs. ticks disagreement that counts as a set_time


class MeterClock:
    def __init__(self, board, scale, not_before_s=0):
        self._board = board
        self.scale = scale
        raw = board.storage.read(_FILE)
        try:
            rec = json.loads(raw) if raw else None
            s, r = int(rec["S"]), int(rec["R"])
        except (ValueError, KeyError, TypeError):
            rec = None
        real = board.time()
        if rec is None:
            s = r = real
        now_s = s + (real - r) * scale
        if now_s < not_before_s:
            s, r, now_s = not_before_s, real, not_before_s
        if rec is None or (s, r) != (int(rec["S"]), int(rec["R"])):
            self._save(s, r)
        self._ms = now_s * 1000
        self._real_ms = real * 1000  # the board time this clock expects, in ms
        self.jumps = 0

    def _save(self, s, r):
        self._board.storage.write_atomic(_FILE, json.dumps({"S": s, "R": r}).encode())

    def now_ms(self):
        return self._ms

    def advance(self, dt_ms):
        """dt_ms of real time passed (ticks). Returns the jump in meter ms a board-clock change
        caused (0 normally); the caller treats the energy of that jump as not measured."""
        self._ms += dt_ms * self.scale
        self._real_ms += dt_ms
        real = self._board.time()
        d = real - self._real_ms // 1000
        if -_JUMP_S <= d <= _JUMP_S:
            return 0
        self._real_ms = real * 1000
        self._ms += d * 1000
        self.jumps += 1
        self._save(self._ms // 1000, real)
        return d * 1000
