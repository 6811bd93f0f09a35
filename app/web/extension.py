"""The custom authentication extension endpoints: one URL per attribute-collection event."""

from __future__ import annotations

from flask import Blueprint, Response

from app.contract import respond
from app.contract.extension import parse_extension, render_extension
from app.contract.model import Step
from app.web.pipeline import ContractAdapter, serve

bp = Blueprint("authentication_extension", __name__, url_prefix="/api/authentication-extension")

# effective_action: ValidationError becomes a block page at start, exactly as for connectors.
ADAPTER = ContractAdapter(
    "authentication_extension", parse_extension, render_extension, respond.effective_action
)


@bp.post("/attribute-collection-start")
def attribute_collection_start() -> Response:
    return serve(ADAPTER, Step.ATTRIBUTE_COLLECTION_START)


@bp.post("/attribute-collection-submit")
def attribute_collection_submit() -> Response:
    return serve(ADAPTER, Step.ATTRIBUTE_COLLECTION_SUBMIT)
