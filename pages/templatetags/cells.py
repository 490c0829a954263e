"""Table cells rendered in Python: a status badge and a call's outcome, once per row of the calls and
batches tables. As `{% include %}`s they cost more than the rest of their row (a context pushed and a
template looked up per row, 75 times on a campaign's page); the HTML is the same."""

from django import template
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def status_badge(status, label):
    """`<span class="badge badge-placed">Placed</span>`."""
    return format_html('<span class="badge badge-{}">{}</span>', status, label)


@register.simple_tag
def call_outcome(call):
    """One call's outcome in words (dialer.outcomes): what happened, the cause, talk time, keys."""
    if call.outcome == "unknown":
        if call.outcome_note:
            words = "Unknown"
        elif call.phonon_uuid or call.state == "accepted_unknown":
            words = "Waiting for the report"
        else:
            words = "–"
        html = format_html('<span class="outcome outcome-unknown">{}</span>', words)
        if call.outcome_note:
            html += format_html("<br><small>{}</small>", call.outcome_note)
        return html
    parts = [format_html('<span class="outcome outcome-{}">{}</span>', call.outcome, call.get_outcome_display())]
    if call.outcome == "answered":
        parts.append(format_html(" on {}", call.answered_number))
        if call.talk_seconds is not None:
            parts.append(format_html(", {} s", localize(call.talk_seconds)))
    if call.keys:
        parts.append(format_html("<br><small>Keys: <code>{}</code></small>", call.keys))
    if call.hangup_cause is not None:
        parts.append(format_html("<br><small>Cause {}</small>", call.hangup_words))
    return mark_safe("".join(parts))  # each part escaped by format_html
