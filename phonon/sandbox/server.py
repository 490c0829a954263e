"""The sandbox provider's HTTP side: the request handler, the server, and running it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from phonon.codes import ResponseCode
from phonon.sandbox.contract import MAX_BODY_BYTES, error_body, route
from phonon.sandbox.provider import SandboxProvider, load_or_create_private_key

# --- HTTP ------------------------------------------------------------------------------------

CONTROL_GET = (
    "/_sandbox/ledger",
    "/_sandbox/stats",
    "/_sandbox/faults",
    "/_sandbox/flows",
    "/_sandbox/public-key",
    "/_sandbox/health",
    "/_sandbox/outcomes",
    "/_sandbox/outcome-stats",
)
CONTROL_POST = ("/_sandbox/faults", "/_sandbox/flows", "/_sandbox/reset", "/_sandbox/outcomes", "/_sandbox/report-urls")
# The Pull API v2, under either host prefix or none.
PULL_PATHS = ("/pull", "/realtime/pull", "/bulk/pull")


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PhononSandbox/1.0"
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection ends after this

    server: SandboxServer

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self):
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    # Methods --------------------------------------------------------------------------------

    def do_POST(self):
        received_at = time.time()
        path, query = self._split()
        body = self._read_body()
        if body is None:
            return
        api_route = route(path)
        if api_route:
            self._api(body, *api_route, path=path, received_at=received_at)
        elif path in PULL_PATHS:
            self._pull(body)
        elif path in CONTROL_POST:
            self._control(path, query, body)
        else:
            self._not_found_or_wrong_method(path)

    def do_GET(self):
        path, query = self._split()
        if self._read_body() is None:
            return
        if path in CONTROL_GET:
            self._control(path, query, b"")
        else:
            self._not_found_or_wrong_method(path)

    def _other_method(self):
        if self.command == "HEAD":  # the answer below has a body, which HEAD must not get
            self.close_connection = True
        path, _ = self._split()
        if self._read_body() is None:
            return
        self._not_found_or_wrong_method(path)

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _other_method

    # Request and answer ---------------------------------------------------------------------

    def _split(self) -> tuple[str, dict]:
        parts = urlsplit(self.path)
        return parts.path, {name: values[-1] for name, values in parse_qs(parts.query).items()}

    def _read_body(self) -> bytes | None:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                raise _BadRequest
            body = self.rfile.read(length)
            if len(body) != length:  # the client went away
                self.close_connection = True
                return None
            return body
        except (_BadRequest, ValueError):
            self.close_connection = True
            self._send(
                413 if self.headers.get("Content-Length", "").isdigit() else 400,
                {"error": "The request body's length is missing, wrong or too large."},
            )
            return None

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, status: int, payload, *, content_type="application/json", headers: dict | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _not_found_or_wrong_method(self, path: str):
        allowed = [method for method, paths in (("GET", CONTROL_GET), ("POST", CONTROL_POST)) if path in paths]
        if route(path) or path in PULL_PATHS:
            allowed.append("POST")
        if allowed:
            self._send(405, {"error": f"Use {' or '.join(allowed)}."}, headers={"Allow": ", ".join(allowed)})
        else:
            self._send(404, {"error": "Not found."})

    def _api(self, body: bytes, endpoint: str, api: str, *, path: str, received_at: float):
        try:
            answer = self.server.provider.submit(
                body,
                api=api,
                endpoint=endpoint,
                path=path,
                client_ip=self.client_address[0],
                received_at=received_at,
            )
        except Exception:  # a bug in the sandbox must still answer, as a provider failure would
            traceback.print_exc()
            self._send(500, error_body(ResponseCode.FAILURE))
            return
        if answer.after == "reset":
            self._reset_connection()
            return
        if answer.after == "slow":
            self.server.stopping.wait(answer.slow_seconds)
        self._send(answer.status, answer.body, headers=answer.headers)

    def _pull(self, body: bytes):
        provider = self.server.provider
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            self._send(200, {"api-response-code": 400, "api-response-message": "Invalid Format", "data": []})
            return
        status, answer, delay = provider.outcomes.pull(request, check_flow=provider.pull_flow_refusal)
        if delay:
            self.server.stopping.wait(delay)
        self._send(status, answer)

    def _reset_connection(self):
        # SO_LINGER with a zero timeout turns close() into an RST: the client sees a reset, no answer.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _control(self, path: str, query: dict, body: bytes):
        provider = self.server.provider
        try:
            if path == "/_sandbox/health":
                self._send(200, {"ok": True})
            elif path == "/_sandbox/public-key":
                self._send(200, provider.public_key_pem().encode(), content_type="text/plain; charset=utf-8")
            elif path == "/_sandbox/ledger":
                self._send(200, {"calls": provider.ledger(query.get("flow-id"))})
            elif path == "/_sandbox/stats":
                self._send(200, provider.stats(float(query.get("window", 60))))
            elif path == "/_sandbox/faults" and self.command == "GET":
                self._send(200, provider.faults())
            elif path == "/_sandbox/faults":
                self._send(200, provider.set_faults(_json_object(body)))
            elif path == "/_sandbox/flows" and self.command == "GET":
                self._send(200, {"flows": provider.flows()})
            elif path == "/_sandbox/flows":
                fields = {name.replace("-", "_"): value for name, value in _json_object(body).items()}
                self._send(200, provider.register_flow(**fields).as_json())
            elif path == "/_sandbox/outcomes" and self.command == "GET":
                self._send(200, provider.outcomes.settings())
            elif path == "/_sandbox/outcomes":
                self._send(200, provider.outcomes.configure(_json_object(body)))
            elif path == "/_sandbox/report-urls":
                self._send(200, {"report_urls": provider.outcomes.set_report_urls(_json_object(body))})
            elif path == "/_sandbox/outcome-stats":
                self._send(200, provider.outcomes.stats())
            elif path == "/_sandbox/reset":
                provider.reset()
                self._send(200, {"ok": True})
        except (ValueError, TypeError) as error:
            self._send(400, {"error": str(error)})


def _json_object(body: bytes) -> dict:
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object.")
    return data


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], provider: SandboxProvider, *, verbose: bool = False):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.provider = provider
        self.verbose = verbose
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # clients going away are normal
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RunningSandbox:
    def __init__(self, server: SandboxServer, thread: threading.Thread):
        self.server = server
        self.thread = thread
        self.provider = server.provider
        host, self.port = server.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        self.host = host
        self.base_url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self.server.stopping.is_set():
            return
        self.server.stopping.set()
        self.provider.outcomes.stop()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_sandbox_thread(
    *, host: str = "127.0.0.1", port: int = 0, private_key=None, verbose: bool = False, **options
) -> RunningSandbox:
    """Serve a new SandboxProvider(private_key=..., faults=..., flows=...) from a background thread."""
    provider = SandboxProvider(private_key=private_key, **options)
    server = SandboxServer((host, port), provider, verbose=verbose)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return RunningSandbox(server, thread)


def serve(
    *,
    host: str,
    port: int,
    key_path: Path | str,
    faults: dict | None = None,
    verbose: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the sandbox until SIGTERM or SIGINT, with its key kept at key_path across restarts."""
    key = load_or_create_private_key(key_path)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = start_sandbox_thread(host=host, port=port, private_key=key, faults=faults, verbose=verbose)
    try:
        announce(
            f"Sandbox provider at {running.base_url} (realtime: {running.base_url}/realtime, "
            f"bulk: {running.base_url}/bulk); public key served at {running.base_url}/_sandbox/public-key "
            f"(private key in {key_path})"
        )
        while not stop.wait(1):
            pass
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The sandbox Phonon provider.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8765)))
    parser.add_argument(
        "--private-key", default=str(Path(__file__).resolve().parents[2] / "var" / "sandbox_private_key.pem")
    )
    parser.add_argument("--faults", type=json.loads, default=None, help="fault settings as a JSON object")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        key_path=args.private_key,
        faults=args.faults,
        verbose=args.verbose,
        announce=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
