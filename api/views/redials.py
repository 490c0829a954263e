"""What people pressed over the API (dialer.redials.survey): per question, in the manager's words."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from api.views.base import AccountView
from dialer.redials.survey import survey_results


class AnswerSerializer(serializers.Serializer):
    key = serializers.CharField()
    words = serializers.CharField(help_text="The manager's words for the key (key_labels), or empty.")
    contacts = serializers.IntegerField()
    percent = serializers.IntegerField(help_text="Of the question's answers, rounded.")


class QuestionSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="Question N is the N-th key a person pressed.")
    answered = serializers.IntegerField()
    answers = AnswerSerializer(many=True)


class SurveySerializer(serializers.Serializer):
    pressed = serializers.IntegerField(help_text="Contacts who pressed any key.")
    labels = serializers.DictField(child=serializers.CharField())
    questions = QuestionSerializer(many=True)


class CampaignSurvey(AccountView):
    serializer_class = SurveySerializer

    @extend_schema(responses={200: SurveySerializer})
    def get(self, request, pk):
        """What people pressed, per question, with the campaign's words for the keys."""
        campaign = get_object_or_404(self.campaigns(), pk=pk)
        results = survey_results(campaign)
        return Response(
            {
                "pressed": results.pressed,
                "labels": results.labels,
                "questions": [asdict(question) for question in results.questions],
            }
        )
