"""`make demo`: a simulated installation end to end (it grows as capabilities land)."""
import tempfile

from .console import BoardConsole
from .report import print_identity
from .sim import SimulatedBoard, describe


def run_demo(board="esp32", interpreter="micropython", keep=None):
    with tempfile.TemporaryDirectory(prefix="meterseal-demo-") as tmp:
        state = keep or tmp
        with SimulatedBoard(state, board=board, interpreter=interpreter) as b:
            print(describe(b))
            print()
            with BoardConsole(b.url("console")) as con:
                ident = con.request("info")
            print("identity read over the console UART (%s):" % b.url("console"))
            print_identity(ident)
        print()
        print("board stopped.")
    return 0
