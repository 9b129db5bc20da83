# A board's role (board.json "role") decides which tasks run beside the console service.
# Each role module has `start(board, commands)`: it may add console commands to the table and
# returns the coroutines to run. One table, as CHIP_DEFS in esptool.

ROLES = ("meter", "muc", "concentrator", "wmbus_meter")


def load(name):
    if name == "meter":
        from meterseal.roles import meter as mod
    elif name == "muc":
        from meterseal.roles import muc as mod
    elif name == "wmbus_meter":
        from meterseal.roles import wmbus_meter as mod
    elif name == "concentrator":
        from meterseal.roles import concentrator as mod
    else:
        raise ValueError("board.json: unknown role %r (one of %s)" % (name, ", ".join(ROLES)))
    return mod
