"""The one table of workflow verbs (cases.verbs) that the desk and the API both read."""

from cases.actions import ACTIONS
from cases.api.verbs import VERBS as API_VERBS
from cases.choices import PARKING_STATUSES, TRANSITION_ACTIONS, CaseAction
from cases.scopes import CASE_PERMISSIONS
from cases.verbs import VERBS


def test_every_move_of_the_workflow_is_a_verbs():
    moves = {move for verb in VERBS.values() for move in verb.moves}

    # Parking is asked for and decided (request-park, decide-parking); the
    # approval makes the `park` move.
    assert moves == TRANSITION_ACTIONS - {CaseAction.PARK}


def test_every_gate_is_a_permission_action_of_cases():
    for verb in VERBS.values():
        statuses = PARKING_STATUSES if callable(verb.gate) else [""]
        for status in statuses:
            assert verb.gate_for(status) in CASE_PERMISSIONS, verb.name


def test_the_desk_and_the_api_offer_rows_of_the_table():
    desk = {action.verb.name for action in ACTIONS.values()}
    api = {verb.path for verb in API_VERBS}

    assert all(VERBS[action.verb.name] is action.verb for action in ACTIONS.values())
    assert api == set(VERBS)
    # The intake desk (cases.views.intake) offers these on its own pages.
    assert set(VERBS) - desk == {"register", "reject", "merge", "close-on-spot"}
