"""REST views of the contest domain (docs/API.md): contests, registration, organizer
controls. Each view: input serializer → one service or selector → output serializer."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from contests import selectors, services
from contests.api.serializers import (
    ContestDetailSerializer,
    ContestInputSerializer,
    ContestListFilterSerializer,
    ContestSummarySerializer,
    ParticipantListFilterSerializer,
    ParticipantListItemSerializer,
    ParticipantOutputSerializer,
    ParticipantRegisterInputSerializer,
)
from contests.controls import Control
from contests.errors import ContestNotFound, ParticipantNotFound
from core.api import ErrorSerializer, HasModelPermission, StrictPageNumberPagination, path_uuid

# --- Views ---------------------------------------------------------------------------------

CONTEST_ID = OpenApiParameter("contest_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
PARTICIPANT_ID = OpenApiParameter("participant_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


def _errors(*codes: int) -> dict[int, type[ErrorSerializer]]:
    return {code: ERRORS[code] for code in codes}


def _contest_uuid(raw: str) -> uuid.UUID:
    return path_uuid(raw, ContestNotFound)


def _signed_in_user(request: Request) -> User:
    # Every view here requires a signed-in user (IsAuthenticated, or HasModelPermission,
    # which requires staff): DRF has refused anonymous requests before the view runs.
    assert isinstance(request.user, User)
    return request.user


class ContestPagination(StrictPageNumberPagination):
    page_size = 20
    max_page_size = 100


class StaffWritesMixin(APIView):
    """Anyone signed in reads; writes need `write_permission`."""

    write_permission = "contests.change_contest"

    def get_permissions(self) -> list:
        if self.request.method in SAFE_METHODS:
            return [IsAuthenticated()]
        return [HasModelPermission(self.write_permission)]


class ContestListView(StaffWritesMixin, GenericAPIView):
    write_permission = "contests.add_contest"
    pagination_class = ContestPagination
    # What OPTIONS describes for POST (DRF's metadata asks the view for a serializer).
    serializer_class = ContestInputSerializer

    @extend_schema(
        summary="List contests",
        parameters=[ContestListFilterSerializer],
        responses={200: ContestSummarySerializer(many=True), **_errors(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = ContestListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        contests = selectors.contest_list(
            status=filters.validated_data.get("status"),
            join_code=filters.validated_data.get("join_code"),
        )
        page = self.paginate_queryset(contests)
        return self.get_paginated_response(ContestSummarySerializer(page, many=True).data)

    @extend_schema(
        summary="Create a contest with its questions (staff)",
        request=ContestInputSerializer,
        responses={201: ContestDetailSerializer, **_errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = ContestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contest = services.contest_create(
            data=serializer.validated_data, created_by=_signed_in_user(request)
        )
        return _detail_response(request, contest.pk, status.HTTP_201_CREATED)


class ContestDetailView(StaffWritesMixin, APIView):
    @extend_schema(
        summary="A contest and its questions, as far as the viewer may see them",
        parameters=[CONTEST_ID],
        responses={200: ContestDetailSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, contest_id: str) -> Response:
        return _detail_response(request, _contest_uuid(contest_id))

    def _update(self, request: Request, contest_id: str, *, partial: bool) -> Response:
        pk = _contest_uuid(contest_id)
        serializer = ContestInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.contest_update(contest_id=pk, data=serializer.validated_data)
        return _detail_response(request, pk)

    @extend_schema(
        summary="Replace an upcoming contest's fields; `questions`, if given, replaces all",
        parameters=[CONTEST_ID],
        request=ContestInputSerializer,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, contest_id: str) -> Response:
        return self._update(request, contest_id, partial=False)

    @extend_schema(
        summary="Change some fields of an upcoming contest; `questions`, if given, replaces all",
        parameters=[CONTEST_ID],
        request=ContestInputSerializer,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, contest_id: str) -> Response:
        return self._update(request, contest_id, partial=True)


class ContestRegisterView(APIView):
    @extend_schema(
        summary="Register the signed-in user for a contest",
        description="201 when registered now, 200 when already registered.",
        parameters=[CONTEST_ID],
        request=ParticipantRegisterInputSerializer,
        responses={
            201: ParticipantOutputSerializer,
            200: ParticipantOutputSerializer,
            **_errors(400, 401, 404, 409),
        },
    )
    def post(self, request: Request, contest_id: str) -> Response:
        pk = _contest_uuid(contest_id)
        serializer = ParticipantRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant, created = services.participant_register(
            contest_id=pk, user=_signed_in_user(request), **serializer.validated_data
        )
        return Response(
            ParticipantOutputSerializer(participant).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ParticipantListView(GenericAPIView):
    """Staff: a contest's participants with their ids, which removing one needs (the
    leaderboard names users, not participants); the host screen lists its players here."""

    pagination_class = ContestPagination

    def get_permissions(self) -> list:
        return [HasModelPermission("contests.view_contest")]

    @extend_schema(
        summary="List a contest's participants, in registration order (staff)",
        parameters=[CONTEST_ID, ParticipantListFilterSerializer],
        responses={200: ParticipantListItemSerializer(many=True), **_errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, contest_id: str) -> Response:
        pk = _contest_uuid(contest_id)
        filters = ParticipantListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        participants = selectors.participant_list(
            contest_id=pk, removed=filters.validated_data["removed"]
        )
        page = self.paginate_queryset(participants)
        return self.get_paginated_response(ParticipantListItemSerializer(page, many=True).data)


class ParticipantRemoveView(APIView):
    """An organizer removes a participant: their sockets close (4003), they cannot join or
    register again, and they leave the live board and the final standings; their answers
    stay stored. Removing twice answers the same."""

    def get_permissions(self) -> list:
        return [HasModelPermission("contests.change_contest")]

    @extend_schema(
        summary="Remove a participant from a contest (staff)",
        parameters=[CONTEST_ID, PARTICIPANT_ID],
        request=None,
        responses={200: ParticipantOutputSerializer, **_errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, contest_id: str, participant_id: str) -> Response:
        participant = services.participant_remove(
            contest_id=_contest_uuid(contest_id),
            participant_id=path_uuid(participant_id, ParticipantNotFound),
        )
        return Response(ParticipantOutputSerializer(participant).data)


def _detail_response(
    request: Request, contest_id: uuid.UUID, status_code: int = status.HTTP_200_OK
) -> Response:
    user = _signed_in_user(request)
    detail = selectors.contest_detail(contest_id=contest_id, user=user)
    serializer = ContestDetailSerializer(
        detail.contest, context={"detail": detail, "staff": user.is_staff}
    )
    return Response(serializer.data, status=status_code)


class OrganizerControlView(APIView):
    """An organizer control (contests.controls): one contest-clock service; 409
    INVALID_TRANSITION from a state that does not allow it. Answers with the contest as
    staff see it."""

    control: Control

    def get_permissions(self) -> list:
        return [HasModelPermission("contests.change_contest")]

    def post(self, request: Request, contest_id: str) -> Response:
        pk = _contest_uuid(contest_id)
        self.control.service(contest_id=pk)
        return _detail_response(request, pk)


def organizer_control_view(control: Control) -> type[OrganizerControlView]:
    """The view of one control, with its own description in the schema."""
    view = type(
        f"Contest{control.name.title()}View",
        (OrganizerControlView,),
        {"control": control, "__doc__": control.description},
    )
    return extend_schema(
        parameters=[CONTEST_ID],
        request=None,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )(view)
