# The device life cycle of architecture.md: factory -> manufactured -> calibrated (the
# metrological part is sealed) -> installed; erase returns to factory (U3). Steps only move
# forward, one at a time; repeating the current step is allowed where the step is idempotent
# (the caller decides). Persisted with write_atomic: a power loss leaves the old or the new state.
import json

FACTORY = "factory"
MANUFACTURED = "manufactured"
CALIBRATED = "calibrated"
INSTALLED = "installed"
ORDER = (FACTORY, MANUFACTURED, CALIBRATED, INSTALLED)

_FILE = "security/lifecycle.json"


class StateError(Exception):
    """A step asked for in the wrong state: args[0] is a sentence saying what state is needed."""


class Lifecycle:
    def __init__(self, storage):
        self._storage = storage
        raw = storage.read(_FILE)
        rec = json.loads(raw) if raw else {}
        self.state = rec.get("state", FACTORY)
        if self.state not in ORDER:
            self.state = FACTORY  # unknown content: treat as blank rather than trust it
        self.history = rec.get("history", [])

    @property
    def sealed(self):
        """After calibration only signed commands change anything (architecture.md)."""
        return ORDER.index(self.state) >= ORDER.index(CALIBRATED)

    def require(self, *states):
        if self.state not in states:
            raise StateError("the board is %s; this step needs it %s" % (self.state, " or ".join(states)))

    def advance(self, to, now=0):
        i, j = ORDER.index(self.state), ORDER.index(to)
        if j != i + 1:
            raise StateError("cannot go from %s to %s" % (self.state, to))
        self.state = to
        self.history = (self.history + [[to, now]])[-8:]
        self._save()

    def reset(self):
        self.state = FACTORY
        self.history = []
        self._storage.remove(_FILE)

    def _save(self):
        self._storage.write_atomic(_FILE, json.dumps({"state": self.state,
                                                       "history": self.history}).encode())
