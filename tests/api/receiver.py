"""A real webhook receiver on 127.0.0.1: answers with scripted status codes and keeps what it got."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, statuses=(), *, hang_first_seconds: float = 0.0):
        self.statuses = list(statuses)  # answered in order; 200 once they run out
        self.hang_first_seconds = hang_first_seconds
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    first = len(receiver.received) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if first and receiver.hang_first_seconds:
                    time.sleep(receiver.hang_first_seconds)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/phonon"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
