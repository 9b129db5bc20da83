# The board as the rest of the firmware sees it: named UARTs as asyncio byte streams, a storage
# area with atomic replace, clock, RNG, pins and the board secret. Only this package touches
# `machine`. board.json's "hal" picks the backend, as pyserial picks a handler by URL scheme.
import json

_BOARD_JSON = "/board.json"


def load_config():
    """The board configuration: /board.json on a board; the simulator passes its own file."""
    path = _BOARD_JSON
    try:
        import os

        path = os.getenv("METERSEAL_BOARD_JSON") or path
    except (ImportError, AttributeError):
        pass  # a board's os has no getenv
    with open(path) as f:
        return json.load(f)


def open_board(config=None):
    if config is None:
        config = load_config()
    name = config.get("hal")
    if name == "sim":
        from meterseal.hal.sim import Board
    elif name == "machine":
        from meterseal.hal.machine_board import Board
    else:
        raise ValueError("board.json: unknown hal %r (expected 'machine' or 'sim')" % (name,))
    return Board(config)

