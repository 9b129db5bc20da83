# The last resort of main.py. On a board, an error nothing above could handle is printed and the
# board restarts: main.py must never return, since that hands the console to the REPL (on a
# sealed board, an open door). The simulator's unix port has no machine.reset: there the error
# ends the process, visibly.
import sys


def fatal(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    try:
        import machine

        reset = getattr(machine, "reset", None)
    except ImportError:  # CPython
        reset = None
    if reset is None:
        raise exc
    import time

    time.sleep(2)  # keep a crash loop from wearing the flash
    reset()
