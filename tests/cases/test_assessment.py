"""The monthly assessment (月度考核): ranking, weights, exports, and the two-way rating input.

Figures come from the hand-computed November of test_indicators: U1 scores
58.33 (C10, a false report, left out) and U2 100 (its one case due, C7,
closed on time without rework; no visit, so satisfaction is left out and
the score is scaled to the other 90 points).
"""

import csv
import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from cases.assessment import communities_to_rate, rating_months, two_way_rating_submit
from cases.dashboard import Assessment
from cases.models import AssessmentWeights, Case, TwoWayRating
from chengguan.clock import frozen_at
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.cases.test_indicators import NOW
from tests.factories import staff

ASSESSMENT = reverse("dashboard:assessment")
RATE = reverse("dashboard:rate")
NOVEMBER = date(2026, 11, 1)


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    person = staff(Role.LIAISON, username="lianluoyuan")
    liaison_assign(community=community, liaison=person)
    return person


@pytest.fixture
def community_staff(community):  # type: ignore[no-untyped-def]
    return staff(Role.COMMUNITY_STAFF, scope=community)


# --- ranking ------------------------------------------------------------------------


def test_units_are_ranked_by_the_composite_score(month, supervisor):
    with frozen_at(NOW):
        report = Assessment(supervisor, NOVEMBER)
        units = {row.key: row for row in report.units}

    u1, u2 = units[month["u1"].pk], units[month["u2"].pk]
    assert u1.score == pytest.approx(58.33, abs=0.005)
    assert u2.score == pytest.approx(100.0)
    assert (u2.rank, u1.rank) == (1, 2)
    assert u1.figures["false_reports"] == 1
    # October: nothing of U1 was due (and C7, reported in October, closed in November).
    assert u1.previous_score is None and u1.change is None


def test_a_unit_without_cases_is_listed_without_a_rank(month, supervisor, unit):
    with frozen_at(NOW):
        rows = Assessment(supervisor, NOVEMBER).units

    idle = next(row for row in rows if row.key == unit.pk)
    assert (idle.score, idle.rank) == (None, None)
    assert rows[-1] is idle


def test_the_month_over_month_change(month, supervisor):
    with frozen_at(NOW):
        december = Assessment(supervisor, date(2026, 12, 1))
        u1 = next(row for row in december.units if row.key == month["u1"].pk)

    # December: C4 (U1) is still open past its deadline, nothing of U1 due → no score.
    assert u1.previous_score == pytest.approx(58.33, abs=0.005)
    assert u1.score is None


def test_weights_are_configurable_and_add_up_to_100(month, supervisor):
    weights = AssessmentWeights(on_time_rate=100, closure_rate=0, rework_rate=0, satisfaction_rate=0)
    weights.full_clean()
    weights.save()

    with frozen_at(NOW):
        u1 = next(row for row in Assessment(supervisor, NOVEMBER).units if row.key == month["u1"].pk)

    assert u1.score == pytest.approx(50.0)  # on time 2 of 4
    assert AssessmentWeights.objects.count() == 1
    with pytest.raises(ValidationError):
        AssessmentWeights(on_time_rate=60, closure_rate=20, rework_rate=10, satisfaction_rate=20).full_clean()


def test_the_default_weights_are_60_20_10_10(db):
    assert AssessmentWeights.current().as_dict() == {
        "on_time_rate": 60,
        "closure_rate": 20,
        "rework_rate": 10,
        "satisfaction_rate": 10,
        "patrol_rate": 0,
        "community_rating": 0,
    }


def test_the_assessment_page(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(ASSESSMENT + "?month=2026-11")

    assert response.status_code == 200
    page = response.content.decode()
    assert month["u1"].name in page and "58.33" in page
    # Every figure links to its cases, false reports left out.
    assert "indicator=closed_on_time" in page and "false_report=false" in page
    assert response.context["report"].first == NOVEMBER


def test_the_assessment_defaults_to_last_month(client, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):  # 2026-12-01
        response = client.get(ASSESSMENT)

    assert response.context["report"].first == NOVEMBER


def test_the_xlsx_export_opens_with_the_ranking(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(
            reverse("dashboard:assessment_export", args=["xlsx"]) + "?month=2026-11",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="assessment-2026-11.xlsx"'
    book = load_workbook(io.BytesIO(response.content))
    units = book.worksheets[0]
    rows = list(units.iter_rows(values_only=True))
    assert rows[1][:3] == ("Rank", "Handling unit", "Composite score")
    ranked = [row for row in rows[2:] if row[0] is not None]
    assert [(row[0], row[1], row[2]) for row in ranked] == [
        (1, month["u2"].name, 100.0),
        (2, month["u1"].name, 58.33),
    ]
    assert len(book.worksheets) == 4  # units, liaisons, two-way ratings, weights


def test_the_csv_export(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(
            reverse("dashboard:assessment_export", args=["csv"]) + "?month=2026-11", HTTP_ACCEPT_LANGUAGE="en"
        )

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Kind", "Rank", "Unit or liaison", "Composite score"]
    assert len({len(row) for row in rows}) == 1
    assert [row[2] for row in rows[1:3]] == [month["u2"].name, month["u1"].name]


def test_exported_names_never_run_as_formulas(client, month, supervisor):
    month["u1"].name = '=HYPERLINK("http://evil.example")'
    month["u1"].save()
    client.force_login(supervisor)

    with frozen_at(NOW):
        xlsx = client.get(reverse("dashboard:assessment_export", args=["xlsx"]) + "?month=2026-11")
        text = client.get(reverse("dashboard:assessment_export", args=["csv"]) + "?month=2026-11")

    names = [
        row[1] for row in load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows(values_only=True)
    ]
    assert '\'=HYPERLINK("http://evil.example")' in names
    assert "\"'=HYPERLINK" in text.content.decode("utf-8-sig")


def test_an_unknown_export_format_is_not_found(client, supervisor):
    client.force_login(supervisor)

    assert client.get(reverse("dashboard:assessment_export", args=["pdf"])).status_code == 404


def test_the_page_prints(client, month, supervisor):
    client.force_login(supervisor)

    response = client.get(ASSESSMENT)

    assert b"data-print" in response.content
    assert b"css/dashboard.css" in response.content


# --- two-way rating ----------------------------------------------------------------------


def test_community_staff_rate_their_liaison_once_a_month(community, community_staff, liaison):
    rating = two_way_rating_submit(
        actor=community_staff,
        community=community,
        direction=TwoWayRating.Direction.OF_LIAISON,
        month=rating_months()[0],
        score=4,
        comment="巡查及时",
    )

    assert (rating.liaison, rating.rater, rating.score) == (liaison, community_staff, 4)
    entry = AuditEntry.objects.get(action="two_way_rating.submit")
    assert entry.actor == community_staff and entry.data["score"] == 4
    colleague = staff(Role.COMMUNITY_STAFF, scope=community)
    with pytest.raises(InvalidInput) as error:
        two_way_rating_submit(
            actor=colleague,
            community=community,
            direction=TwoWayRating.Direction.OF_LIAISON,
            month=rating_months()[0],
            score=2,
        )
    assert error.value.code == "assessment.already_rated"
    assert TwoWayRating.objects.count() == 1


def test_the_liaison_rates_the_communitys_cooperation(community, liaison, community_staff):
    for direction, actor in [
        (TwoWayRating.Direction.OF_COMMUNITY, liaison),
        (TwoWayRating.Direction.OF_LIAISON, community_staff),
    ]:
        two_way_rating_submit(
            actor=actor, community=community, direction=direction, month=rating_months()[1], score=5
        )

    assert TwoWayRating.objects.filter(month=rating_months()[1]).count() == 2


@pytest.mark.parametrize(
    "who,direction",
    [
        ("liaison", TwoWayRating.Direction.OF_LIAISON),  # a liaison does not rate liaisons
        ("community_staff", TwoWayRating.Direction.OF_COMMUNITY),
        ("other_staff", TwoWayRating.Direction.OF_LIAISON),  # works in another community
        ("supervisor", TwoWayRating.Direction.OF_LIAISON),
    ],
)
def test_only_the_right_people_rate(
    community, other_community, liaison, community_staff, supervisor, who, direction
):
    actors = {
        "liaison": liaison,
        "community_staff": community_staff,
        "other_staff": staff(Role.COMMUNITY_STAFF, scope=other_community),
        "supervisor": supervisor,
    }

    with pytest.raises(ActionNotPermitted):
        two_way_rating_submit(
            actor=actors[who], community=community, direction=direction, month=rating_months()[0], score=3
        )
    assert not TwoWayRating.objects.exists()


def test_a_liaison_rates_only_the_community_they_serve(other_community, liaison):
    assert list(communities_to_rate(liaison, TwoWayRating.Direction.OF_COMMUNITY)) != [other_community]
    with pytest.raises(ActionNotPermitted):
        two_way_rating_submit(
            actor=liaison,
            community=other_community,
            direction=TwoWayRating.Direction.OF_COMMUNITY,
            month=rating_months()[0],
            score=3,
        )


def test_old_months_and_bad_scores_are_refused(community, community_staff, liaison):
    with pytest.raises(InvalidInput) as error:
        two_way_rating_submit(
            actor=community_staff,
            community=community,
            direction=TwoWayRating.Direction.OF_LIAISON,
            month=date(2020, 1, 1),
            score=3,
        )
    assert error.value.code == "assessment.month_closed"
    with pytest.raises(InvalidInput):
        two_way_rating_submit(
            actor=community_staff,
            community=community,
            direction=TwoWayRating.Direction.OF_LIAISON,
            month=rating_months()[0],
            score=6,
        )


def test_no_liaison_no_rating(community, community_staff):
    assert not communities_to_rate(community_staff, TwoWayRating.Direction.OF_LIAISON).exists()


def test_the_rating_page(client, community, community_staff, liaison):
    client.force_login(community_staff)
    prefix = TwoWayRating.Direction.OF_LIAISON.value
    data = {
        "direction": prefix,
        f"{prefix}-month": rating_months()[0].isoformat(),
        f"{prefix}-community": community.pk,
        f"{prefix}-score": 5,
        f"{prefix}-comment": "很负责",
    }

    assert client.get(RATE).status_code == 200
    response = client.post(RATE, data)
    again = client.post(RATE, data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert TwoWayRating.objects.get().comment == "很负责"
    assert again.status_code == 400
    assert "already been rated" in again.content.decode()


def test_the_rating_page_is_for_raters_only(client, supervisor):
    client.force_login(supervisor)

    assert client.get(RATE).status_code == 403


def test_the_assessment_shows_the_ratings(client, month, supervisor, community, community_staff, liaison):
    with frozen_at(NOW):
        two_way_rating_submit(
            actor=community_staff,
            community=community,
            direction=TwoWayRating.Direction.OF_LIAISON,
            month=NOVEMBER,
            score=4,
        )
        two_way_rating_submit(
            actor=liaison,
            community=community,
            direction=TwoWayRating.Direction.OF_COMMUNITY,
            month=NOVEMBER,
            score=3,
        )
        Case.objects.filter(pk=month["cases"]["C8"].pk).update(assignee=liaison)
        report = Assessment(supervisor, NOVEMBER)
        row = next(row for row in report.liaisons if row.key == liaison.pk)

    assert row.extra["rating"] == 4
    assert report.cooperation_average == 3
    assert [r["community"] for r in report.two_way] == [community]
    # With a weight for the community's rating, it counts in the liaison's score.
    AssessmentWeights(
        on_time_rate=50, closure_rate=20, rework_rate=10, satisfaction_rate=10, community_rating=10
    ).save()
    with frozen_at(NOW):
        row = next(r for r in Assessment(supervisor, NOVEMBER).liaisons if r.key == liaison.pk)
    assert row.figures["community_rating"] == pytest.approx(0.8)
