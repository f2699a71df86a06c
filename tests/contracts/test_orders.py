"""The order state machine: legal moves, stale events, and out-of-order delivery."""

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest
from pydantic import ValidationError

from contracts import (
    ALLOWED_TRANSITIONS,
    EXAMPLE_REQUESTS,
    TERMINAL_STATUSES,
    IllegalTransition,
    Operation,
    Order,
    OrderStatus,
    RoutingDecision,
    ServiceCategory,
    SkippedPartner,
    SkipReason,
    TransitionDecision,
    can_transition,
    decide_transition,
    new_order_id,
    progress_rank,
)

S = OrderStatus
T0 = datetime(2030, 5, 20, 1, 0, tzinfo=UTC)


def order(status: OrderStatus = S.REQUESTED) -> Order:
    return Order(
        id=new_order_id(),
        category=ServiceCategory.RENTAL,
        operation=Operation.COURTESY_CAR_BOOK,
        partner_id="swiftrent",
        status=status,
        created_at=T0,
        updated_at=T0,
        customer_id="cus-0000482913",
        request=EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK],
        routing=RoutingDecision(
            chosen="swiftrent",
            skipped=(SkippedPartner(partner_id="citycar", reason=SkipReason.VOLUME_CAP_REACHED),),
        ),
    )


def replay(statuses: tuple[OrderStatus, ...]) -> OrderStatus:
    current = S.DISPATCHED
    for target in statuses:
        if decide_transition(current, target) is TransitionDecision.APPLY:
            current = target
    return current


class TestTable:
    @pytest.mark.parametrize(
        ("current", "target"),
        [
            (S.REQUESTED, S.DISPATCHED),
            (S.DISPATCHED, S.ACCEPTED),
            (S.ACCEPTED, S.IN_PROGRESS),
            (S.IN_PROGRESS, S.DELIVERED),
            (S.DELIVERED, S.COMPLETED),
            (S.COMPLETED, S.CANCELLED),
            (S.DISPATCHED, S.REJECTED),
            (S.ACCEPTED, S.DELIVERED),
        ],
    )
    def test_legal(self, current: OrderStatus, target: OrderStatus) -> None:
        assert can_transition(current, target)

    @pytest.mark.parametrize(
        ("current", "target"),
        [
            (S.ACCEPTED, S.REJECTED),
            (S.DELIVERED, S.FAILED),
            (S.CANCELLED, S.COMPLETED),
            (S.REJECTED, S.ACCEPTED),
            (S.COMPLETED, S.IN_PROGRESS),
        ],
    )
    def test_illegal(self, current: OrderStatus, target: OrderStatus) -> None:
        assert not can_transition(current, target)

    def test_terminal_statuses(self) -> None:
        assert {S.REJECTED, S.FAILED, S.CANCELLED} == TERMINAL_STATUSES

    def test_every_move_goes_forward_in_rank(self) -> None:
        for current, targets in ALLOWED_TRANSITIONS.items():
            for target in targets:
                assert progress_rank(target) > progress_rank(current), (current, target)

    def test_table_is_closed_under_composition(self) -> None:
        # What makes a consistent history converge whatever order it arrives in.
        for a, nexts in ALLOWED_TRANSITIONS.items():
            for b in nexts:
                assert ALLOWED_TRANSITIONS[b] <= nexts, (a, b)


class TestDecide:
    def test_forward_applies(self) -> None:
        assert decide_transition(S.ACCEPTED, S.DELIVERED) is TransitionDecision.APPLY

    def test_same_status_is_a_duplicate(self) -> None:
        assert decide_transition(S.DELIVERED, S.DELIVERED) is TransitionDecision.DUPLICATE

    def test_less_advanced_is_stale(self) -> None:
        assert decide_transition(S.DELIVERED, S.IN_PROGRESS) is TransitionDecision.STALE

    def test_late_event_after_terminal_is_stale(self) -> None:
        assert decide_transition(S.CANCELLED, S.DELIVERED) is TransitionDecision.STALE

    def test_illegal_names_both_states(self) -> None:
        with pytest.raises(IllegalTransition, match="from accepted to rejected") as caught:
            decide_transition(S.ACCEPTED, S.REJECTED)
        assert caught.value.current is S.ACCEPTED
        assert caught.value.target is S.REJECTED

    @pytest.mark.parametrize(
        "history",
        [
            (S.ACCEPTED, S.IN_PROGRESS, S.DELIVERED, S.COMPLETED),
            (S.ACCEPTED, S.IN_PROGRESS, S.DELIVERED, S.COMPLETED, S.CANCELLED),
            (S.ACCEPTED, S.IN_PROGRESS, S.FAILED),
        ],
    )
    def test_any_delivery_order_reaches_the_same_status(
        self, history: tuple[OrderStatus, ...]
    ) -> None:
        outcomes = {replay(p) for p in permutations(history)}
        assert outcomes == {history[-1]}


class TestOrder:
    def test_advance_moves_forward_and_touches_updated_at(self) -> None:
        later = T0 + timedelta(minutes=20)
        moved = order(S.ACCEPTED).advance(S.DELIVERED, later)
        assert moved.status is S.DELIVERED
        assert moved.updated_at == later

    def test_advance_ignores_stale_events(self) -> None:
        current = order(S.DELIVERED)
        assert current.advance(S.IN_PROGRESS, T0 + timedelta(hours=1)) is current

    def test_advance_refuses_illegal(self) -> None:
        with pytest.raises(IllegalTransition):
            order(S.ACCEPTED).advance(S.REJECTED, T0)

    def test_request_must_match_operation(self) -> None:
        raw = order().model_dump()
        raw["operation"] = Operation.INSURANCE_QUOTE
        raw["category"] = ServiceCategory.INSURANCE
        with pytest.raises(ValidationError, match=r"request is for courtesy_car\.book"):
            Order.model_validate(raw)

    def test_category_must_match_operation(self) -> None:
        raw = order().model_dump()
        raw["category"] = ServiceCategory.CHARGING
        with pytest.raises(ValidationError, match="not in category charging"):
            Order.model_validate(raw)

    def test_routing_must_name_the_partner(self) -> None:
        raw = order().model_dump()
        raw["partner_id"] = "citycar"
        with pytest.raises(ValidationError, match=r"routing\.chosen"):
            Order.model_validate(raw)

    def test_round_trips_through_json(self) -> None:
        original = order(S.IN_PROGRESS)
        assert Order.model_validate_json(original.model_dump_json()) == original

    def test_order_id_shape(self) -> None:
        with pytest.raises(ValidationError):
            Order.model_validate({**order().model_dump(), "id": "12345"})
