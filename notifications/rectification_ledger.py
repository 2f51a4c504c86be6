"""The ledger page (整改台账) of the office dashboard: `/rectification-ledger/`, the same rows, filters and
figures as `GET /api/v1/rectification-ledger/` (cases.rectification.selectors), through the same access rule,
with the lowest-band repeats (组织处理建议) of the chosen round and the publication duty."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from cases import access
from cases import models as m
from cases.rectification import selectors as s

PAGE_SIZE = 50


class LedgerForm(forms.Form):
    round = forms.IntegerField(required=False, min_value=1)
    unit = forms.IntegerField(required=False, min_value=1)
    group = forms.IntegerField(required=False, min_value=1)
    status = forms.ChoiceField(required=False, choices=[("", "")] + list(m.RectificationStatus.choices))
    overdue = forms.NullBooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1)


@login_required
def ledger_page(request):
    form = LedgerForm(request.GET)
    v = form.cleaned_data if form.is_valid() else {}
    filters = s.LedgerFilters(round=v.get("round"), unit=v.get("unit"), group=v.get("group"),
                              status=v.get("status") or None, overdue=v.get("overdue"))
    on = s.today()
    visible = access.restrict(m.Rectification.objects.all(), request.user)
    qs = s.filtered(visible, filters, on=on)
    key = s.ledger_key(scope=access.scope_key(request.user), filters=filters, on=on)
    figures, by_round = s.ledger_figures(qs, key=key, on=on)
    paginator = Paginator(range(figures.open + figures.closed), PAGE_SIZE)
    page = paginator.get_page(v.get("page") or 1)
    start = (page.number - 1) * PAGE_SIZE
    rows = s.ledger_page(qs, offset=start, limit=PAGE_SIZE, on=on)
    chosen = access.visible(m.Round, request.user).filter(pk=filters.round).first() if filters.round else None
    sees_all = access.sees_everything(request.user)
    return render(request, "rectification/ledger.html", {
        "form": form, "filters": filters, "rows": rows, "figures": figures, "page": page,
        "by_round": by_round if filters.round is None else [],
        "rounds": access.visible(m.Round, request.user).order_by("-year", "-created"),
        "statuses": m.RectificationStatus.choices, "chosen": chosen,
        "repeats": s.lowest_band_repeats(chosen) if chosen and sees_all else [],
        "publication": s.publication_duty(qs, on=on) if sees_all else None,
        "sees_all": sees_all, "query": request.GET.urlencode(),
    })
