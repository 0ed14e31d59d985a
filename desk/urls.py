from django.contrib.auth.views import LogoutView
from django.urls import path

from desk import api, views

urlpatterns = [
    path("login", views.DeskLogin.as_view(), name="login"),
    path("logout", LogoutView.as_view(), name="logout"),
    path("report.css", views.report_css, name="report_css"),
    path("", views.worklist, name="worklist"),
    path("findings/<str:exception_id>", views.finding_page, name="finding"),
    path("findings/<str:exception_id>/decide", views.decide, name="decide"),
    path("findings/<str:exception_id>/assign", views.assign, name="assign"),
    path("overview", views.overview, name="overview"),
    path("tuning", views.tuning, name="tuning"),
    path("api/token", api.TokenView.as_view()),
    path("api/findings", api.FindingsView.as_view()),
    path("api/findings/<str:exception_id>", api.FindingView.as_view()),
    path("api/findings/<str:exception_id>/decisions", api.DecisionsView.as_view()),
]
