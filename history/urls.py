from django.urls import path

from history import api, api_moderation, api_questions

urlpatterns = [
    path("rooms/<str:code>/enter", api.EnterView.as_view(), name="room-enter"),
    path("rooms/<str:code>/leave", api.LeaveView.as_view(), name="room-leave"),
    path("rooms/<str:code>/messages", api.MessagesView.as_view(), name="room-messages"),
    path(
        "rooms/<str:code>/messages/info", api.MessagesInfoView.as_view(), name="room-messages-info"
    ),
    path(
        "rooms/<str:code>/messages/search",
        api.MessagesSearchView.as_view(),
        name="room-messages-search",
    ),
    path(
        "rooms/<str:code>/messages/<int:seq>", api.MessageDetailView.as_view(), name="room-message"
    ),
    path(
        "rooms/<str:code>/messages/<int:seq>/hide",
        api_moderation.HideView.as_view(),
        name="room-message-hide",
    ),
    path(
        "rooms/<str:code>/messages/<int:seq>/unhide",
        api_moderation.UnhideView.as_view(),
        name="room-message-unhide",
    ),
    path(
        "rooms/<str:code>/messages/<int:seq>/report",
        api_moderation.ReportView.as_view(),
        name="room-message-report",
    ),
    path("rooms/<str:code>/reports", api_moderation.QueueView.as_view(), name="room-reports"),
    path(
        "rooms/<str:code>/messages/<int:seq>/promote",
        api_questions.PromoteView.as_view(),
        name="room-message-promote",
    ),
    path(
        "rooms/<str:code>/questions", api_questions.QuestionsView.as_view(), name="room-questions"
    ),
    path(
        "rooms/<str:code>/questions/<str:question_id>/vote",
        api_questions.VoteView.as_view(),
        name="room-question-vote",
    ),
    path(
        "rooms/<str:code>/questions/<str:question_id>/answered",
        api_questions.AnsweredView.as_view(),
        name="room-question-answered",
    ),
    path(
        "rooms/<str:code>/questions/<str:question_id>/hide",
        api_questions.HideQuestionView.as_view(),
        name="room-question-hide",
    ),
    path(
        "rooms/<str:code>/questions/<str:question_id>/reopen",
        api_questions.ReopenQuestionView.as_view(),
        name="room-question-reopen",
    ),
]
