# The latest done return visit on the case itself (Case.last_visit_*), so the
# indicators count visited and satisfied cases in their one pass over the
# cases (cases.indicators); filled here from the visits recorded so far.

from django.db import migrations, models

# The done visit of each case's highest round. One statement, portable
# (PostgreSQL, SQLite ≥ 3.33): UPDATE … FROM a grouped join.
BACKFILL = """
UPDATE cases_case
SET last_visit_round = last.round,
    last_visit_satisfaction = last.satisfaction,
    last_visit_at = last.visited_at
FROM (
    SELECT v.case_id, v.round, v.satisfaction, v.visited_at
    FROM cases_returnvisit AS v
    JOIN (
        SELECT case_id, MAX(round) AS round
        FROM cases_returnvisit
        WHERE status = 'done'
        GROUP BY case_id
    ) AS m ON m.case_id = v.case_id AND m.round = v.round
    WHERE v.status = 'done'
) AS last
WHERE cases_case.id = last.case_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0020_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="last_visit_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="last return visit at"
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="last_visit_round",
            field=models.PositiveSmallIntegerField(
                blank=True, editable=False, null=True, verbose_name="closure round of the last return visit"
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="last_visit_satisfaction",
            field=models.CharField(
                blank=True,
                choices=[
                    ("satisfied", "Satisfied"),
                    ("basically", "Basically satisfied"),
                    ("unsatisfied", "Unsatisfied"),
                ],
                db_default="",
                default="",
                editable=False,
                max_length=16,
                verbose_name="satisfaction at the last return visit",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
