"""The API connector endpoints: one URL per step, and /api/connector with the body's step."""

from __future__ import annotations

from flask import Blueprint, Response

from app.contract import respond
from app.contract.model import SignupRequest, Step
from app.contract.parse import parse_connector
from app.decision import Decision
from app.services import Services
from app.web.pipeline import Answer, ContractAdapter, serve

bp = Blueprint("connector", __name__, url_prefix="/api/connector")


def _render(decision: Decision, step: Step, parsed: SignupRequest | None, svc: Services) -> Answer:
    return respond.render(decision, step, svc.config.version, svc.config.extension_prefix)


ADAPTER = ContractAdapter("api_connector", parse_connector, _render, respond.effective_action)


@bp.post("")
def by_body_step() -> Response:
    return serve(ADAPTER, None)


@bp.post("/post-federation-signup")
def post_federation_signup() -> Response:
    return serve(ADAPTER, Step.POST_FEDERATION_SIGNUP)


@bp.post("/post-attribute-collection")
def post_attribute_collection() -> Response:
    return serve(ADAPTER, Step.POST_ATTRIBUTE_COLLECTION)


@bp.post("/pre-token-issuance")
def pre_token_issuance() -> Response:
    return serve(ADAPTER, Step.PRE_TOKEN_ISSUANCE)
