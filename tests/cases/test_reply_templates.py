"""Reply templates (常用语) on the case desk's action forms."""

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from cases.choices import CaseStatus, ReplyPurpose
from cases.models import Category, ReplyTemplate
from cases.selectors import reply_templates_for
from tests.factories import leaf_category

pytestmark = pytest.mark.django_db


def test_the_seeded_templates_exist_in_chinese():
    assert ReplyTemplate.objects.filter(category__isnull=True, purpose=ReplyPurpose.PUBLIC).exists()
    assert ReplyTemplate.objects.filter(category__code="01", purpose=ReplyPurpose.INTERNAL).exists()


def test_a_case_gets_general_own_category_and_parent_templates_only(make_case):
    case = make_case(CaseStatus.REGISTERED, category=leaf_category("0102"))
    ReplyTemplate.objects.all().delete()
    general = ReplyTemplate.objects.create(title="通用", body="您好", purpose=ReplyPurpose.PUBLIC)
    own = ReplyTemplate.objects.create(
        title="摊贩", body="已劝离", purpose=ReplyPurpose.PUBLIC, category=leaf_category("0102")
    )
    parent = ReplyTemplate.objects.create(
        title="街面", body="加强巡查", purpose=ReplyPurpose.INTERNAL, category=Category.objects.get(code="01")
    )
    ReplyTemplate.objects.create(
        title="油烟", body="x", purpose=ReplyPurpose.PUBLIC, category=leaf_category("0401")
    )
    ReplyTemplate.objects.create(title="停用", body="x", purpose=ReplyPurpose.PUBLIC, is_active=False)

    offered = set(reply_templates_for(case))

    assert offered == {general, own, parent}


def test_the_verify_form_offers_public_replies_and_the_rework_form_internal_notes(
    client, make_case, supervisor
):
    case = make_case(CaseStatus.RESOLVED)
    ReplyTemplate.objects.all().delete()
    ReplyTemplate.objects.create(
        title="已办结答复", body="您反映的问题已处理完毕。", purpose=ReplyPurpose.PUBLIC
    )
    ReplyTemplate.objects.create(title="请重新拍照", body="请补充整改后照片。", purpose=ReplyPurpose.INTERNAL)
    client.force_login(supervisor)

    response = client.get(reverse("cases:detail", args=[case.number]))

    forms = {action.slug: form for action, form in response.context["actions"]}
    verify_choices = dict(forms["verify"].fields["reply_template"].choices)
    rework_choices = dict(forms["rework"].fields["reply_template"].choices)
    assert "已办结答复" in verify_choices.values() and "请重新拍照" not in verify_choices.values()
    assert "请重新拍照" in rework_choices.values()
    page = response.content.decode()
    assert 'data-body="您反映的问题已处理完毕。"' in page
    assert 'data-target="id_verify_note"' in page
    assert "js/reply-templates.js" in page


def test_without_javascript_insert_puts_the_text_in_the_note_and_changes_nothing(
    client, make_case, supervisor
):
    case = make_case(CaseStatus.RESOLVED)
    template = ReplyTemplate.objects.create(
        title="已办结", body="问题已处理完毕。", purpose=ReplyPurpose.PUBLIC
    )
    client.force_login(supervisor)

    response = client.post(
        reverse("desk:act", args=[case.number, "verify"]),
        {
            "expected_version": case.version,
            "note": "经现场核实，",
            "reply_template": str(template.pk),
            "insert_template": "1",
        },
    )

    assert response.status_code == 200
    forms = {action.slug: form for action, form in response.context["actions"]}
    assert forms["verify"].initial["note"] == "经现场核实，\n问题已处理完毕。"
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_an_unknown_template_inserts_nothing(client, make_case, supervisor):
    case = make_case(CaseStatus.RESOLVED)
    client.force_login(supervisor)

    response = client.post(
        reverse("desk:act", args=[case.number, "verify"]),
        {"expected_version": case.version, "note": "", "reply_template": "999999", "insert_template": "1"},
    )

    assert response.status_code == 200
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_templates_are_managed_in_the_admin(client, superuser):
    assert ReplyTemplate in site._registry
    client.force_login(superuser)

    response = client.get(reverse("admin:cases_replytemplate_changelist"))

    assert response.status_code == 200
    assert client.get(reverse("admin:cases_replytemplate_add")).status_code == 200
