"""Simulated boards as separate processes, reached over pyserial like real ones (P2)."""
import pytest

from host_tools.sim import SimulatedBoard


@pytest.fixture
def make_board(tmp_path):
    """make_board(name="b", **kw) starts a simulated board; all are killed at the end."""
    boards = []

    def make(name="board", **kw):
        b = SimulatedBoard(tmp_path / name, **kw).start()
        boards.append(b)
        return b

    yield make
    for b in boards:
        b.kill()


@pytest.fixture(scope="module")
def mp_board(tmp_path_factory):
    """One MicroPython board (ESP32 heap) shared by a module's read-only tests."""
    with SimulatedBoard(tmp_path_factory.mktemp("mpboard")) as b:
        yield b
