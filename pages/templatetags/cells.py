"""Table cells and rows rendered in Python: a status badge and a call's outcome, and the rows of the
calls and batches tables. As `{% include %}`s they cost more than the rest of their row (a context pushed and a
template looked up per row, 75 times on a campaign's page); the HTML is the same."""

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from pages.templatetags.words import count_of, variable

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
    label = _labels(type(call), "outcome").get(call.outcome, call.outcome)
    parts = [format_html('<span class="outcome outcome-{}">{}</span>', call.outcome, label)]
    if call.outcome == "answered":
        parts.append(format_html(" on {}", call.answered_number))
        if call.talk_seconds is not None:
            parts.append(format_html(", {} s", localize(call.talk_seconds)))
    if call.keys:
        parts.append(format_html("<br><small>Keys: <code>{}</code></small>", call.keys))
    if call.hangup_cause is not None:
        parts.append(format_html("<br><small>Cause {}</small>", call.hangup_words))
    return mark_safe("".join(parts))  # each part escaped by format_html


def _text(value) -> str:
    """`{{ value }}` as a template renders it: localized, then escaped."""
    return conditional_escape(localize(value))


def _or_dash(value) -> str:
    """`{{ value|default:"–" }}`."""
    return _text(value) if value else "–"


def _labels(model, name: str) -> dict:
    """{stored value: label} of a field's choices: what `get_<name>_display` gives, without its
    normalising the choices again on every call."""
    return {value: str(label) for value, label in model._meta.get_field(name).flatchoices}


@register.simple_tag
def call_rows(calls, name_key):
    """The calls table's rows (one page of calls), each as the template wrote it: a row through the
    template language cost more than its query, 25 rows on every poll of the campaign's page."""
    rows = []
    labels = None
    for call in calls:
        labels = labels or _labels(type(call), "state")
        contact = call.contact
        first = _text(contact.primary_number)
        if len(contact.numbers) > 1:
            others = count_of(len(contact.numbers) - 1, "alternate number,alternate numbers")
            first += f"<br><small>{_text(others)}</small>"
        if call.attempt > 1:
            first += f'<br><small class="attempt">redial, attempt {_text(call.attempt)}</small>'
        request_id = call.batch.request_id if call.batch else None  # a call not yet in a batch: none
        name = (f'<td class="contact-name">{_or_dash(variable(contact.variables, name_key))}</td>' if name_key else "")
        answer = (f"{_text(call.provider_code)} " if call.provider_code else "") + _text(call.provider_message)
        rows.append(
            f'\n      <tr>\n        <td class="nowrap">{first}</td>\n        {name}\n'
            f"        <td>{status_badge(call.state, labels.get(call.state, call.state))}</td>\n"
            f"        <td>{answer}</td>\n"
            f"        <td>{call_outcome(call)}</td>\n"
            f'        <td><code class="id phonon-uuid">{_or_dash(call.phonon_uuid)}</code></td>\n'
            f'        <td><code class="id">{_text(call.client_identifier)}</code></td>\n'
            f'        <td><code class="id">{_or_dash(request_id)}</code></td>\n      </tr>\n    '
        )
    return mark_safe("".join(rows))  # each value escaped by _text, status_badge and call_outcome


@register.simple_tag
def batch_rows(rows):
    """The batches table's rows: (batch, the provider's answer in words) a row, as the template wrote them."""
    html = []
    labels = None
    for batch, answer in rows:
        labels = labels or _labels(type(batch), "status")
        first = _text(batch.sequence)
        if batch.parent:
            first += f"<br><small>half of #{_text(batch.parent.sequence)}</small>"
        last = _text(answer) if answer else ""
        if batch.response_message and not batch.response_code:
            last += _text(batch.response_message)
        elif batch.status == "failed":
            last += f"<br><small>{_text(batch.response_message)}</small>"
        html.append(
            f'\n      <tr>\n        <td class="num">{first}</td>\n'
            f"        <td>{status_badge(batch.status, labels.get(batch.status, batch.status))}</td>\n"
            f'        <td class="num">{_text(batch.call_count)}</td>\n'
            f'        <td class="num">{_text(batch.attempts)}</td>\n'
            f'        <td><code class="id">{_or_dash(batch.request_id)}</code></td>\n'
            f"        <td>{last}</td>\n      </tr>\n    "
        )
    return mark_safe("".join(html))  # each value escaped by _text and status_badge
