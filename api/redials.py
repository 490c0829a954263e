"""Redial rules and keys in words in the API (campaigns.redial_rules, campaigns.key_labels): the launch
takes them, a campaign shows them with what waits, a call shows its attempt."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.key_labels import key_labels_text, parse_key_labels
from campaigns.redial_rules import MAX_ATTEMPTS, REDIALABLE, campaign_rules, duration_text, redial_rules
from dialer.redials.waiting import redials_waiting


class RedialRulesInSerializer(serializers.Serializer):
    outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=[outcome.value for outcome in REDIALABLE]),
        required=False,
        help_text="Outcomes called again; busy and no_answer by default.",
    )
    # Whole numbers of one unit, each bounded so that a match is always within 1 second to 30 days: the
    # schema then states exactly what the rules accept.
    after = serializers.RegexField(
        r"^(?:[1-9][0-9]{0,5}s?|[1-9][0-9]{0,3}m|(?:[1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)h|(?:[1-9]|[12][0-9]|30)d)$",
        required=False,
        help_text="How long after the call: 90s, 30m, 2h, 1d (2h); 1 second to 30 days.",
        error_messages={"invalid": "Write how long after the call as 90s, 30m, 2h or 1d (1 second to 30 days)."},
    )
    max_attempts = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ATTEMPTS, help_text="Calls per contact in all (3)."
    )

    def validate(self, data):
        try:
            data["rules"] = redial_rules(
                outcomes=data.get("outcomes"), after=data.get("after"), max_attempts=data.get("max_attempts")
            )
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error
        return data


def validated_key_labels(value: str) -> str:
    try:
        return key_labels_text(parse_key_labels(value))
    except ValueError as error:
        raise serializers.ValidationError(str(error)) from error


class RedialsOutSerializer(serializers.Serializer):
    outcomes = serializers.ListField(child=serializers.CharField())
    after = serializers.CharField()
    after_seconds = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    in_words = serializers.CharField()
    waiting = serializers.IntegerField(help_text="Contacts whose next attempt is due now or later.")
    next_at = serializers.DateTimeField(allow_null=True, help_text="When the next redials may go.")
    awaiting_outcome = serializers.IntegerField(help_text="Calls sent whose outcome may still ask for a redial.")


@extend_schema_field(RedialsOutSerializer(allow_null=True))
class RedialsField(serializers.Field):
    """A campaign's rules and what waits; null without rules."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, campaign):
        rules = campaign_rules(campaign)
        if not rules.active:
            return None
        waiting = redials_waiting(campaign)
        return {
            "outcomes": list(rules.outcomes),
            "after": duration_text(rules.after_seconds),
            "after_seconds": rules.after_seconds,
            "max_attempts": rules.max_attempts,
            "in_words": rules.words(),
            "waiting": waiting.redials,
            "next_at": serializers.DateTimeField().to_representation(waiting.next_at) if waiting.next_at else None,
            "awaiting_outcome": waiting.awaiting_outcome,
        }
