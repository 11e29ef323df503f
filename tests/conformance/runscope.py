#!/usr/bin/env python3
"""Replay Runscope (BlazeMeter API Monitoring) test exports against a SCIM server.

Okta publishes its SCIM conformance suites as Runscope JSON exports. This runner
executes such an export without Runscope: every request step in order, every
assertion, every variable extraction, and the few JavaScript snippets the Okta
files carry (re-implemented by hand, keyed by their exact text, so that an
unknown snippet fails loudly instead of being skipped).

Standard library only, so that CI needs nothing but a Python 3.11 interpreter.

Usage:
    runscope.py --base-url URL --auth "Bearer TOKEN" SUITE.json [SUITE.json ...]

Prints one line per step and per check and ends with the line
``N passed, M failed``. Exits 1 if any check failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

# Marks a JSON property that is absent, as opposed to one whose value is null.
MISSING = object()

# Runscope's template syntax: {{name}}.
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")

# One segment of a property path such as ``Resources[0].name.familyName``.
PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")

# How much of an actual value a report line shows.
SHOW_LIMIT = 160


# --------------------------------------------------------------------------
# Values and paths
# --------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """Render a JSON value the way Runscope compares it: as text.

    Runscope's ``equal`` compares textual values, which is why Okta's suite can
    check ``totalResults`` (a JSON number) against the string ``'0'`` and
    ``active`` (a JSON boolean) against ``'true'``.
    """
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def show(value: Any) -> str:
    """A short, single-line rendering of an actual value for the report."""
    if value is MISSING:
        return "<missing>"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 3] + "..."


def is_number(value: Any) -> bool:
    """True for a real JSON number (a boolean is not one, a numeric string is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_path(prop: str) -> list[str | int]:
    """Split ``a.b[0].c`` into ``['a', 'b', 0, 'c']``.

    Raises ValueError on a path this runner cannot read, rather than guessing.
    """
    tokens: list[str | int] = []
    pos = 0
    while pos < len(prop):
        match = PATH_TOKEN.match(prop, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot parse property path {prop!r} at offset {pos}")
        name, index = match.groups()
        tokens.append(int(index) if index is not None else name)
        pos = match.end()
    return tokens


def resolve(document: Any, prop: str | None) -> Any:
    """The value at ``prop`` inside ``document``, or MISSING."""
    if prop is None or prop == "":
        return document
    current = document
    for token in parse_path(prop):
        if isinstance(token, int):
            if not isinstance(current, list) or token >= len(current):
                return MISSING
            current = current[token]
        else:
            if not isinstance(current, dict) or token not in current:
                return MISSING
            current = current[token]
    return current


# --------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------


def _is_empty(actual: Any) -> bool:
    # An absent property, null, "", [] and {} are empty. Booleans and numbers
    # are not: Runscope compares text, and "false" / "0" are non-empty text.
    return actual is MISSING or actual is None or actual in ("", [], {})


def _as_float(text: str) -> float:
    return float(text.strip())


def _number_cmp(op: Callable[[float, float], bool]) -> Callable[[Any, str], tuple[bool, str]]:
    def compare(actual: Any, expected: str) -> tuple[bool, str]:
        if not is_number(actual):
            return False, "actual value is not a number"
        try:
            target = _as_float(expected)
        except ValueError:
            return False, f"expected value {expected!r} is not a number"
        return op(float(actual), target), ""

    return compare


def _equal(actual: Any, expected: str) -> tuple[bool, str]:
    if actual is MISSING:
        return False, "property is missing"
    return as_text(actual) == expected, ""


def _not_equal(actual: Any, expected: str) -> tuple[bool, str]:
    if actual is MISSING:
        return False, "property is missing"
    return as_text(actual) != expected, ""


def _contains(actual: Any, expected: str) -> tuple[bool, str]:
    if actual is MISSING:
        return False, "property is missing"
    if isinstance(actual, list):
        # An array "contains" a value when one of its elements is that value;
        # a substring of an element does not count.
        return any(as_text(item) == expected for item in actual), ""
    if isinstance(actual, dict):
        return expected in actual, ""
    return expected in as_text(actual), ""


def _does_not_contain(actual: Any, expected: str) -> tuple[bool, str]:
    if actual is MISSING:
        return False, "property is missing"
    ok, why = _contains(actual, expected)
    return not ok, why


def _has_key(actual: Any, expected: str) -> tuple[bool, str]:
    if not isinstance(actual, dict):
        return False, "actual value is not an object"
    return expected in actual, ""


def _has_value(actual: Any, expected: str) -> tuple[bool, str]:
    if isinstance(actual, list):
        return any(as_text(item) == expected for item in actual), ""
    if isinstance(actual, dict):
        return any(as_text(item) == expected for item in actual.values()), ""
    return False, "actual value is neither an array nor an object"


def _equal_number(actual: Any, expected: str) -> tuple[bool, str]:
    return _number_cmp(lambda a, b: a == b)(actual, expected)


COMPARISONS: dict[str, Callable[[Any, str], tuple[bool, str]]] = {
    "equal": _equal,
    "not_equal": _not_equal,
    "empty": lambda actual, _expected: (_is_empty(actual), ""),
    "not_empty": lambda actual, _expected: (not _is_empty(actual), ""),
    "contains": _contains,
    "does_not_contain": _does_not_contain,
    "has_key": _has_key,
    "has_value": _has_value,
    "is_null": lambda actual, _expected: (actual is None, ""),
    "is_a_number": lambda actual, _expected: (
        is_number(actual),
        "" if is_number(actual) else "not a JSON number",
    ),
    "equal_number": _equal_number,
    "is_less_than": _number_cmp(lambda a, b: a < b),
    "is_less_than_or_equal": _number_cmp(lambda a, b: a <= b),
    "is_greater_than": _number_cmp(lambda a, b: a > b),
    "is_greater_than_or_equal": _number_cmp(lambda a, b: a >= b),
}


# --------------------------------------------------------------------------
# Initial scripts (Initial_Script_*.txt, re-implemented)
# --------------------------------------------------------------------------

LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
DIGITS = "0123456789"


def _pick(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def _family_name(rng: random.Random) -> str:
    # generate_lastname(): one upper-case letter, eight lower-case, three digits.
    return _pick(rng, UPPER, 1) + _pick(rng, LOWER, 8) + _pick(rng, DIGITS, 3)


def _runscope_name(rng: random.Random) -> str:
    # generate_firstname() / generate_name(): "Runscope" and three digits.
    return "Runscope" + _pick(rng, DIGITS, 3)


def initial_spec(rng: random.Random) -> dict[str, str]:
    """Initial_Script_Spec.txt: the variables of the current SPEC test."""
    given = _runscope_name(rng)
    family = _family_name(rng)
    email = given + family + "@atko.com"
    return {
        "randomGivenName": given,
        "randomFamilyName": family,
        "randomEmail": email,
        "randomUsername": email,
        "InvalidUserEmail": "abcdefgh@atko.com",
        "UserIdThatDoesNotExist": "010101001010101011001010101011",
        "randomUsernameCaps": email.upper(),
    }


def initial_spec_2023(rng: random.Random) -> dict[str, str]:
    """Initial_Script_Spec.2023-01-*.txt: the SPEC variables plus a group name."""
    variables = initial_spec(rng)
    variables["randomGroupName"] = _runscope_name(rng)
    return variables


def initial_crud(rng: random.Random) -> dict[str, str]:
    """Initial_Script_CRUD.txt: the variables of the CRUD test."""
    first = _runscope_name(rng)
    last = _family_name(rng)
    first_update = first + "update"
    return {
        "okta_user_firstname": first,
        "okta_user_lastname": last,
        "okta_user_fullname": first + " " + last,
        "okta_user_firstname_update": first_update,
        "okta_user_fullname_update": first_update + " " + last,
        "okta_user_email": first + last + "@atko.com",
        "okta_user_title": "Engineer",
        "okta_user_primaryphone": "415.123.4567",
    }


INITIAL_SCRIPTS: dict[str, Callable[[random.Random], dict[str, str]]] = {
    "spec": initial_spec,
    "spec-2023": initial_spec_2023,
    "crud": initial_crud,
    "none": lambda _rng: {},
}


def detect_initial_script(suite_text: str) -> str:
    """Pick the initial script a suite was written for from the variables it uses."""
    if "{{okta_user_" in suite_text:
        return "crud"
    if "{{randomGroupName}}" in suite_text:
        return "spec-2023"
    if "{{randomUsername}}" in suite_text or "{{randomEmail}}" in suite_text:
        return "spec"
    return "none"


# --------------------------------------------------------------------------
# Per-step scripts (JavaScript in the export, re-implemented by hand)
# --------------------------------------------------------------------------


@dataclass
class Response:
    """What one request step got back."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    json: Any = MISSING
    error: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


ScriptCheck = Callable[[Response, dict[str, str]], tuple[bool, str]]


def _script_groups_list(response: Response, _variables: dict[str, str]) -> tuple[bool, str]:
    # JS: if (totalResults === 0) pass; else if (totalResults >= 1 && Array.isArray(Resources)) pass.
    # Checked here as "totalResults is the number 0, or Resources is an array",
    # which is the intent and slightly stricter than the JS (which asserts
    # nothing at all when neither branch matches).
    data = response.json
    if not isinstance(data, dict):
        return False, "body is not a JSON object (JSON.parse would throw)"
    total = data.get("totalResults", MISSING)
    resources = data.get("Resources", MISSING)
    if is_number(total) and total == 0:
        return True, "totalResults === 0"
    if isinstance(resources, list):
        return True, f"totalResults={show(total)}, Resources is an array of {len(resources)}"
    return False, f"totalResults={show(total)} and Resources={show(resources)} is not an array"


def _script_members_empty(response: Response, _variables: dict[str, str]) -> tuple[bool, str]:
    # Chai's `.empty` accepts "", [] and {}; on undefined or null it throws, so
    # a response without a "members" attribute fails this script.
    data = response.json
    if not isinstance(data, dict):
        return False, "body is not a JSON object (JSON.parse would throw)"
    members = data.get("members", MISSING)
    if members is MISSING or members is None:
        return False, f"members is {show(members)}: chai's .empty throws on it"
    if isinstance(members, (str, list, dict)):
        return len(members) == 0, f"members={show(members)}"
    return False, f"members={show(members)} is not a string, array or object"


def _script_username_not_lowercased(
    response: Response, variables: dict[str, str]
) -> tuple[bool, str]:
    # JS: assert.notEqual(data.userName.toLowerCase(), variables.get("randomUsername")).
    # The generated user name has upper-case letters, so this passes exactly
    # when the server kept the case of userName.
    data = response.json
    if not isinstance(data, dict):
        return False, "body is not a JSON object (JSON.parse would throw)"
    user_name = data.get("userName", MISSING)
    if not isinstance(user_name, str):
        return False, f"userName={show(user_name)} is not a string (toLowerCase would throw)"
    expected = variables.get("randomUsername", "")
    lowered = user_name.lower()
    return lowered != expected, f"userName.toLowerCase()={show(lowered)}"


def normalise_script(source: str) -> str:
    """Whitespace-insensitive key for a script, so CRLF/indentation changes still match."""
    return " ".join(source.split())


KNOWN_SCRIPTS: dict[str, tuple[str, ScriptCheck]] = {
    normalise_script(source): (label, check)
    for source, label, check in [
        (
            'var data = JSON.parse(response.body);\nvar max = data.totalResults;\n'
            'var res = data.Resources;\nvar exists = false;\n\nif (max === 0)\n'
            '\tassert("nogroups", "No Groups found in the endpoint");\n'
            "else if (max >= 1 && Array.isArray(res)) {\n    exists = true;\n"
            '    assert.ok(exists, "Resources is of type Array");\n\tlog(exists);\n}',
            "script: totalResults === 0 || Array.isArray(Resources)",
            _script_groups_list,
        ),
        (
            "var data = JSON.parse(response.body);\n// the non-script assertion 'isEmpty' "
            "checks if a string is empty, the ChaiJS version can handle arrays\n"
            "expect(data.members).to.be.empty;",
            "script: expect(data.members).to.be.empty",
            _script_members_empty,
        ),
        (
            "var data = JSON.parse(response.body);\n"
            'assert.notEqual(data.userName.toLowerCase(),variables.get("randomUsername"),'
            "'ISVuserNameLower matches with InitialuserName');",
            "script: userName.toLowerCase() != randomUsername",
            _script_username_not_lowercased,
        ),
    ]
}


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the response it is; a SCIM endpoint has no business redirecting."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def encode_url(url: str) -> str:
    """Percent-encode what a browser would (spaces, quotes) and leave the rest alone.

    Okta's filters are written with literal spaces and double quotes
    (``filter=userName eq "x"``); on the wire they go as ``%20`` and ``%22``.
    """
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    query = urllib.parse.quote(parts.query, safe="/%:@!$&'()*+,;=?-._~")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


@dataclass
class Options:
    """Settings that apply to every suite of one run."""

    variables: dict[str, str]
    pause_seconds: float
    real_pauses: bool
    timeout: float
    insecure: bool
    initial_script: str
    seed: int | None


@dataclass
class Tally:
    """Passed and failed checks."""

    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def record(self, ok: bool, line: str) -> None:
        print(("PASS  " if ok else "FAIL  ") + line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(line)


class SuiteRunner:
    """Runs the steps of one Runscope export with its own set of variables."""

    def __init__(self, name: str, suite: dict[str, Any], options: Options, tally: Tally) -> None:
        self.name = name
        self.suite = suite
        self.options = options
        self.tally = tally
        rng = random.Random(options.seed) if options.seed is not None else random.SystemRandom()
        script = options.initial_script
        if script == "auto":
            script = detect_initial_script(json.dumps(suite))
        self.initial_script = script
        self.variables: dict[str, str] = dict(INITIAL_SCRIPTS[script](rng))
        # Command-line variables win: they describe the server under test.
        self.variables.update(options.variables)
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if options.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    # -- templates ---------------------------------------------------------

    def substitute(self, text: str, unresolved: set[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.variables:
                return self.variables[name]
            unresolved.add(name)
            # Runscope leaves an unknown variable as written.
            return match.group(0)

        return TEMPLATE.sub(replace, text)

    # -- steps -------------------------------------------------------------

    def run(self) -> None:
        steps = self.suite.get("steps")
        title = self.suite.get("name", "?")
        print(f"=== {title} ({self.name}): {len(steps) if isinstance(steps, list) else 0} steps, "
              f"initial script {self.initial_script}", flush=True)
        if not isinstance(steps, list) or not steps:
            self.tally.record(False, f"{self.name}: the export has no steps")
            return
        for number, step in enumerate(steps):
            label = f"[{self.name} #{number}]"
            if not isinstance(step, dict):
                self.tally.record(False, f"{label} step is not an object")
                continue
            if step.get("skipped"):
                # Skipped in the export itself: Runscope does not run it either.
                print(f"SKIP  {label} skipped in the export: {step.get('note', '')}", flush=True)
                continue
            kind = step.get("step_type")
            if kind == "pause":
                self.pause(label, step)
            elif kind == "request":
                self.request(label, step)
            else:
                self.tally.record(False, f"{label} unsupported step_type {kind!r}")

    def pause(self, label: str, step: dict[str, Any]) -> None:
        duration = step.get("duration", 0)
        seconds = float(duration) if is_number(duration) else 0.0
        slept = seconds if self.options.real_pauses else min(seconds, self.options.pause_seconds)
        print(f"....  {label} pause: {seconds:g} s in the suite, sleeping {slept:g} s", flush=True)
        if slept > 0:
            time.sleep(slept)

    def request(self, label: str, step: dict[str, Any]) -> None:
        note = str(step.get("note", "")).strip()
        unsupported = self.unsupported_features(step)
        for feature in unsupported:
            self.tally.record(False, f"{label} unsupported request feature: {feature}")
        unresolved: set[str] = set()
        method = str(step.get("method", "GET")).upper()
        url = encode_url(self.substitute(str(step.get("url", "")), unresolved))
        headers = {}
        for name, values in (step.get("headers") or {}).items():
            values = values if isinstance(values, list) else [values]
            headers[name] = ", ".join(self.substitute(str(v), unresolved) for v in values)
        body = step.get("body")
        data = None
        if isinstance(body, str) and (body != "" or method in ("POST", "PUT", "PATCH")):
            data = self.substitute(body, unresolved).encode("utf-8")
        print(f"----  {label} {note}", flush=True)
        if unresolved:
            self.tally.record(
                False, f"{label} unresolved variables in the request: {', '.join(sorted(unresolved))}"
            )
        response = self.send(method, url, headers, data)
        if response.error is not None:
            print(f"      {method} {url} -> no response: {response.error}", flush=True)
        else:
            print(f"      {method} {url} -> {response.status} in {response.elapsed_ms:.0f} ms", flush=True)
        # Runscope's order: variables, then post-response scripts, then assertions.
        for variable in step.get("variables") or []:
            self.extract(label, variable, response)
        for kind in ("before_scripts", "scripts"):
            for script in step.get(kind) or []:
                self.script(label, kind, script, response)
        for assertion in step.get("assertions") or []:
            self.check(label, assertion, response)

    @staticmethod
    def unsupported_features(step: dict[str, Any]) -> list[str]:
        found = []
        if step.get("auth"):
            found.append("Runscope request auth (auth)")
        if step.get("form"):
            found.append("form body (form)")
        if step.get("multipart_form"):
            found.append("multipart body (multipart_form)")
        if step.get("binary_body"):
            found.append("binary body (binary_body)")
        return found

    def send(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> Response:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=self.options.timeout) as reply:
                status = reply.status
                reply_headers = {k.lower(): v for k, v in reply.headers.items()}
                body = reply.read()
        except urllib.error.HTTPError as error:
            status = error.code
            reply_headers = {k.lower(): v for k, v in (error.headers or {}).items()}
            body = error.read() if error.fp is not None else b""
        except (urllib.error.URLError, OSError, ValueError) as error:
            elapsed = (time.perf_counter() - started) * 1000.0
            return Response(0, {}, b"", elapsed, error=str(getattr(error, "reason", error)))
        elapsed = (time.perf_counter() - started) * 1000.0
        response = Response(status, reply_headers, body, elapsed)
        if body:
            try:
                response.json = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                response.json = MISSING
        return response

    # -- checks ------------------------------------------------------------

    def source_value(self, source: str, prop: str | None, response: Response) -> tuple[Any, str | None]:
        """The value an assertion or extraction reads, or an error that fails it."""
        if response.error is not None:
            return MISSING, f"no response ({response.error})"
        if source == "response_status":
            return response.status, None
        if source == "response_time":
            return round(response.elapsed_ms, 1), None
        if source == "response_size":
            return len(response.body), None
        if source == "response_text":
            return response.text, None
        if source == "response_headers":
            if not prop:
                return MISSING, "response_headers needs a header name"
            return response.headers.get(prop.lower(), MISSING), None
        if source == "response_json":
            if response.json is MISSING:
                snippet = response.text[:80].replace("\n", " ")
                return MISSING, f"body is not JSON ({snippet!r})"
            try:
                return resolve(response.json, prop), None
            except ValueError as error:
                return MISSING, str(error)
        return MISSING, f"unsupported source {source!r}"

    def check(self, label: str, assertion: dict[str, Any], response: Response) -> None:
        source = str(assertion.get("source", ""))
        comparison = str(assertion.get("comparison", ""))
        prop = assertion.get("property")
        raw = assertion.get("value")
        unresolved: set[str] = set()
        expected = self.substitute(str(raw), unresolved) if raw is not None else ""
        what = source + (f" {prop}" if prop else "")
        wanted = f" {expected!r}" if raw is not None else ""
        line = f"{label} {what} {comparison}{wanted}"
        if unresolved:
            self.tally.record(False, f"{line} — unresolved variables {', '.join(sorted(unresolved))}")
            return
        compare = COMPARISONS.get(comparison)
        if compare is None:
            self.tally.record(False, f"{line} — unsupported comparison {comparison!r}")
            return
        actual, problem = self.source_value(source, prop, response)
        if problem is not None:
            self.tally.record(False, f"{line} — {problem}")
            return
        ok, why = compare(actual, expected)
        unit = " ms" if source == "response_time" else ""
        detail = f" ({why})" if why and not ok else ""
        self.tally.record(ok, f"{line} (actual: {show(actual)}{unit}){detail}")

    def extract(self, label: str, variable: dict[str, Any], response: Response) -> None:
        name = str(variable.get("name", ""))
        source = str(variable.get("source", ""))
        prop = variable.get("property")
        line = f"{label} variable {name} <- {source}" + (f" {prop}" if prop else "")
        value, problem = self.source_value(source, prop, response)
        if problem is None and (value is MISSING or value is None):
            problem = "nothing there"
        if problem is not None:
            # Later steps would run with a literal {{name}}: say so where it starts.
            self.tally.record(False, f"{line} — {problem}")
            return
        self.variables[name] = as_text(value)
        print(f"VAR   {line} = {show(value)}", flush=True)

    def script(self, label: str, kind: str, source: Any, response: Response) -> None:
        if not isinstance(source, str):
            self.tally.record(False, f"{label} {kind}: script is not a string")
            return
        key = normalise_script(source)
        if key == "":
            return  # Runscope exports an empty editor as "": nothing to run.
        known = KNOWN_SCRIPTS.get(key)
        if known is None:
            first = source.strip().splitlines()[0] if source.strip() else ""
            self.tally.record(False, f"{label} unknown {kind} (not re-implemented): {first[:80]!r}")
            return
        if kind == "before_scripts":
            self.tally.record(False, f"{label} {known[0]} appears as a before_script, which is not supported")
            return
        if response.error is not None:
            self.tally.record(False, f"{label} {known[0]} — no response ({response.error})")
            return
        label_text, check = known
        ok, detail = check(response, self.variables)
        self.tally.record(ok, f"{label} {label_text} ({detail})")


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run Runscope JSON test exports (such as Okta's SCIM suites) against a server.",
    )
    parser.add_argument("suites", nargs="+", metavar="FILE.json", help="Runscope export(s) to run, in order")
    parser.add_argument(
        "--base-url",
        help="SCIM base URL, e.g. https://host/scim/v2; sets {{SCIMBaseURL}} and {{SCIMUrl}}",
    )
    parser.add_argument(
        "--auth",
        default=os.environ.get("RUNSCOPE_AUTH"),
        help='full Authorization header value, e.g. "Bearer TOKEN"; sets {{auth}} and {{SCIMAuth}}. '
        "Defaults to $RUNSCOPE_AUTH, which keeps the token off the process list.",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any other suite variable (repeatable); wins over the initial script",
    )
    parser.add_argument(
        "--initial-script",
        choices=["auto", *INITIAL_SCRIPTS],
        default="auto",
        help="which Initial_Script_*.txt to emulate (default: detected from the variables a suite uses)",
    )
    parser.add_argument(
        "--pause-seconds",
        type=float,
        default=0.05,
        help="longest sleep for a pause step (default 0.05); 0 skips pauses",
    )
    parser.add_argument(
        "--real-pauses",
        action="store_true",
        help="sleep for the full duration each pause step asks for",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--insecure", action="store_true", help="skip TLS certificate verification")
    parser.add_argument("--seed", type=int, help="seed for the random names, to reproduce a run")
    return parser.parse_args(argv)


def build_options(args: argparse.Namespace) -> Options:
    variables: dict[str, str] = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"runscope.py: --var expects NAME=VALUE, got {item!r}")
        variables[name] = value
    if args.base_url:
        base = args.base_url.rstrip("/")
        variables.setdefault("SCIMBaseURL", base)
        variables.setdefault("SCIMUrl", base)
    if args.auth:
        variables.setdefault("auth", args.auth)
        variables.setdefault("SCIMAuth", args.auth)
    if args.pause_seconds < 0:
        raise SystemExit("runscope.py: --pause-seconds must not be negative")
    return Options(
        variables=variables,
        pause_seconds=args.pause_seconds,
        real_pauses=args.real_pauses,
        timeout=args.timeout,
        insecure=args.insecure,
        initial_script=args.initial_script,
        seed=args.seed,
    )


def load_suite(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        suite = json.load(handle)
    if not isinstance(suite, dict):
        raise ValueError("top level is not a JSON object")
    return suite


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    options = build_options(args)
    suites = []
    for path in args.suites:
        try:
            suites.append((path, load_suite(path)))
        except (OSError, ValueError) as error:
            print(f"runscope.py: cannot load {path}: {error}", file=sys.stderr)
            return 2
    tally = Tally()
    for path, suite in suites:
        before_passed, before_failed = tally.passed, tally.failed
        runner = SuiteRunner(os.path.basename(path), suite, options, tally)
        runner.run()
        print(
            f"=== totals for {runner.name}: passed {tally.passed - before_passed}, "
            f"failed {tally.failed - before_failed}",
            flush=True,
        )
    if tally.failures:
        print("Failures:")
        for line in tally.failures:
            print(f"  {line}")
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
