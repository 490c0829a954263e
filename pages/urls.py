"""The pages' URLs."""

from django.urls import path

from pages.views import attention, campaigns, dashboard, donotcall, exports, flows, lists

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("attention/lists/<int:pk>/dismiss/", attention.dismiss_list, name="attention_dismiss_list"),
    path("attention/campaigns/<int:pk>/dismiss/", attention.dismiss_campaign, name="attention_dismiss_campaign"),
    # Flows
    path("flows/", flows.flow_list, name="flow_list"),
    path("flows/<int:pk>/", flows.flow_detail, name="flow_detail"),
    path("flows/<int:pk>/activation-requested/", flows.flow_mark, {"step": "requested"},
         name="flow_mark_requested"),
    path("flows/<int:pk>/activated/", flows.flow_mark, {"step": "activated"}, name="flow_mark_activated"),
    path("flows/<int:pk>/test-call/", flows.flow_test_call, name="flow_test_call"),
    path("flows/<int:pk>/report-url/rotate/", flows.flow_rotate_report_url, name="flow_rotate_report_url"),
    path("flows/<int:pk>/template.csv", flows.flow_template_csv, name="flow_template_csv"),
    # Call lists
    path("lists/", lists.list_index, name="list_index"),
    path("lists/upload/", lists.list_upload, name="list_upload"),
    path("lists/preview/", lists.list_preview, name="list_preview"),
    path("lists/<int:pk>/", lists.list_detail, name="list_detail"),
    path("lists/<int:pk>/progress/", lists.list_progress, name="list_progress"),
    path("lists/<int:pk>/rejected.csv", lists.list_rejected_csv, name="list_rejected_csv"),
    path("lists/<int:pk>/launch/", lists.list_launch, name="list_launch"),
    path("lists/<int:pk>/archive/", lists.list_archive, name="list_archive"),
    # Campaigns
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/live/", campaigns.campaign_live, name="campaign_live"),
    path("campaigns/<int:pk>/batches/", campaigns.campaign_batches, name="campaign_batches"),
    path("campaigns/<int:pk>/calls/", campaigns.campaign_calls, name="campaign_calls"),
    path("campaigns/<int:pk>/pause/", campaigns.campaign_pause, name="campaign_pause"),
    path("campaigns/<int:pk>/resume/", campaigns.campaign_resume, name="campaign_resume"),
    path("campaigns/<int:pk>/priority/", campaigns.campaign_priority, name="campaign_priority"),
    path("campaigns/<int:pk>/cancel/", campaigns.campaign_cancel, name="campaign_cancel"),
    path("campaigns/<int:pk>/export.csv", campaigns.campaign_export, name="campaign_export"),
    path("campaigns/<int:pk>/export-excel.csv", exports.campaign_export_excel, name="campaign_export_excel"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/duplicate/", campaigns.campaign_duplicate, name="campaign_duplicate"),
    path("campaigns/<int:pk>/retry/", campaigns.campaign_retry, name="campaign_retry"),
    path("campaigns/<int:pk>/answers/", campaigns.campaign_answer_list, name="campaign_answer_list"),
    # Do not call
    path("do-not-call/", donotcall.dnc_index, name="dnc_index"),
    path("do-not-call/<int:account_pk>/", donotcall.dnc_account, name="dnc_account"),
    path("do-not-call/<int:account_pk>/add/", donotcall.dnc_add, name="dnc_add"),
    path("do-not-call/<int:account_pk>/remove/", donotcall.dnc_remove, name="dnc_remove"),
    path("do-not-call/<int:account_pk>/upload/", donotcall.dnc_upload, name="dnc_upload"),
    path("do-not-call/<int:account_pk>/uploads/", donotcall.dnc_uploads, name="dnc_uploads"),
    path("do-not-call/<int:account_pk>/export.csv", donotcall.dnc_export, name="dnc_export"),
]
