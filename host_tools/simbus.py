"""A shared line for simulated boards: a wired M-Bus, or the wireless M-Bus air.

Every byte one peer sends reaches every other peer, as on a two-wire bus or a radio channel; when
two slaves answer at once their bytes interleave and the master sees a collision, as on the real
bus. Boards join with a UART configured as {"tcp_connect": "127.0.0.1:PORT"}; host tools reach it
as socket://127.0.0.1:PORT like any other port.
"""
import selectors
import socket
import threading


class BusHub:
    def __init__(self, host="127.0.0.1", port=0, name="bus"):
        self.name = name
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._peers = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simbus-" + name, daemon=True)

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def url(self):
        return "socket://" + self.address

    def start(self):
        self._thread.start()
        return self

    def wait_for_peers(self, n, timeout=10.0):
        """Block until n peers have joined (a TCP connect completes before the hub has accepted)."""
        import time

        deadline = time.monotonic() + timeout
        while len(self._peers) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("%d of %d peers joined %s" % (len(self._peers), n, self.name))
            time.sleep(0.01)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for p in self._peers:
            p.close()
        self._listener.close()
        self._sel.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.1):
                sock = key.fileobj
                if sock is self._listener:
                    try:
                        conn, _ = self._listener.accept()
                    except OSError:
                        continue
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._peers.append(conn)
                    self._sel.register(conn, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self._drop(sock)
                    continue
                for other in list(self._peers):
                    if other is not sock:
                        try:
                            other.sendall(data)
                        except OSError:
                            self._drop(other)

    def _drop(self, sock):
        if sock in self._peers:
            self._peers.remove(sock)
            self._sel.unregister(sock)
            sock.close()
