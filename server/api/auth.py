from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from server.api.users import UserOut
from server.jsonio import ApiBlueprint
from server.security.current import current_user, public, requires
from server.services import sessions

blp = ApiBlueprint("auth", __name__, url_prefix="/api/v1", description="Accounts: login, tokens, the current user")

DEVICE_ID = validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$", error="1-64 characters: letters, digits, . _ : -")


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    device_id = fields.String(load_default=None, validate=DEVICE_ID)
    device_name = fields.String(load_default=None, validate=validate.Length(max=200))
    app_version = fields.String(load_default=None, validate=validate.Length(max=40))


class TokensOut(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    user = fields.Nested(UserOut, required=True)


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    device_id = fields.String(load_default=None, validate=DEVICE_ID)


class LogoutIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


def _tokens(pair: sessions.TokenPair) -> dict:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "token_type": "Bearer", "expires_in": pair.expires_in, "user": pair.user}


@blp.route("/auth/login", methods=["POST"])
@public
@blp.arguments(LoginIn)
@blp.response(200, TokensOut)
@blp.alt_response(409, description="`auth.device_taken`: the device_id is registered to another user "
                                   "until an admin or supervisor releases it")
@blp.doc(security=[])
def login(body):
    """Log in with a username and password; optionally bind the session to a device."""
    return _tokens(sessions.login(body["username"], body["password"], body["device_id"],
                                  body["device_name"], body["app_version"], request.remote_addr))


@blp.route("/auth/refresh", methods=["POST"])
@public
@blp.arguments(RefreshIn)
@blp.response(200, TokensOut)
@blp.alt_response(409, description="`auth.device_taken`: the device_id is registered to another user")
@blp.doc(security=[])
def refresh(body):
    """Trade a refresh token for a new pair; the old one stops working (reuse revokes the session)."""
    return _tokens(sessions.refresh(body["refresh_token"], body["device_id"]))


@blp.route("/auth/logout", methods=["POST"])
@public
@blp.arguments(LogoutIn)
@blp.response(204)
@blp.doc(security=[])
def logout(body):
    """End the session the refresh token belongs to."""
    sessions.logout(body["refresh_token"])


@blp.route("/me", methods=["GET"])
@requires()
@blp.response(200, UserOut)
def me():
    """The current user, role and areas."""
    return current_user()
