"""The partner registry (fibre_cafe/dal/partner_registry.py) on moto's DynamoDB and Secrets Manager: each entry on its own."""

from __future__ import annotations

import json

import boto3
import pytest

from fibre_cafe.api import identity
from fibre_cafe.dal.dynamodb_codec import to_item
from fibre_cafe.dal.errors import MisconfiguredPartner, UnknownPartner
from fibre_cafe.dal.partner_registry import ClientRegistry, RegistryDirectory, secrets_manager_reader


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(aws):
    dynamodb, secrets = boto3.client("dynamodb"), boto3.client("secretsmanager")
    table = aws.tables["PartnerRegistryTable"]

    def put(item: dict) -> None:
        dynamodb.put_item(TableName=table, Item=to_item(item))

    return dynamodb, secrets, table, put


def test_suppliers_are_read_one_by_one_and_a_malformed_one_affects_only_itself(registry):
    dynamodb, secrets, table, put = registry
    secrets.create_secret(Name="fibre-cafe/partners/GOODCO", SecretString=json.dumps({"username": "u", "password": "p"}))
    put({"pk": "PARTNER#GOODCO", "kind": "supplier", "baseUrl": "https://good.example/api/", "auth": {"type": "basic"},
         "credentialsSecret": "fibre-cafe/partners/GOODCO", "description": "a supplier"})
    put({"pk": "PARTNER#TYPO", "kind": "supplier", "baseUrl": "https://typo.example", "auth": {"type": "none"}, "baseURL": "x"})
    put({"pk": "PARTNER#NOSCHEME", "kind": "supplier", "baseUrl": "typo.example"})
    put({"pk": "PARTNER#NOSECRET", "kind": "supplier", "baseUrl": "https://x.example", "auth": {"type": "basic"},
         "credentialsSecret": "fibre-cafe/partners/NOSECRET"})
    put({"pk": "PARTNER#ATENANT", "kind": "tenant", "baseUrl": "https://tenant.example"})
    directory = RegistryDirectory("supplier", dynamodb, table, secrets_manager_reader(lambda: secrets, 60))

    good = directory.endpoint("GOODCO")
    assert good.base_url == "https://good.example/api" and good.basic_auth() == ("u", "p")
    assert good.entry.description == "a supplier"
    reasons = {}
    for partner in ("TYPO", "NOSCHEME", "NOSECRET", "ATENANT"):
        with pytest.raises(MisconfiguredPartner) as refused:
            directory.endpoint(partner)
        reasons[partner] = str(refused.value)
    assert "baseURL" in reasons["TYPO"]  # the unknown attribute is named
    assert "baseUrl" in reasons["NOSCHEME"] and "typo.example" not in reasons["NOSCHEME"]  # fields, never values
    assert "secret" in reasons["NOSECRET"] and "tenant" in reasons["ATENANT"]
    with pytest.raises(UnknownPartner):
        directory.endpoint("NOBODY")
    assert directory.endpoint("GOODCO") is good  # the others did not disturb it


def test_an_entry_and_its_secret_are_read_again_after_the_ttl(registry):
    dynamodb, secrets, table, put = registry
    secrets.create_secret(Name="fibre-cafe/partners/T", SecretString=json.dumps({"clientId": "c", "clientSecret": "s1"}))
    put({"pk": "PARTNER#T", "kind": "tenant", "baseUrl": "https://t.example", "credentialsSecret": "fibre-cafe/partners/T",
         "auth": {"type": "oauth2", "tokenUrl": "https://t.example/token", "scope": "kcis"}})
    clock = Clock()
    directory = RegistryDirectory("tenant", dynamodb, table, secrets_manager_reader(lambda: secrets, 0), ttl_seconds=60, clock=clock)
    assert directory.endpoint("T").auth == {"type": "oauth2", "clientId": "c", "clientSecret": "s1",
                                            "tokenUrl": "https://t.example/token", "scope": "kcis"}
    secrets.put_secret_value(SecretId="fibre-cafe/partners/T", SecretString=json.dumps({"clientId": "c", "clientSecret": "s2"}))
    assert directory.endpoint("T").auth["clientSecret"] == "s1"  # cached
    clock.now = 61
    assert directory.endpoint("T").auth["clientSecret"] == "s2"  # rotated, no redeploy


def test_clients_map_to_principals_and_a_malformed_client_is_refused_with_403(registry, monkeypatch):
    dynamodb, _, table, put = registry
    put({"pk": "CLIENT#good", "principal": "tenant:TENANT9"})
    put({"pk": "CLIENT#bad", "principal": "tenant"})
    clients = ClientRegistry(dynamodb, table, ttl_seconds=60)
    assert clients.principal("good") == ("tenant", "TENANT9")
    assert clients.principal("unknown") is None
    with pytest.raises(MisconfiguredPartner):
        clients.principal("bad")

    event = {"requestContext": {"authorizer": {"claims": {"client_id": "bad"}}}}
    with pytest.raises(identity.Forbidden):
        identity.caller_from_event(event, clients)
    assert identity.caller_from_event({"requestContext": {"authorizer": {"claims": {"client_id": "good"}}}}, clients).id == "TENANT9"
    with pytest.raises(identity.Forbidden):
        identity.caller_from_event({"requestContext": {"authorizer": {"claims": {"client_id": "unknown"}}}}, clients)


def test_per_partner_settings_are_typed_and_readable_without_the_credentials(registry):
    dynamodb, secrets, table, put = registry
    put({"pk": "PARTNER#SLOWCO", "kind": "supplier", "baseUrl": "https://slow.example", "auth": {"type": "basic"},
         "credentialsSecret": "fibre-cafe/partners/SLOWCO", "kciHoldWindowSeconds": 45})
    put({"pk": "PARTNER#BADSET", "kind": "supplier", "baseUrl": "https://bad.example", "kciHoldWindowSeconds": 3600})
    settings_only = RegistryDirectory("supplier", dynamodb, table, None)
    # No secret exists: a reader of settings alone never asks for it.
    assert settings_only.endpoint("SLOWCO").settings["kciHoldWindowSeconds"] == 45
    with pytest.raises(MisconfiguredPartner):  # beyond SQS's 15-minute delay: this supplier's entry only
        settings_only.endpoint("BADSET")
    with_credentials = RegistryDirectory("supplier", dynamodb, table, secrets_manager_reader(lambda: secrets, 60))
    with pytest.raises(MisconfiguredPartner):  # the dispatcher does need the (missing) secret
        with_credentials.endpoint("SLOWCO")


def test_a_secret_is_read_once_per_ttl_and_its_client_built_on_the_first_read(registry):
    _, secrets, _, _ = registry
    secrets.create_secret(Name="fibre-cafe/partners/R", SecretString=json.dumps({"token": "t1"}))
    built, clock = [], Clock()
    read = secrets_manager_reader(lambda: built.append(1) or secrets, 60, clock=clock)
    assert built == []  # nothing read yet: no client
    assert read("fibre-cafe/partners/R") == {"token": "t1"}
    secrets.put_secret_value(SecretId="fibre-cafe/partners/R", SecretString=json.dumps({"token": "t2"}))
    clock.now = 59
    assert read("fibre-cafe/partners/R") == {"token": "t1"}  # cached
    clock.now = 60
    assert read("fibre-cafe/partners/R") == {"token": "t2"}  # read again after the TTL
    assert built == [1]
    secrets.create_secret(Name="fibre-cafe/partners/LIST", SecretString="[1]")
    with pytest.raises(ValueError, match="not a JSON object"):
        read("fibre-cafe/partners/LIST")
