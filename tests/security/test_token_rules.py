"""The local authorizer's token rules (local_stack/tokens.py, TokenAuthority.verify), one test per rule.

A token the stack signed itself, changed in one way, is refused; the unchanged token (the control) passes.
Over HTTP a refused token is a 401 with the contract's body and ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests

from local_stack.tokens import MAX_TOKEN_LIFETIME_SECONDS, InvalidAccessToken, TokenAuthority

ISSUER = "http://127.0.0.1:1/auth"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def authority() -> TokenAuthority:
    return TokenAuthority(issuer=ISSUER)


def claims(authority: TokenAuthority, **changes) -> dict:
    base = authority.claims_for("TENANT1", ("fibre-cafe/tenant",), now=NOW)
    base.update(changes)
    return {key: value for key, value in base.items() if value is not DROP}


DROP = object()


def verify(authority: TokenAuthority, token: str) -> dict:
    return authority.verify(f"Bearer {token}", now=NOW + 10)


def refused(authority: TokenAuthority, token: str, message: str = "The access token is not valid") -> None:
    with pytest.raises(InvalidAccessToken) as caught:
        verify(authority, token)
    assert str(caught.value) == message


def test_control_a_token_as_issued_is_accepted(authority):
    assert verify(authority, authority.sign(claims(authority)))["client_id"] == "TENANT1"


# ---------------------------------------------------------------------------------------------- encoding


def test_padding_appended_to_the_signature_is_refused(authority):
    refused(authority, authority.sign(claims(authority)) + "==")


def test_a_signature_with_non_canonical_spare_bits_is_refused(authority):
    token = authority.sign(claims(authority))
    head, payload, signature = token.split(".")
    # 256 signature bytes are 342 base64url characters; the last carries 2 data bits and 4 spare bits (zero).
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) | 1] if alphabet.index(last) % 2 == 0 else alphabet[alphabet.index(last) & ~1]
    tampered = signature[:-1] + twin
    assert base64.urlsafe_b64decode(tampered + "==") == base64.urlsafe_b64decode(signature + "==")  # same bytes
    refused(authority, f"{head}.{payload}.{tampered}")


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_standard_base64_characters_or_padding_in_any_segment_are_refused(authority, segment):
    parts = authority.sign(claims(authority)).split(".")
    raw = base64.urlsafe_b64decode(parts[segment] + "=" * (-len(parts[segment]) % 4))
    parts[segment] = base64.b64encode(raw).decode()  # '+', '/', '=' where base64url has '-', '_', nothing
    if parts[segment] == base64.urlsafe_b64encode(raw).rstrip(b"=").decode():
        parts[segment] += "="  # no '+'/'/' in this one: padding is enough to be non-canonical
    refused(authority, ".".join(parts))


def test_a_token_of_more_or_fewer_segments_is_refused(authority):
    token = authority.sign(claims(authority))
    refused(authority, token + ".e30")
    refused(authority, token.rsplit(".", 1)[0])


# ---------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize("value", [str(NOW + 3600), True, None, [NOW + 3600], {"n": 1}])
def test_exp_that_is_not_a_number_is_refused(authority, value):
    refused(authority, authority.sign(claims(authority, exp=value)))


@pytest.mark.parametrize("value", [str(NOW), True, None])
def test_iat_that_is_not_a_number_is_refused(authority, value):
    refused(authority, authority.sign(claims(authority, iat=value)))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "client_id", "token_use"])
def test_a_missing_claim_is_refused(authority, claim):
    refused(authority, authority.sign(claims(authority, **{claim: DROP})))


def test_a_lifetime_over_the_maximum_is_refused(authority):
    refused(authority, authority.sign(claims(authority, exp=NOW + MAX_TOKEN_LIFETIME_SECONDS + 1)))
    verify(authority, authority.sign(claims(authority, exp=NOW + MAX_TOKEN_LIFETIME_SECONDS)))  # at the maximum: fine


def test_an_exp_far_in_the_future_is_refused_even_with_a_matching_iat(authority):
    later = NOW + 10 * MAX_TOKEN_LIFETIME_SECONDS
    refused(authority, authority.sign(claims(authority, iat=later, exp=later + 3600)))


def test_a_token_issued_in_the_future_is_refused(authority):
    refused(authority, authority.sign(claims(authority, iat=NOW + 3600, exp=NOW + 7200)))


def test_an_expired_token_is_refused_as_expired(authority):
    refused(authority, authority.sign(claims(authority, iat=NOW - 7200, exp=NOW - 3600)), "The access token has expired")


def test_exp_not_after_iat_is_refused(authority):
    refused(authority, authority.sign(claims(authority, exp=NOW)))


# ---------------------------------------------------------------------------------------------- who and for whom


@pytest.mark.parametrize("audience", [["fibre-cafe-api"], ["fibre-cafe-api", "other"], "fibre-cafe-api ", "FIBRE-CAFE-API", "other"])
def test_an_audience_other_than_exactly_ours_is_refused(authority, audience):
    refused(authority, authority.sign(claims(authority, aud=audience)))


@pytest.mark.parametrize("issuer", [ISSUER + "/", "http://127.0.0.1:2/auth", ISSUER.upper()])
def test_an_issuer_other_than_exactly_ours_is_refused(authority, issuer):
    refused(authority, authority.sign(claims(authority, iss=issuer)))


def test_an_id_token_is_refused(authority):
    refused(authority, authority.sign(claims(authority, token_use="id")), "The token is not an access token")


@pytest.mark.parametrize("claim", ["sub", "client_id"])
def test_a_subject_that_is_not_a_string_is_refused(authority, claim):
    refused(authority, authority.sign(claims(authority, **{claim: 42})))


def test_another_keys_token_is_refused(authority):
    other = TokenAuthority(issuer=ISSUER)
    refused(authority, other.sign(claims(other)))


# ---------------------------------------------------------------------------------------------- over HTTP


def test_over_http_a_padded_signature_is_401(stack, good_tokens):
    url = f"{stack.base_url}/service-order-cancellations/1"
    headers = {"X-Request-ID": f"tok-{time.time()}", "X-Conversation-ID": "tokens"}
    assert requests.get(url, headers={**headers, "Authorization": f"Bearer {good_tokens['TENANT1']}"}, timeout=10).status_code != 401
    answer = requests.get(url, headers={**headers, "Authorization": f"Bearer {good_tokens['TENANT1']}=="}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "NOT_AUTHORISED" and answer.json()["messages"] == ["The access token is not valid"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
