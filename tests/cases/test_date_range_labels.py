"""Each input of a date-range filter has a label of its own (templates/includes/date_range.html).

The fieldset's legend names the range; without a label per input a screen reader
announces two bare date fields.
"""

import re

import pytest
from django.urls import reverse

from chengguan.roles import Role
from tests.factories import staff

pytestmark = pytest.mark.django_db


LABEL = re.compile(r'<label[^>]*\bfor="([^"]+)"[^>]*>([^<]*)</label>')


def labels_for(html: str) -> dict[str, str]:
    return dict(LABEL.findall(html))


@pytest.mark.parametrize(
    ("role", "path", "field"),
    [
        (Role.DISPATCHER, reverse("cases:list"), "reported_at"),
        (Role.OPERATOR, reverse("desk:hotline_pushes"), "created"),
        (Role.LIAISON, reverse("liaisons:patrol_list"), "date"),
    ],
)
def test_both_inputs_of_a_date_range_are_labelled(client, district, community, role, path, field):
    # Given a member of staff on a list with a date-range filter
    scope = community if role == Role.LIAISON else district
    client.force_login(staff(role, scope=scope))
    # When they open it
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    # Then the range's two inputs are there, each with its own label
    assert response.status_code == 200
    assert f'id="id_{field}_0"' in html and f'id="id_{field}_1"' in html
    labels = labels_for(html)
    assert labels.get(f"id_{field}_0") == "From"
    assert labels.get(f"id_{field}_1") == "Until"
