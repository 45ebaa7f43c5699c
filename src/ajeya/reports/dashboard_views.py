"""The dashboard: today's panels for the signed-in person's role, each read by
dashboards.py and drawn by dashboard_charts.py. A role with no panel is told so."""

from __future__ import annotations

from django.shortcuts import render

from ajeya.core import clock
from ajeya.core.roles import login_required
from ajeya.reports import dashboard_charts, dashboards


@login_required
def dashboard(request):
    today = clock.today()
    panels = []
    for panel in dashboards.panels_for(request.user):
        data = panel.read(today)
        draw = dashboard_charts.CHARTS.get(panel.key)
        charts = [svg for svg in draw(data) if svg] if draw else []
        panels.append({"panel": panel, "data": data, "charts": charts})
    return render(request, "reports/dashboard.html", {"today": today, "panels": panels})
