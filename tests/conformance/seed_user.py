#!/usr/bin/env python3
"""Make sure a SCIM server holds at least one user before Okta's SPEC test runs.

Okta's SPEC test starts with ``GET /Users?count=1&startIndex=1`` and expects a
complete, active user in ``Resources[0]`` ("create at least one user in your
SCIM server before running"). This creates one when the list is empty and
leaves the server alone otherwise.

Usage:
    seed_user.py --base-url URL [--auth "Bearer TOKEN"]   (or $RUNSCOPE_AUTH)

Exits 0 when the server has a user (found or created), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

SCIM_JSON = "application/scim+json"

# Synthetic data only; the name says what it is to whoever lists the users.
SEED_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "conformance-seed@example.com",
    "name": {"givenName": "Conformance", "familyName": "Seed"},
    "displayName": "Conformance Seed",
    "emails": [{"value": "conformance-seed@example.com", "type": "work", "primary": True}],
    "active": True,
}


def call(method: str, url: str, auth: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any, str]:
    """One request; returns (status, parsed JSON or None, raw text). Status 0: no response."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {"Accept": SCIM_JSON, "Authorization": auth}
    if data is not None:
        headers["Content-Type"] = SCIM_JSON
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, None, str(getattr(error, "reason", error))
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text), text
    except json.JSONDecodeError:
        return status, None, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="SCIM base URL, e.g. https://host/scim/v2")
    parser.add_argument("--auth", default=os.environ.get("RUNSCOPE_AUTH"), help="Authorization header value")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.auth:
        parser.error("--auth (or $RUNSCOPE_AUTH) is required")
    base = args.base_url.rstrip("/")

    status, listing, text = call("GET", f"{base}/Users?count=1&startIndex=1", args.auth)
    if status != 200 or not isinstance(listing, dict):
        print(f"seed: GET /Users?count=1 answered {status or 'nothing'}: {text[:200]}")
        return 1
    resources = listing.get("Resources")
    if isinstance(resources, list) and resources:
        print(f"seed: the server already has users (totalResults={listing.get('totalResults')}); nothing to do")
        return 0

    status, created, text = call("POST", f"{base}/Users", args.auth, SEED_USER)
    if status == 201 and isinstance(created, dict) and created.get("id"):
        print(f"seed: created the seed user, id {created['id']}")
        return 0
    print(f"seed: POST /Users answered {status or 'nothing'}: {text[:200]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
