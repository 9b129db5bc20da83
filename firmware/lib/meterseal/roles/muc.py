# The MUC gateway role (D5): collects readings of the meters of a building. Its link services
# (M-Bus master, wireless M-Bus receiver) are added here as they land; with none it still runs
# the console service.


def start(board, commands):
    return []
