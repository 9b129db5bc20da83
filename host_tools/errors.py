"""The host tools' errors. The CLI catches ToolError once and maps it to a message and exit code."""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check said no: bad signature, rejected command, tampered logbook
EXIT_CANNOT = 2  # the tool could not do its job: usage, unreachable port, missing file


class ToolError(Exception):
    exit_code = EXIT_CANNOT


class NoAnswer(ToolError):
    """The port opened but no valid frame came back in time."""


class PortError(ToolError):
    """The port could not be opened."""


class BoardError(ToolError):
    """The board answered with an error frame: .code (proto.console E_*), .reason."""

    def __init__(self, code, name, reason):
        super().__init__("board says %s: %s" % (name, reason))
        self.code = code
        self.reason = reason
        if name == "rejected":
            self.exit_code = EXIT_CHECK_FAILED
