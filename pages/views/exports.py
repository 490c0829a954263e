"""Downloads beside the plain ones: the results for Excel."""

from django.http import StreamingHttpResponse

from campaigns import access
from dialer.excel import excel_filename, results_excel_chunks
from pages.views import page


@page
def campaign_export_excel(request, pk):
    """The results CSV with a byte-order mark and numbers kept as text, for Excel."""
    campaign = access.campaign_or_404(request.user, pk)
    response = StreamingHttpResponse(results_excel_chunks(campaign), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{excel_filename(campaign)}"'
    return response
