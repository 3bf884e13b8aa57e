"""Generate the API's OpenAPI document from the code (Powertools + the contract's pydantic models).

    python -m tools.openapi            write docs/openapi.json
    python -m tools.openapi --check    exit 1 if docs/openapi.json is not what the code generates

Each API function's resolver describes its own routes; this merges them into one document and
adds what only the template knows: an OAuth2 security scheme per token endpoint (tenant, supplier) and each route's scope.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from types import ModuleType
from typing import Any

from local_stack.template import ROOT, api_routes, function_spec, load_template
from local_stack.tokens import SCOPES_BY_KIND, TOKEN_PATHS

OUTPUT = ROOT / "docs" / "openapi.json"
API_VERSION = "1.17"
TITLE = "The Fibre Cafe - order cancellations"
DESCRIPTION = (
    "Tenant API (service order cancellations) and Supplier Updates API (KCIs) of the Fibre Cafe gateway. "
    "Every error answer has the body {uuid, code, messages}."
)
# One OAuth2 scheme per token endpoint, so Swagger UI's Authorize can get a tenant token and a supplier token
# (a scheme has one tokenUrl). A route names the scheme whose scope it needs.
SECURITY_SCHEMES = {"tenant": "tenantOAuth2", "supplier": "supplierOAuth2"}
CANONICAL_HEADERS = {"x-request-id": "X-Request-ID", "x-conversation-id": "X-Conversation-ID"}


def _route_scopes() -> dict[tuple[str, str], list[str]]:
    template = load_template()
    scopes: dict[tuple[str, str], list[str]] = {}
    for res in template["Resources"].values():
        for event in (res.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                scopes[(props["Path"], props["Method"].lower())] = list((props.get("Auth") or {}).get("AuthorizationScopes") or [])
    return scopes


def security_schemes() -> dict[str, Any]:
    """One OAuth2 client-credentials scheme per token endpoint (local_stack/tokens.py's paths and scopes)."""
    schemes: dict[str, Any] = {}
    for token_path, kind in TOKEN_PATHS.items():
        scopes = SCOPES_BY_KIND[kind]
        schemes[SECURITY_SCHEMES[kind]] = {
            "type": "oauth2",
            "description": f"OAuth2 client credentials for {kind}s (client_id and client_secret): a token with scope {' '.join(scopes)}.",
            "flows": {"clientCredentials": {"tokenUrl": token_path, "scopes": {scope: f"{kind} access" for scope in scopes}}},
        }
    return schemes


def scheme_for(scopes: list[str]) -> str:
    """The scheme whose token endpoint issues ``scopes``."""
    kinds = [kind for kind, issued in SCOPES_BY_KIND.items() if set(scopes) <= set(issued)]
    if len(kinds) != 1:
        raise ValueError(f"no single token endpoint issues the scopes {scopes}")
    return SECURITY_SCHEMES[kinds[0]]


def _load_api_modules() -> list[ModuleType]:
    # Importing a handler builds nothing (its dependencies are built on first use, fibre_cafe/wiring.py): no
    # environment is needed to read its routes.
    template = load_template()
    sys.path.insert(0, str(ROOT / "layers" / "gateway"))
    modules = []
    for logical_id in sorted({route.function for route in api_routes(template)}):
        spec = function_spec(logical_id, template)
        sys.path.insert(0, str(spec.code_dir))
        modules.append(importlib.import_module(spec.module))
    return modules


def generate() -> dict[str, Any]:
    document: dict[str, Any] = {}
    for module in _load_api_modules():
        schema = module.app.get_openapi_schema(title=TITLE, version=API_VERSION, description=DESCRIPTION)
        part = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
        if not document:
            document = part
            document.setdefault("components", {}).setdefault("schemas", {})
            continue
        document["paths"].update(part.get("paths", {}))
        document["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    document["components"]["securitySchemes"] = security_schemes()
    for (path, method), scopes in _route_scopes().items():
        operation = document["paths"].get(path, {}).get(method)
        if operation is not None:
            operation["security"] = [{scheme_for(scopes): scopes}]
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"] = dict(sorted(operation.get("responses", {}).items()))
            if "204" in operation["responses"]:
                operation["responses"]["204"].pop("content", None)  # 204 has no body
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header":
                    parameter["name"] = CANONICAL_HEADERS.get(parameter["name"].lower(), parameter["name"])
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = _referenced_schemas(document)
    return document


def _referenced_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Only the component schemas the document uses (Powertools adds its own validation-error models)."""
    schemas = document["components"]["schemas"]
    seen: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(schemas.get(name))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document["paths"])
    return {name: schemas[name] for name in sorted(seen)}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed document is stale")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run `make openapi` (python -m tools.openapi) and commit it", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
