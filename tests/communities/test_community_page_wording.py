"""The public community page explains 按期结案率 as the indicator computes it: closed on time ÷ due."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_closed_on_time_is_explained_as_a_share_of_the_cases_due(client, community):
    response = client.get(reverse("communities:detail", args=[community.code]), HTTP_ACCEPT_LANGUAGE="en")

    page = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "of the cases due for closure in the period" in page
    assert "the share closed by their deadline" in page
    assert "cases closed in the period whose work was finished by the deadline" not in page
