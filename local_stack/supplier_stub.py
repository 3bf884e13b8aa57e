"""A local supplier: the Supplier API ``POST /service-order-cancellations`` of DUMMY_SUPPLIER and FIBRECO.

It behaves like the Fibre Cafe test environment's stub suppliers (domain.md section 6), driven by
the headers the dispatcher passes through from the tenant's cancellation request:

| X-Scenario                        | answer                                       | later                                   |
|-----------------------------------|----------------------------------------------|-----------------------------------------|
| CANCELLATION_ACCEPTED (default)   | 202 ``{"supplierReference"}``                | KCI CANCELLED (cancellation id, problemCode) |
| CANCELLATION_REJECTED             | 202 ``{"supplierReference"}``                | KCI CANCELLATION_REJECTED (problemCode, text) |
| CANCELLATION_PENDING              | 202 ``{"supplierReference"}``                | nothing                                 |
| SYNC_ACCEPTED                     | 201 ``{"supplierReference"}``                | nothing                                 |
| SYNC_REJECTED                     | 422 ``{uuid, code INVALID_REQUEST, messages}``| nothing                                 |
| TIMEOUT                           | no answer for ``timeout_seconds`` (longer than the dispatcher's read timeout) | nothing |
| SERVER_ERROR                      | 500 error body                               | nothing                                 |
| UNAUTHORISED                      | 401 error body                               | nothing                                 |
| anything else                     | 400 MALFORMED_REQUEST naming the values above| nothing                                 |

``X-Kci-Delay``: seconds before the follow-up KCI (default 30; 0 allowed; anything that is not a
number from 0 to 86400 means the default). ``X-Problem-Code``: the KCI's problemCode (default
UNKNOWN_FAULT). The six scenarios after PENDING are ours, so that every branch of the dispatcher
can be seen locally.

The KCI goes to the local gateway's ``POST /kcis`` with a supplier token from the local token
endpoint (as that supplier), like a real supplier's: a fresh UUID ``id``, ``issuedOn`` now, the
order's next ``sequenceNumber`` (a counter per order in the stub, starting above the order's
``lastSequenceNumber`` in the orders table) and the order entity for the order's type
(provideServiceOrder, ceaseServiceOrder, modifyServiceOrder or unsolicitedCeaseServiceOrder), read
from the orders table: the supplier's latest entity with ``status`` CANCELLED, or the order's
current supplier status for a rejection. ``X-Conversation-ID`` is the cancellation's.

Each supplier has its own base URL, ``<stub>/<SUPPLIER>``, so the stub knows who it is answering
as; FIBRECO's requires HTTP Basic credentials (as the seeded partner registry gives them to the dispatcher),
DUMMY_SUPPLIER's none. ``GET /requests`` lists what the stub received and the KCIs it sent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from testing.stub_servers import StubReply, StubRequest, StubServer, basic_credentials, error_body

log = logging.getLogger("local_stack")

SCENARIO_HEADER = "X-Scenario"
DELAY_HEADER = "X-Kci-Delay"
PROBLEM_HEADER = "X-Problem-Code"
DEFAULT_SCENARIO = "CANCELLATION_ACCEPTED"
DEFAULT_KCI_DELAY_SECONDS = 30.0
MAX_KCI_DELAY_SECONDS = 86400.0
DEFAULT_PROBLEM_CODE = "UNKNOWN_FAULT"
# Longer than the dispatcher's read timeout (fibre_cafe/dal/supplier_api.py, 10 s).
DEFAULT_TIMEOUT_SECONDS = 15.0

ASYNC_SCENARIOS = ("CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED", "CANCELLATION_PENDING")
OWN_SCENARIOS = ("SYNC_ACCEPTED", "SYNC_REJECTED", "TIMEOUT", "SERVER_ERROR", "UNAUTHORISED")
SCENARIOS = ASYNC_SCENARIOS + OWN_SCENARIOS

# How the dispatcher authenticates to each local supplier (seeded into the partner registry); the stub checks it.
SUPPLIER_AUTH: dict[str, dict[str, str]] = {
    "DUMMY_SUPPLIER": {"type": "none"},
    "FIBRECO": {"type": "basic", "username": "fibre-cafe-gateway", "password": "local-dev-secret"},
}
KCI_POST_ATTEMPTS = 3


def kci_delay(value: str | None) -> float:
    """X-Kci-Delay in seconds: a number from 0 to 86400, anything else the default (30)."""
    try:
        delay = float((value or "").strip())
    except ValueError:
        return DEFAULT_KCI_DELAY_SECONDS
    if not math.isfinite(delay) or delay < 0 or delay > MAX_KCI_DELAY_SECONDS:
        return DEFAULT_KCI_DELAY_SECONDS
    return delay


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SupplierStub(StubServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 suppliers: dict[str, dict[str, str]] | None = None, client_secret: str | None = None):
        self.suppliers = dict(suppliers or SUPPLIER_AUTH)
        self.timeout_seconds = timeout_seconds
        # Set by the stack once they exist (configure): where KCIs go, and how to read an order.
        self.gateway_url: str | None = None
        self.orders: Any = None  # fibre_cafe.dal.orders_table.OrdersTable on the stack's moto
        if client_secret is None:
            from local_stack.tokens import DEV_CLIENT_SECRET

            client_secret = DEV_CLIENT_SECRET
        self._client_secret = client_secret
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sequences: dict[int, int] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._threads: list[threading.Thread] = []
        self.received: list[dict[str, Any]] = []
        self._http = requests.Session()
        super().__init__(self._route, "supplier-stub", host, port)

    # ---------------------------------------------------------------- wiring

    def base_url(self, supplier: str) -> str:
        return f"{self.url}/{supplier}"

    def suppliers_config(self) -> dict[str, dict[str, Any]]:
        """The suppliers in partner_directory.py's JSON form: seeded into the registry (seed.py), or SUPPLIERS_CONFIG in tests."""
        return {supplier: {"baseUrl": self.base_url(supplier), "auth": dict(auth)} for supplier, auth in self.suppliers.items()}

    def configure(self, gateway_url: str, orders: Any) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.orders = orders

    def reset(self) -> None:
        """Forget the requests received and the KCI sequence numbers handed out (a fresh world on the stack)."""
        with self._lock:
            self.received.clear()
            self._sequences.clear()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop answering; KCIs still waiting for their delay are not sent."""
        self._stop.set()
        super().stop()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._http.close()

    # ---------------------------------------------------------------- HTTP

    def _route(self, request: StubRequest) -> StubReply | None:
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET" and parts == ["requests"]:
            return StubReply(200, self._listing(request.query))
        if len(parts) == 2 and parts[1] == "service-order-cancellations" and parts[0] in self.suppliers:
            if request.method != "POST":
                return StubReply(405, error_body("NOT_FOUND", "Use POST"), {"Allow": "POST"})
            return self._cancellation(parts[0], request)
        return StubReply(404, error_body("NOT_FOUND", f"No such resource; suppliers here: {', '.join(self.suppliers)}"))

    def _listing(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(entry) for entry in self.received]
        if "supplier" in query:
            entries = [entry for entry in entries if entry["supplier"] == query["supplier"]]
        if "cancellationId" in query:
            entries = [entry for entry in entries if str((entry.get("body") or {}).get("id")) == query["cancellationId"]]
        return entries

    def _authorised(self, supplier: str, request: StubRequest) -> bool:
        auth = self.suppliers[supplier]
        if auth.get("type") == "basic":
            return basic_credentials(request.header("Authorization")) == (auth["username"], auth["password"])
        if auth.get("type") == "bearer":
            return request.header("Authorization") == f"Bearer {auth['token']}"
        return True

    def _cancellation(self, supplier: str, request: StubRequest) -> StubReply | None:
        scenario = (request.header(SCENARIO_HEADER) or DEFAULT_SCENARIO).strip().upper()
        delay = kci_delay(request.header(DELAY_HEADER))
        problem_code = (request.header(PROBLEM_HEADER) or "").strip() or DEFAULT_PROBLEM_CODE
        entry: dict[str, Any] = {"supplier": supplier, "receivedAt": now_iso(), "headers": request.recorded_headers(),
                                 "body": None, "scenario": scenario, "status": None, "kci": None}
        with self._lock:
            self.received.append(entry)
        reply = self._answer(supplier, request, scenario, delay, problem_code, entry)
        entry["status"] = reply.status if reply is not None else None
        log.info("supplier stub %s: cancellation %s, scenario %s -> %s", supplier, (entry["body"] or {}).get("id"), scenario,
                 reply.status if reply is not None else "no answer")
        return reply

    def _answer(self, supplier: str, request: StubRequest, scenario: str, delay: float, problem_code: str,
                entry: dict[str, Any]) -> StubReply | None:
        if not self._authorised(supplier, request):
            return StubReply(
                401, error_body("NOT_AUTHORISED", "Missing or wrong credentials"), {"WWW-Authenticate": 'Basic realm="supplier"'}
            )
        try:
            body = request.json()
        except ValueError:
            body = None
        entry["body"] = body
        problems = _request_problems(body)
        if problems:
            return StubReply(400, error_body("MALFORMED_REQUEST", *problems))
        reference = f"{supplier}-{body['id']}"
        if scenario in ("CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED"):
            self._schedule_kci(supplier, body, request.header("X-Conversation-ID"), scenario, delay, problem_code, entry)
            return StubReply(202, {"supplierReference": reference})
        if scenario == "CANCELLATION_PENDING":
            return StubReply(202, {"supplierReference": reference})
        if scenario == "SYNC_ACCEPTED":
            return StubReply(201, {"supplierReference": reference})
        if scenario == "SYNC_REJECTED":
            order = body.get("supplierOrderReference") or body["orderId"]
            return StubReply(422, error_body("INVALID_REQUEST", f"Order {order} cannot be cancelled now ({problem_code})"))
        if scenario == "TIMEOUT":
            self._stop.wait(self.timeout_seconds)
            return None  # the caller gave up long ago
        if scenario == "SERVER_ERROR":
            return StubReply(500, error_body("GATEWAY_FAULT", "Simulated supplier failure (X-Scenario: SERVER_ERROR)"))
        if scenario == "UNAUTHORISED":
            return StubReply(401, error_body("NOT_AUTHORISED", "Simulated credentials problem (X-Scenario: UNAUTHORISED)"),
                             {"WWW-Authenticate": 'Basic realm="supplier"'})
        return StubReply(
            400, error_body("MALFORMED_REQUEST", f"Invalid value for header {SCENARIO_HEADER} - accepted values are {', '.join(SCENARIOS)}")
        )

    # ---------------------------------------------------------------- the follow-up KCI

    def _schedule_kci(self, supplier: str, request_body: dict[str, Any], conversation_id: str | None, scenario: str, delay: float,
                      problem_code: str, entry: dict[str, Any]) -> None:
        entry["kci"] = {"due": datetime.fromtimestamp(time.time() + delay, UTC).isoformat(timespec="seconds")}
        thread = threading.Thread(
            target=self._send_kci_later, args=(supplier, request_body, conversation_id, scenario, delay, problem_code, entry),
            name=f"supplier-stub-kci-{request_body['id']}", daemon=True,
        )
        with self._lock:
            self._threads = [alive for alive in self._threads if alive.is_alive()] + [thread]
        thread.start()

    def _send_kci_later(self, supplier: str, request_body: dict[str, Any], conversation_id: str | None, scenario: str, delay: float,
                        problem_code: str, entry: dict[str, Any]) -> None:
        if self._stop.wait(delay):
            log.info("supplier stub %s: stopped before the KCI for cancellation %s was due", supplier, request_body["id"])
            return
        try:
            kci = self.build_kci(supplier, request_body, scenario, problem_code)
            if kci is None:
                entry["kci"]["error"] = f"order {request_body['orderId']} is not in the orders table"
                log.warning("supplier stub %s: %s; no KCI sent", supplier, entry["kci"]["error"])
                return
            entry["kci"]["body"] = kci
            status = self.post_kci(supplier, kci, conversation_id)
            entry["kci"]["status"] = status
            log.info("supplier stub %s: KCI %s (sequence %d) for cancellation %s -> %s", supplier, kci["reasonCode"], kci["sequenceNumber"],
                     request_body["id"], status)
        except Exception as exc:  # logged; the stub goes on
            entry["kci"]["error"] = f"{type(exc).__name__}: {exc}"
            if not self._stop.is_set():
                log.exception("supplier stub %s: could not send the KCI for cancellation %s", supplier, request_body["id"])

    def next_sequence(self, order_id: int, last_known: int) -> int:
        with self._lock:
            sequence = max(self._sequences.get(order_id, 0), last_known) + 1
            self._sequences[order_id] = sequence
            return sequence

    def build_kci(self, supplier: str, request_body: dict[str, Any], scenario: str, problem_code: str) -> dict[str, Any] | None:
        from fibre_cafe.models.kci import ORDER_ENTITY_FIELDS

        order = self.orders.get(int(request_body["orderId"])) if self.orders is not None else None
        if order is None:
            return None
        entity_field = next(name for name, order_type in ORDER_ENTITY_FIELDS.items() if order_type == order.orderType)
        accepted = scenario == "CANCELLATION_ACCEPTED"
        entity = dict(order.entity or {})
        entity.update(id=order.id, tenant=order.tenant, status="CANCELLED" if accepted else order.supplierStatus)
        reference = order.supplierOrderReference or request_body.get("supplierOrderReference")
        if reference:
            entity["supplierOrderReference"] = reference
        kci: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "sequenceNumber": self.next_sequence(order.id, order.lastSequenceNumber),
            "issuedOn": now_iso(),
            "reasonCode": "CANCELLED" if accepted else "CANCELLATION_REJECTED",
            "problemCode": problem_code,
            "serviceOrderCancellationId": int(request_body["id"]),
            entity_field: entity,
        }
        if not accepted:
            kci["text"] = f"The supplier rejected the cancellation ({problem_code})"
        return kci

    def post_kci(self, supplier: str, kci: dict[str, Any], conversation_id: str | None) -> int | None:
        """POST the KCI to the gateway as ``supplier``; a few tries on 401 (new token), 5xx and connection errors."""
        assert self.gateway_url is not None, "configure() first"
        status: int | None = None
        for attempt in range(1, KCI_POST_ATTEMPTS + 1):
            if self._stop.is_set():
                break
            headers = {"X-Request-ID": str(uuid.uuid4()), "Authorization": f"Bearer {self._token(supplier)}"}
            if conversation_id:
                headers["X-Conversation-ID"] = conversation_id
            try:
                answer = self._http.post(f"{self.gateway_url}/kcis", json=kci, headers=headers, timeout=(3.05, 60))
            except requests.RequestException as exc:
                log.warning("supplier stub %s: POST /kcis failed (%s), attempt %d", supplier, type(exc).__name__, attempt)
                self._stop.wait(attempt)
                continue
            status = answer.status_code
            if status == 401:
                with self._lock:
                    self._tokens.pop(supplier, None)
                continue
            if status >= 500:
                self._stop.wait(attempt)
                continue
            if status != 204:
                log.warning("supplier stub %s: POST /kcis answered %d: %s", supplier, status, answer.text[:500])
            return status
        return status

    def _token(self, supplier: str) -> str:
        with self._lock:
            cached = self._tokens.get(supplier)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        answer = self._http.post(f"{self.gateway_url}/auth/supplier/access-token", timeout=10,
                                 data={"grant_type": "client_credentials", "client_id": supplier, "client_secret": self._client_secret})
        answer.raise_for_status()
        body = answer.json()
        token = str(body["access_token"])
        with self._lock:
            self._tokens[supplier] = (token, time.monotonic() + float(body.get("expires_in", 3600)) - 60)
        return token


def _request_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["The body must be a JSON object"]
    problems = []
    for name in ("id", "orderId"):
        if not isinstance(body.get(name), int) or isinstance(body.get(name), bool):
            problems.append(f"{name} must be a whole number")
    if not isinstance(body.get("reasonCode"), str):
        problems.append("reasonCode must be a string")
    return problems

