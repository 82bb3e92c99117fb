"""HTTP front of the simulator (stdlib ``ThreadingHTTPServer``): Shopify's endpoint, the bulk
result files, and the loopback-only ``/_sim`` admin API.

Faults are applied here because some of them live below HTTP: a timeout holds the socket
open past the client's patience, a reset drops the TCP connection without an answer.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import struct
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from simulator import oauth_grants
from simulator.admin import handle_admin

log = logging.getLogger(__name__)
GRAPHQL_PATH = re.compile(r"^/([^/]+)/admin/api/([^/]+)/graphql\.json$")
BULK_PATH = re.compile(r"^/_bulk/([^/]+)/(\d+)\.jsonl$")
#: Name the token endpoint in a fault plan's `only_fields` to inject faults there (never
#: by default: fault tests of the GraphQL API must not also break token minting).
TOKEN_ENDPOINT_FIELD = "oauth_access_token"  # noqa: S105 (a name)
OAUTH_PATH = re.compile(r"^/([^/]+)/admin/oauth/(access_token|authorize)$")
HTTP_FAULTS = {
    "http_500": (500, {"errors": "Internal Server Error"}),
    "http_502": (502, {"errors": "Bad Gateway"}),
    "http_503": (503, {"errors": "Service Unavailable"}),
    "http_429": (
        429,
        {
            "errors": "Exceeded 2 calls per second for api client. Reduce request "
            "rates to resume uninterrupted service."
        },
    ),
}
UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


class _Dropped(Exception):
    """The connection was dropped on purpose: write nothing more."""


class Handler(BaseHTTPRequestHandler):
    server: SimulatorHTTPServer
    protocol_version = "HTTP/1.1"
    #: Headers and body go out as two writes; with Nagle on, the client's delayed ACK
    #: held every response ~40 ms (a per-SKU benchmark of 20,000 calls spent 15 minutes).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    # -- plumbing ----------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: Any,
        version: str | None = None,
        *,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        if version:
            self.send_header("X-Shopify-API-Version", version)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """Reset the TCP connection (RST, no response)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        finally:
            self.close_connection = True
        raise _Dropped

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _Dropped:
            self.close_connection = True
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        oauth = OAUTH_PATH.match(urlsplit(self.path).path)
        if oauth and oauth[2] == "authorize":
            self._authorize(oauth[1])
            return
        match = BULK_PATH.match(self.path)
        if match:
            data = self.server.sim.bulk.file(match[1], int(match[2]))
            if data is None:
                self._send(404, {"errors": "Not Found"})
            else:
                self._send(200, data, content_type="application/jsonl")
            return
        self._admin("GET")

    def do_POST(self) -> None:  # noqa: N802
        match = GRAPHQL_PATH.match(self.path.split("?", 1)[0])
        oauth = OAUTH_PATH.match(urlsplit(self.path).path)
        if match:
            self._graphql(match[1], match[2])
        elif oauth and oauth[2] == "access_token":
            self._access_token(oauth[1])
        else:
            self._admin("POST")

    def _admin(self, method: str) -> None:
        if not self.path.startswith("/_sim/"):
            self._send(404, {"errors": "Not Found"})
            return
        if self.client_address[0] not in ("127.0.0.1", "::1", "localhost"):
            self._send(403, {"errors": "the /_sim admin API answers loopback clients only"})
            return
        raw = self._body() if method == "POST" else b""
        try:
            payload = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            self._send(400, {"errors": "body is not JSON"})
            return
        status, body = handle_admin(self.server.sim, method, self.path, payload)
        self._send(status, body)

    def _graphql(self, domain: str, version: str) -> None:
        sim = self.server.sim
        raw = self._body()
        store = sim.stores.get(domain)
        if store is None:
            self._send(404, {"errors": "Not Found"})
            return
        store.count("requests")
        accepted, token_scopes = store.authenticate(self.headers.get("X-Shopify-Access-Token"))
        if not accepted:
            store.count("unauthorized")
            self._send(401, UNAUTHORIZED)
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self._send(400, {"errors": "Bad Request: the body must be a JSON object"})
            return
        prepared, served = sim.prepare(version, body)
        fields = prepared.root_fields
        fault = store.faults.before(fields)
        if fault is not None:
            store.count(f"fault:{fault}")
            self._fault(fault, store.faults.timeout_seconds, served)
            return
        with store.acting_with(token_scopes):
            response = sim.execute(store, prepared, served)
        lost = store.faults.after_commit(prepared.is_mutation and "data" in response, fields)
        if lost is not None:
            store.count(f"fault:{lost}")
            if store.faults.coin():
                self._drop()
            self._send(502, HTTP_FAULTS["http_502"][1], served)
            return
        self._send(200, response, served)

    # -- OAuth (simulator/oauth.py) ---------------------------------------------------------

    def _access_token(self, domain: str) -> None:
        """Form-encoded or JSON body; query-string parameters count too (clients send both)."""
        store = self.server.sim.stores.get(domain)
        raw = self._body()
        if store is None:
            self._send(404, {"errors": "Not Found"})
            return
        params = dict(parse_qsl(urlsplit(self.path).query))
        try:
            if "json" in (self.headers.get("Content-Type") or ""):
                body = json.loads(raw or b"{}")
                params.update({k: str(v) for k, v in dict(body).items()})
            else:
                params.update(parse_qsl(raw.decode()))
        except (ValueError, TypeError):
            self._send(400, {"error": "invalid_request", "error_description": "unreadable body"})
            return
        if TOKEN_ENDPOINT_FIELD in (store.faults.only_fields or ()):  # opted into by name only
            fault = store.faults.before({TOKEN_ENDPOINT_FIELD})
            if fault is not None:
                store.count(f"fault:{fault}")
                self._fault(fault, store.faults.timeout_seconds, "")
                return
        status, body = oauth_grants.token_request(store.oauth, params, store.granted_scopes)
        self._send(status, body)

    def _authorize(self, domain: str) -> None:
        store = self.server.sim.stores.get(domain)
        if store is None:
            self._send(404, {"errors": "Not Found"})
            return
        params = dict(parse_qsl(urlsplit(self.path).query))
        status, body, query = oauth_grants.authorize(store.oauth, params, store.granted_scopes)
        if query is None:
            self._send(status, body)
            return
        target = params["redirect_uri"]
        location = target + ("&" if "?" in target else "?") + urlencode(query)
        self._send(302, b"", content_type="text/plain", extra={"Location": location})

    def _fault(self, kind: str, timeout_seconds: float, served: str) -> None:
        if kind in HTTP_FAULTS:
            status, body = HTTP_FAULTS[kind]
            extra = {"Retry-After": "1.0"} if status == 429 else None
            self._send(status, body, served, extra=extra)
        elif kind == "timeout":
            self.server.sim.stopping.wait(timeout_seconds)
            self._send(504, {"errors": "Gateway Timeout"}, served)
        else:  # reset
            self._drop()


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim: Any, address: tuple[str, int]) -> None:
        self.sim = sim
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def make_server(sim: Any, host: str, port: int) -> SimulatorHTTPServer:
    return SimulatorHTTPServer(sim, (host, port))
