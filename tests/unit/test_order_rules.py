"""Order rules (domain.md section 1, the 422 rows) through the handler, and the pure rules underneath.

Through the handler: unknown order and another tenant's order answer the same 422 NOT_FOUND; a
non-cancellable order, a reason code of the wrong family, a supplier mismatch and a second open
cancellation answer 422 INVALID_REQUEST and write nothing. Below: fibre_cafe.domain.order_rules
and fibre_cafe.domain.cancellation_state_machine as plain functions.
"""

from __future__ import annotations

import threading
from itertools import product

import pytest

from fibre_cafe.domain import cancellation_state_machine as machine
from fibre_cafe.domain.errors import IllegalTransition, InvalidRequest, NotFound
from fibre_cafe.domain.order_rules import NOT_CANCELLABLE_ORDER_STATES, check_cancellable
from fibre_cafe.models.cancellation import CancellationStatus as S
from fibre_cafe.models.cancellation import ServiceOrderCancellationRequest
from fibre_cafe.models.order import Order, OrderStatus, OrderType
from tests.unit.tenant_api_checks import (
    EXAMPLE,
    ORDER_CODES,
    PATH,
    UNSOLICITED_CEASE_CODES,
    assert_created,
    assert_error,
    names,
    same_error,
)

ORDINARY_TYPES = [OrderType.PROVIDE, OrderType.CEASE, OrderType.MODIFY]
NOT_CANCELLABLE = ["COMPLETED", "CANCELLED", "REJECTED", "FAILED_TO_SEND"]
CANCELLABLE = ["RECEIVED_BY_GATEWAY", "SENT_TO_SUPPLIER", "ACKNOWLEDGED", "IN_PROGRESS", "PENDING", "HELD", "PENDING_AMENDMENT"]


def assert_nothing_written(aws_view, order_id: int = 123, status: str | None = "ACKNOWLEDGED") -> None:
    assert aws_view.cancellation_items() == []
    assert aws_view.request_items() == []
    assert aws_view.messages() == []
    order = aws_view.order_item(order_id)
    if status is None:
        assert order is None
    else:
        assert order["status"] == status and order["version"] == 1 and "openCancellationId" not in order


# ---------------------------------------------------------------------------------------------- not found


def test_unknown_order_is_422_not_found(api, aws_view):
    messages = assert_error(api("POST", PATH, body=EXAMPLE), 422, "NOT_FOUND")
    assert any("123" in message for message in messages)
    assert_nothing_written(aws_view, status=None)


def test_another_tenants_order_answers_exactly_like_an_unknown_order(api, orders, aws_view):
    """No existence leak: same status, code and message text; only the error uuid differs."""
    unknown = api("POST", PATH, body=EXAMPLE, client="TENANT2")
    orders(123, tenant="TENANT1")
    foreign = api("POST", PATH, body=EXAMPLE, client="TENANT2")
    assert_error(unknown, 422, "NOT_FOUND")
    assert_error(foreign, 422, "NOT_FOUND")
    assert same_error(unknown, foreign), (unknown, foreign)
    assert unknown[1]["uuid"] != foreign[1]["uuid"]
    assert_nothing_written(aws_view)


def test_another_tenants_order_does_not_leak_its_state_either(api, orders, subtests):
    """Whatever state the foreign order is in (even one that would give INVALID_REQUEST), the answer is NOT_FOUND."""
    for order_id, status in enumerate(NOT_CANCELLABLE + ["PENDING_CANCELLATION", "ACKNOWLEDGED"], start=1):
        with subtests.test(status=status):
            body = {**EXAMPLE, "orderId": order_id, "supplier": "FIBRECO", "reasonCode": "NO_AUTHORISATION"}
            unknown = api("POST", PATH, body=body, client="TENANT2")
            orders(order_id, tenant="TENANT1", status=status)
            foreign = api("POST", PATH, body=body, client="TENANT2")
            assert_error(foreign, 422, "NOT_FOUND")
            assert same_error(unknown, foreign)


# ---------------------------------------------------------------------------------------------- order state


def test_order_in_a_terminal_state_is_422_invalid_request(api, orders, aws_view, subtests):
    for order_id, status in enumerate(NOT_CANCELLABLE, start=1):
        with subtests.test(status=status):
            orders(order_id, status=status)
            messages = assert_error(api("POST", PATH, body={**EXAMPLE, "orderId": order_id}), 422, "INVALID_REQUEST")
            assert any(status in message for message in messages), messages
            assert_nothing_written(aws_view, order_id, status=status)


def test_inflight_order_is_cancellable(api, orders, subtests):
    for order_id, status in enumerate(CANCELLABLE, start=1):
        with subtests.test(status=status):
            orders(order_id, status=status)
            assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": order_id}), orderId=order_id)


# ---------------------------------------------------------------------------------------------- reason-code family


@pytest.mark.parametrize("order_type", ORDINARY_TYPES)
def test_unsolicited_cease_code_on_a_provide_cease_or_modify_order_is_invalid(api, orders, aws_view, subtests, order_type):
    orders(123, order_type=order_type)
    for code in UNSOLICITED_CEASE_CODES:
        with subtests.test(code=code):
            messages = assert_error(api("POST", PATH, body={**EXAMPLE, "reasonCode": code}), 422, "INVALID_REQUEST", "reasonCode")
            assert any(all(accepted in message for accepted in ORDER_CODES) for message in messages), "says which codes are accepted"
    assert_nothing_written(aws_view)


def test_ordinary_code_on_an_unsolicited_cease_order_is_invalid(api, orders, aws_view, subtests):
    orders(123, order_type=OrderType.UNSOLICITED_CEASE)
    for code in ORDER_CODES:
        with subtests.test(code=code):
            messages = assert_error(api("POST", PATH, body={**EXAMPLE, "reasonCode": code}), 422, "INVALID_REQUEST", "reasonCode")
            assert any(all(accepted in message for accepted in UNSOLICITED_CEASE_CODES) for message in messages)
    assert_nothing_written(aws_view)


def test_ordinary_codes_are_accepted_on_provide_cease_and_modify_orders(api, orders, subtests):
    for order_id, (order_type, code) in enumerate(product(ORDINARY_TYPES, ORDER_CODES), start=1):
        with subtests.test(order_type=order_type.value, code=code):
            orders(order_id, order_type=order_type)
            assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": order_id, "reasonCode": code}), reasonCode=code)


# ---------------------------------------------------------------------------------------------- supplier


def test_supplier_different_from_the_orders_supplier_is_invalid(api, orders, aws_view, subtests):
    """Supplier ids are compared exactly: ``dummy_supplier`` is not ``DUMMY_SUPPLIER``."""
    orders(123, supplier="DUMMY_SUPPLIER")
    for supplier in ["FIBRECO", "dummy_supplier"]:
        with subtests.test(supplier=supplier):
            assert_error(api("POST", PATH, body={**EXAMPLE, "supplier": supplier}), 422, "INVALID_REQUEST", "supplier")
    assert_nothing_written(aws_view)


def test_supplier_omitted_the_answer_carries_the_orders_supplier(api, orders, aws_view):
    orders(123, supplier="FIBRECO")
    body = {key: value for key, value in EXAMPLE.items() if key != "supplier"}
    created = assert_created(api("POST", PATH, body=body), supplier="FIBRECO")
    (item,) = aws_view.cancellation_items()
    assert item["supplier"] == "FIBRECO" and item["id"] == created["id"]


def test_every_broken_rule_is_listed(api, orders):
    orders(123, status="COMPLETED", supplier="FIBRECO")
    messages = assert_error(api("POST", PATH, body={**EXAMPLE, "reasonCode": "NO_AUTHORISATION"}), 422, "INVALID_REQUEST",
                            "reasonCode", "supplier")
    assert len(messages) == 3 and any("COMPLETED" in message for message in messages), messages


# ---------------------------------------------------------------------------------------------- one open cancellation


def test_accepting_marks_the_order_pending_cancellation(api, orders, aws_view):
    orders(123)
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    order = aws_view.order_item(123)
    assert order["status"] == "PENDING_CANCELLATION"
    assert order["openCancellationId"] == created["id"]
    assert order["version"] == 2, "the order write is versioned"
    assert order["supplierStatus"] == "ACKNOWLEDGED", "the supplier's own status is kept"


def test_second_open_cancellation_is_422_invalid_request(api, orders, aws_view):
    orders(123)
    first = assert_created(api("POST", PATH, body=EXAMPLE))
    messages = assert_error(api("POST", PATH, body={**EXAMPLE, "reasonCode": "OTHER"}), 422, "INVALID_REQUEST")
    assert any(str(first["id"]) in message for message in messages), "names the open cancellation"
    assert [item["id"] for item in aws_view.cancellation_items()] == [first["id"]]
    assert len(aws_view.messages()) == 1
    assert aws_view.order_item(123)["openCancellationId"] == first["id"]


def test_second_cancellation_by_another_tenant_is_still_not_found(api, orders):
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE))
    assert_error(api("POST", PATH, body=EXAMPLE, client="TENANT2"), 422, "NOT_FOUND")


def test_concurrent_cancellations_of_one_order_accept_exactly_one(tenant_api, orders, create, aws_view):
    """Ten different requests race for one order: one 201, nine INVALID_REQUEST (open cancellation), one record."""
    orders(123)
    barrier = threading.Barrier(10)
    outcomes: list = [None] * 10

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = create(f"race-{index}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            outcomes[index] = exc

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    accepted = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(accepted) == 1, outcomes
    assert all(isinstance(exc, InvalidRequest) for exc in refused), refused
    assert [item["id"] for item in aws_view.cancellation_items()] == [accepted[0].cancellationId]
    assert len(aws_view.messages()) == 1
    assert aws_view.order_item(123)["openCancellationId"] == accepted[0].cancellationId


# ---------------------------------------------------------------------------------------------- order_rules, pure


def order(**changes) -> Order:
    values = dict(id=123, tenant="TENANT1", supplier="DUMMY_SUPPLIER", orderType=OrderType.PROVIDE, status="ACKNOWLEDGED",
                  supplierStatus="ACKNOWLEDGED", supplierOrderReference="FC123", lastSequenceNumber=1, version=1)
    values.update(changes)
    return Order(**values)


def request(**changes) -> ServiceOrderCancellationRequest:
    return ServiceOrderCancellationRequest.model_validate({**EXAMPLE, **changes})


def test_rules_allow_a_cancellable_order():
    assert check_cancellable(order(), "TENANT1", request()) is None
    assert check_cancellable(order(), "TENANT1", request(supplier=None)) is None


def test_rules_not_found_for_missing_or_foreign_order_with_one_message():
    with pytest.raises(NotFound) as missing:
        check_cancellable(None, "TENANT1", request())
    with pytest.raises(NotFound) as foreign:
        check_cancellable(order(tenant="TENANT2", status="COMPLETED", supplier="FIBRECO"), "TENANT1", request())
    assert missing.value.messages == foreign.value.messages == ["Order 123 not found"]


def test_rules_not_cancellable_states_are_exactly_the_terminal_order_states():
    assert {s.value for s in NOT_CANCELLABLE_ORDER_STATES} == set(NOT_CANCELLABLE)


@pytest.mark.parametrize("status", [s.value for s in OrderStatus])
def test_rules_by_order_status(status):
    if status in NOT_CANCELLABLE:
        with pytest.raises(InvalidRequest):
            check_cancellable(order(status=status), "TENANT1", request())
    else:
        check_cancellable(order(status=status), "TENANT1", request())


@pytest.mark.parametrize("order_type", list(OrderType))
@pytest.mark.parametrize("code", ORDER_CODES + UNSOLICITED_CEASE_CODES)
def test_rules_reason_code_family_by_order_type(order_type, code):
    allowed = (code in UNSOLICITED_CEASE_CODES) == (order_type is OrderType.UNSOLICITED_CEASE)
    if allowed:
        check_cancellable(order(orderType=order_type), "TENANT1", request(reasonCode=code))
    else:
        with pytest.raises(InvalidRequest) as refused:
            check_cancellable(order(orderType=order_type), "TENANT1", request(reasonCode=code))
        assert names(refused.value.messages, "reasonCode")


def test_rules_open_cancellation_refused_even_when_the_status_looks_cancellable():
    with pytest.raises(InvalidRequest) as refused:
        check_cancellable(order(openCancellationId=77, status="ACKNOWLEDGED"), "TENANT1", request())
    assert any("77" in message for message in refused.value.messages)


def test_rules_supplier_mismatch_named_and_all_problems_listed():
    with pytest.raises(InvalidRequest) as refused:
        check_cancellable(order(status="CANCELLED", supplier="FIBRECO", orderType=OrderType.UNSOLICITED_CEASE), "TENANT1", request())
    messages = refused.value.messages
    assert len(messages) == 3
    assert names(messages, "supplier") and names(messages, "reasonCode")


# ---------------------------------------------------------------------------------------------- state machine, pure

ALLOWED = {
    (S.RECEIVED_BY_GATEWAY, S.PENDING), (S.RECEIVED_BY_GATEWAY, S.COMPLETED), (S.RECEIVED_BY_GATEWAY, S.REJECTED),
    (S.RECEIVED_BY_GATEWAY, S.FAILED_TO_SEND),
    (S.PENDING, S.COMPLETED), (S.PENDING, S.REJECTED),
    (S.FAILED_TO_SEND, S.PENDING), (S.FAILED_TO_SEND, S.COMPLETED), (S.FAILED_TO_SEND, S.REJECTED),
}
ALL_PAIRS = list(product(S, S))


@pytest.mark.parametrize("current, target", sorted(ALLOWED), ids=[f"{a.value}->{b.value}" for a, b in sorted(ALLOWED)])
def test_state_machine_allowed_transition(current, target):
    assert machine.can_transition(current, target)
    assert machine.transition(current, target) is target


FORBIDDEN = sorted(set(ALL_PAIRS) - ALLOWED)


@pytest.mark.parametrize("current, target", FORBIDDEN, ids=[f"{a.value}->{b.value}" for a, b in FORBIDDEN])
def test_state_machine_forbidden_transition(current, target):
    """Everything domain.md section 4 does not list is refused, including staying put (a no-op is not a transition)."""
    assert not machine.can_transition(current, target)
    with pytest.raises(IllegalTransition):
        machine.transition(current, target)


@pytest.mark.parametrize("terminal", [S.COMPLETED, S.REJECTED])
def test_state_machine_terminal_states_have_no_way_out(terminal):
    assert machine.TRANSITIONS[terminal] == frozenset()
    assert not any(machine.can_transition(terminal, target) for target in S)


def test_state_machine_open_and_terminal_sets():
    assert machine.TERMINAL == {S.COMPLETED, S.REJECTED}
    assert machine.OPEN == {S.RECEIVED_BY_GATEWAY, S.PENDING, S.FAILED_TO_SEND}
    assert machine.OPEN | machine.TERMINAL == set(S) and not machine.OPEN & machine.TERMINAL
    assert machine.INITIAL is S.RECEIVED_BY_GATEWAY
    assert all(machine.is_open(status) for status in machine.OPEN)
    assert not any(machine.is_open(status) for status in machine.TERMINAL)


def test_state_machine_every_state_has_an_entry_and_every_open_state_can_end():
    assert set(machine.TRANSITIONS) == set(S)
    # From every open state a terminal state is reachable.
    for start in machine.OPEN:
        seen, frontier = {start}, [start]
        while frontier:
            for target in machine.TRANSITIONS[frontier.pop()]:
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen & machine.TERMINAL == machine.TERMINAL, start
