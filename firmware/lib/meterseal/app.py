# Starts a board: its HAL, the console service with the command table, and the configured role.
import asyncio
import gc

from meterseal import VERSION
from meterseal.compat import largest_free_block
from meterseal.proto import console as cp
from meterseal.roles.console import ConsoleService


def info(board):
    """The board's identity as `meterseal info` prints it."""
    gc.collect()
    try:
        free, alloc = gc.mem_free(), gc.mem_alloc()
    except AttributeError:  # CPython
        free = alloc = None
    used, total = board.storage.usage()
    frozen = getattr(board, "frozen_bytes", 0)  # simulator: bytecode a board keeps in flash
    return {
        "board": board.name,
        "description": board.config.get("description", ""),
        "role": board.role,
        "firmware": VERSION,
        "protocol": cp.VERSION,
        "interpreter": board.interpreter(),
        "heap_total": None if free is None else free + alloc - frozen,
        "heap_free": free,
        "heap_max_block": largest_free_block(),
        "frozen_code": frozen,
        "storage_used": used,
        "storage_total": total,
        "uptime_s": board.uptime_ms() // 1000,
        "unique_id": board.unique_id(),
    }


def command_table(board):
    # The role adds its own commands in roles.<role>.start().
    from meterseal.roles import provisioning

    commands = {"info": lambda args: info(board)}
    p = provisioning.add_commands(board, commands)
    if p.life.sealed:
        board.seal_console()
    return commands


async def run(board):
    from meterseal import roles

    await board.start()
    commands = command_table(board)
    tasks = roles.load(board.role).start(board, commands)
    for t in tasks:
        asyncio.create_task(t)
    console = ConsoleService(board.uart("console"), commands)
    while True:
        # The console is the only way in: whatever escapes it (a bug) is reported on the
        # board's log and the service starts again, rather than main.py ending (which on a
        # board would hand the UART back to the REPL).
        try:
            await console.run()
        except Exception as e:  # noqa: BLE001
            _report(e)
            gc.collect()


def _report(e):
    import sys

    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:
        import traceback

        traceback.print_exception(e)


def main():
    from meterseal.hal import open_board
    from meterseal.hal.fatal import fatal

    try:
        asyncio.run(run(open_board()))
    except KeyboardInterrupt:
        raise  # Ctrl-C reaches here only before the seal (kbd_intr(-1) afterwards)
    except Exception as e:  # noqa: BLE001
        fatal(e)
