# Is the board's clock to be trusted (S2, D2)? A signed command's age is only checked against a
# clock someone authorised has set (set_time, a metrological command): an RTC that starts at
# 2000-01-01 after a power cut would otherwise refuse every command as "expired", or accept old
# ones. Rule: trusted once set_time has run, and while the clock reads no earlier than the moment
# it was set (an RTC behind that has lost its time: untrusted until set again). An untrusted
# clock makes signed_command.verify skip the age check (now=None); the counter still protects.
import json

_FILE = "security/clock.json"


class Clock:
    def __init__(self, board):
        self._board = board
        raw = board.storage.read(_FILE)
        try:
            self._set_at = json.loads(raw)["set_at"] if raw else None
        except (ValueError, KeyError, TypeError):
            self._set_at = None

    def now(self):
        """The board's time (seconds since 1970 UTC) whether trusted or not."""
        return self._board.time()

    def trusted(self):
        return self._set_at is not None and self._board.time() >= self._set_at

    def trusted_now(self):
        """now() if the clock is trusted, else None (what signed_command.verify takes)."""
        return self.now() if self.trusted() else None

    def set(self, epoch):
        """Set the board's clock and remember that it was set. Returns the time before."""
        old = self._board.time()
        self._board.set_time(epoch)
        self._set_at = int(epoch)
        self._board.storage.write_atomic(_FILE, json.dumps({"set_at": self._set_at}).encode())
        return old

    def forget(self):
        self._set_at = None
        self._board.storage.remove(_FILE)
