"""REST endpoints of the leaderboard (docs/LEADERBOARD.md): the board and the CSV export."""

from __future__ import annotations

import csv

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contests.errors import ContestNotFound
from contests.models import Contest
from core.api import ErrorSerializer, HasModelPermission, path_uuid
from core.time import iso
from leaderboard import selectors

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
CSV_HEADER = [
    "rank",
    "participant_id",
    "user_id",
    "username",
    "display_name",
    "score",
    "correct_count",
    "total_response_ms",
    "registered_at",
    "removed_at",
]
CONTEST_ID_PARAMETER = OpenApiParameter(
    "contest_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The contest's id."
)
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class LeaderboardQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"How many places from the top (1..{MAX_LIMIT}).",
    )


# REST speaks the models' snake_case like the rest of /api/; the selectors return the
# WebSocket protocol's camelCase, so the serializers rename.
class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user_id = serializers.CharField(source="userId")
    display_name = serializers.CharField(source="displayName")
    score = serializers.IntegerField()


class OwnRankSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    contest_id = serializers.CharField(source="contestId")
    status = serializers.ChoiceField(
        choices=Contest.Status.choices,
        help_text="completed: the final standings; otherwise the live board.",
    )
    frozen = serializers.BooleanField(
        help_text="The freeze of the last questions has begun: the board stays as it was "
        "until the final standings."
    )
    visible = serializers.BooleanField(
        help_text="false: the contest shows no live board; until it completes, players "
        "get no entries and no `you` (organizers still see it)."
    )
    top = LeaderboardEntrySerializer(many=True)
    total_participants = serializers.IntegerField(source="totalParticipants")
    you = OwnRankSerializer(
        allow_null=True, help_text="Your place; null if anonymous or not a participant."
    )


class LeaderboardView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="contest_leaderboard",
        tags=["leaderboard"],
        summary="A contest's leaderboard",
        description="The live board while the contest runs (the answers of closed "
        "questions when the contest reveals answers on close; as it stood when the freeze "
        "began once `frozen`), the final standings once it completed. Authenticated "
        "participants also get their own place in `you`. A hidden board (`visible` false) "
        "shows players no entries until it completes.",
        parameters=[CONTEST_ID_PARAMETER, LeaderboardQuerySerializer],
        responses={
            200: LeaderboardSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, contest_id: str) -> Response:
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        board = selectors.leaderboard_for_user(
            contest_id=path_uuid(contest_id, ContestNotFound),
            limit=query.validated_data["limit"],
            user=request.user if request.user.is_authenticated else None,
        )
        return Response(LeaderboardSerializer(board).data)


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class StandingsCsvView(APIView):
    def get_permissions(self) -> list:
        # The organizers who may see contests in the admin (where standings are shown).
        return [HasModelPermission("contests.view_contest")]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # Errors are JSON whatever the client accepts (Accept: text/csv included);
        # success is the CSV body written below.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="contest_standings_csv",
        tags=["leaderboard"],
        summary="Final standings as CSV (staff)",
        parameters=[CONTEST_ID_PARAMETER],
        description="Every participant in final rank order, then those an organizer "
        "removed (empty rank, `removed_at` set). 409 CONTEST_NOT_COMPLETED until the "
        "contest has completed (the standings are written at completion).",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Header: " + ",".join(CSV_HEADER)
            ),
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def get(self, request: Request, contest_id: str) -> HttpResponse:
        pk = path_uuid(contest_id, ContestNotFound)
        standings = selectors.final_standings(contest_id=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="standings-{pk}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for s in standings.ranked:
            writer.writerow(
                [
                    s.rank,
                    s.participant_id,
                    s.participant.user_id,
                    _cell(s.participant.user.username),
                    _cell(s.participant.display_name),
                    s.score,
                    s.correct_count,
                    s.total_response_ms,
                    iso(s.participant.registered_at),
                    "",
                ]
            )
        # Removed participants: no rank, what their stored answers add up to.
        for r in standings.removed:
            writer.writerow(
                [
                    "",
                    r.participant.pk,
                    r.participant.user_id,
                    _cell(r.participant.user.username),
                    _cell(r.participant.display_name),
                    r.totals.score,
                    r.totals.correct_count,
                    r.totals.total_response_ms,
                    iso(r.participant.registered_at),
                    iso(r.participant.removed_at),
                ]
            )
        return response
