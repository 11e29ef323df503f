"""Tests of runscope.py: its reading of Runscope exports, against a stub server.

Run with: python3 -m unittest discover -s tests/conformance -p 'test_*.py'
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import runscope

HERE = os.path.dirname(os.path.abspath(__file__))
OKTA_DIR = os.environ.get(
    "OKTA_RUNSCOPE_DIR", os.path.join(HERE, "..", "..", "..", "shared", "conformance", "okta-runscope")
)
TOKEN = "Bearer test-token"


class StubScim(BaseHTTPRequestHandler):
    """A few canned SCIM answers; records the raw request line of every call."""

    seen: list[dict[str, Any]] = []

    def log_message(self, *_args: Any) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, body: Any = None) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        StubScim.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.headers.get("Authorization") != TOKEN:
            self._reply(401, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                              "status": "401", "detail": "no"})
        elif self.path.startswith("/scim/v2/Users?"):
            self._reply(200, {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
                "Resources": [{"id": "u-1", "active": False, "name": {"familyName": "F"}}],
            })
        elif self.path == "/scim/v2/Users/u-1":
            self._reply(200, {"id": "u-1", "userName": "Mixed@Example.com", "members": []})
        elif self.path == "/scim/v2/Groups/empty":
            self._reply(204)
        elif self.path == "/scim/v2/text":
            raw = b"not json"
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        else:
            self._reply(404, {"detail": "not found", "status": "404"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class ServerCase(unittest.TestCase):
    """Starts the stub on a port the OS picked; it listens before any request is made."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), StubScim)
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}/scim/v2"
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self) -> None:
        StubScim.seen.clear()

    def run_suite(self, steps: list[dict[str, Any]], *extra: str) -> tuple[int, str]:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump({"name": "stub suite", "steps": steps}, handle)
            path = handle.name
        self.addCleanup(os.unlink, path)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = runscope.main(["--base-url", self.base, "--auth", TOKEN, *extra, path])
        return code, out.getvalue()


def request(url: str, assertions: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    step = {
        "step_type": "request", "method": "GET", "url": url, "note": "n",
        "headers": {"Authorization": ["{{auth}}"]}, "assertions": assertions,
        "variables": [], "scripts": [], "before_scripts": [],
    }
    step.update(more)
    return step


def assertion(comparison: str, prop: str | None = None, value: str | None = None,
              source: str = "response_json") -> dict[str, Any]:
    return {"source": source, "comparison": comparison, "property": prop, "value": value}


def summary(output: str) -> tuple[int, int]:
    last = output.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert match, f"last line is not a summary: {last!r}"
    return int(match.group(1)), int(match.group(2))


class PathTests(unittest.TestCase):
    def test_resolves_nested_paths_and_reports_missing(self) -> None:
        doc = {"Resources": [{"name": {"familyName": "F"}, "emails": [{"value": "e"}]}]}
        self.assertEqual(runscope.resolve(doc, "Resources[0].name.familyName"), "F")
        self.assertEqual(runscope.resolve(doc, "Resources[0].emails[0].value"), "e")
        self.assertIs(runscope.resolve(doc, "Resources[1].id"), runscope.MISSING)
        self.assertIs(runscope.resolve(doc, "Resources.id"), runscope.MISSING)
        self.assertIs(runscope.resolve({"a": None}, "a.b"), runscope.MISSING)

    def test_rejects_unparseable_path(self) -> None:
        with self.assertRaises(ValueError):
            runscope.parse_path("a[x]")


class ComparisonTests(unittest.TestCase):
    def check(self, comparison: str, actual: Any, expected: str = "") -> bool:
        return runscope.COMPARISONS[comparison](actual, expected)[0]

    def test_equal_compares_text(self) -> None:
        self.assertTrue(self.check("equal", 401, "401"))
        self.assertTrue(self.check("equal", "401", "401"))
        self.assertTrue(self.check("equal", True, "true"))
        self.assertTrue(self.check("equal", False, "false"))
        self.assertFalse(self.check("equal", True, "True"))
        self.assertFalse(self.check("equal", runscope.MISSING, ""))

    def test_numbers_must_be_json_numbers(self) -> None:
        self.assertTrue(self.check("equal_number", 0, "0"))
        self.assertFalse(self.check("equal_number", "0", "0"))
        self.assertFalse(self.check("equal_number", False, "0"))
        self.assertTrue(self.check("is_a_number", 3))
        self.assertFalse(self.check("is_a_number", "3"))
        self.assertFalse(self.check("is_a_number", True))
        self.assertTrue(self.check("is_less_than", 599.9, "600"))
        self.assertFalse(self.check("is_less_than", 600, "600"))

    def test_emptiness(self) -> None:
        for empty in (runscope.MISSING, None, "", [], {}):
            self.assertFalse(self.check("not_empty", empty), empty)
            self.assertTrue(self.check("empty", empty), empty)
        for full in (False, 0, "x", [1], {"a": 1}):
            self.assertTrue(self.check("not_empty", full), full)

    def test_array_membership_is_by_element(self) -> None:
        urn = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        self.assertTrue(self.check("has_value", [urn], urn))
        self.assertTrue(self.check("contains", [urn], urn))
        self.assertFalse(self.check("contains", [urn], "ListResponse"))
        self.assertTrue(self.check("contains", "abc", "b"))
        self.assertFalse(self.check("has_value", "abc", "abc"))
        self.assertTrue(self.check("has_key", {"a": 1}, "a"))


class InitialScriptTests(unittest.TestCase):
    def test_spec_variables_follow_the_javascript(self) -> None:
        rng = runscope.random.Random(7)
        v = runscope.initial_spec_2023(rng)
        self.assertRegex(v["randomGivenName"], r"^Runscope\d{3}$")
        self.assertRegex(v["randomFamilyName"], r"^[A-Z][a-z]{8}\d{3}$")
        self.assertEqual(v["randomEmail"], v["randomGivenName"] + v["randomFamilyName"] + "@atko.com")
        self.assertEqual(v["randomUsername"], v["randomEmail"])
        self.assertEqual(v["randomUsernameCaps"], v["randomEmail"].upper())
        self.assertEqual(v["UserIdThatDoesNotExist"], "010101001010101011001010101011")
        self.assertRegex(v["randomGroupName"], r"^Runscope\d{3}$")

    def test_detection(self) -> None:
        self.assertEqual(runscope.detect_initial_script('"{{randomGroupName}}" {{randomEmail}}'), "spec-2023")
        self.assertEqual(runscope.detect_initial_script('"{{randomEmail}}"'), "spec")
        self.assertEqual(runscope.detect_initial_script('"{{okta_user_email}}"'), "crud")


class RunTests(ServerCase):
    def test_variables_flow_between_steps_and_urls_are_encoded(self) -> None:
        steps = [
            request("{{SCIMBaseURL}}/Users?filter=userName eq \"{{randomUsername}}\"",
                    [assertion("equal_number", value="200", source="response_status"),
                     assertion("is_a_number", "totalResults")],
                    variables=[{"source": "response_json", "name": "uid", "property": "Resources[0].id"}]),
            {"step_type": "pause", "duration": 30},
            request("{{SCIMBaseURL}}/Users/{{uid}}", [assertion("equal", "id", "{{uid}}")]),
        ]
        started = time.monotonic()
        code, out = self.run_suite(steps)
        self.assertLess(time.monotonic() - started, 5, "a 30 s pause must not be slept in full")
        self.assertEqual(code, 0, out)
        self.assertEqual(summary(out), (3, 0))
        first, second = StubScim.seen
        self.assertRegex(first["path"], r'^/scim/v2/Users\?filter=userName%20eq%20%22Runscope\d{3}')
        self.assertEqual(first["headers"]["Authorization"], TOKEN)
        self.assertEqual(second["path"], "/scim/v2/Users/u-1")

    def test_failures_are_counted_and_reported_with_actual_values(self) -> None:
        steps = [request("{{SCIMBaseURL}}/Users?count=1", [
            assertion("equal_number", value="201", source="response_status"),
            assertion("not_empty", "Resources[0].name.givenName"),
            assertion("equal", "Resources[0].active", "true"),
            assertion("not_empty", "Resources[0].active"),
            assertion("is_less_than", value="600", source="response_time"),
        ])]
        code, out = self.run_suite(steps)
        self.assertEqual(code, 1)
        self.assertEqual(summary(out), (2, 3))
        self.assertIn("FAIL  [", out)
        self.assertIn("(actual: 200)", out)
        self.assertIn("(actual: <missing>)", out)
        self.assertIn("(actual: false)", out)

    def test_missing_variable_fails_where_it_starts_and_where_it_is_used(self) -> None:
        steps = [
            request("{{SCIMBaseURL}}/Users?count=1", [],
                    variables=[{"source": "response_json", "name": "gid", "property": "Resources[0].nope"}]),
            request("{{SCIMBaseURL}}/Groups/{{gid}}", [assertion("equal_number", value="404", source="response_status")]),
        ]
        code, out = self.run_suite(steps)
        self.assertEqual(code, 1)
        self.assertEqual(summary(out), (1, 2))
        self.assertIn("unresolved variables in the request: gid", out)

    def test_wrong_token_header_is_sent_verbatim(self) -> None:
        steps = [request("{{SCIMBaseURL}}/Users?count=1", [
            assertion("equal_number", value="401", source="response_status"),
            assertion("equal", "status", "401"),
        ], headers={"Authorization": ["non-token"]})]
        code, out = self.run_suite(steps)
        self.assertEqual((code, summary(out)), (0, (2, 0)), out)
        self.assertEqual(StubScim.seen[0]["headers"]["Authorization"], "non-token")

    def test_unknown_comparison_source_step_and_script_fail_loudly(self) -> None:
        steps = [
            request("{{SCIMBaseURL}}/Users/u-1", [
                assertion("matches_regex", "id", "u-.*"),
                assertion("equal", "id", "u-1", source="response_xml"),
            ], scripts=["assert(true);", ""]),
            {"step_type": "subtest"},
        ]
        code, out = self.run_suite(steps)
        self.assertEqual(code, 1)
        self.assertEqual(summary(out), (0, 4))
        self.assertIn("unsupported comparison 'matches_regex'", out)
        self.assertIn("unsupported source 'response_xml'", out)
        self.assertIn("unknown scripts", out)
        self.assertIn("unsupported step_type 'subtest'", out)

    def test_non_json_body_fails_json_assertions(self) -> None:
        code, out = self.run_suite([request("{{SCIMBaseURL}}/text", [assertion("not_empty", "id")])])
        self.assertEqual(code, 1)
        self.assertIn("body is not JSON", out)

    def test_unreachable_server_fails_every_assertion(self) -> None:
        steps = [request("http://127.0.0.1:9/x", [
            assertion("equal_number", value="200", source="response_status"),
            assertion("is_less_than", value="600", source="response_time"),
        ])]
        code, out = self.run_suite(steps, "--timeout", "2")
        self.assertEqual((code, summary(out)), (1, (0, 2)))


class ScriptTests(ServerCase):
    GROUPS = (
        'var data = JSON.parse(response.body);\nvar max = data.totalResults;\nvar res = data.Resources;\n'
        'var exists = false;\n\nif (max === 0)\n\tassert("nogroups", "No Groups found in the endpoint");\n'
        'else if (max >= 1 && Array.isArray(res)) {\n    exists = true;\n'
        '    assert.ok(exists, "Resources is of type Array");\n\tlog(exists);\n}'
    )
    MEMBERS = (
        "var data = JSON.parse(response.body);\n// the non-script assertion 'isEmpty' checks if a string "
        "is empty, the ChaiJS version can handle arrays\nexpect(data.members).to.be.empty;"
    )
    LOWER = (
        "var data = JSON.parse(response.body);\nassert.notEqual(data.userName.toLowerCase(),"
        "variables.get(\"randomUsername\"),'ISVuserNameLower matches with InitialuserName');"
    )

    def test_known_scripts_are_evaluated(self) -> None:
        steps = [
            request("{{SCIMBaseURL}}/Users?count=1", [], scripts=[self.GROUPS]),
            request("{{SCIMBaseURL}}/Users/u-1", [], scripts=[self.MEMBERS, self.LOWER]),
        ]
        code, out = self.run_suite(steps, "--var", "randomUsername=other@example.com")
        self.assertEqual((code, summary(out)), (0, (3, 0)), out)

    def test_scripts_fail_on_what_the_javascript_would_reject(self) -> None:
        steps = [
            # A 204 has no body: JSON.parse throws.
            request("{{SCIMBaseURL}}/Groups/empty", [], scripts=[self.MEMBERS]),
            # No "members" at all: chai's .empty throws on undefined.
            request("{{SCIMBaseURL}}/Users?count=1", [], scripts=[self.MEMBERS]),
            # A list without Resources and totalResults != 0.
            request("{{SCIMBaseURL}}/Users/u-1", [], scripts=[self.GROUPS, self.LOWER]),
        ]
        code, out = self.run_suite(steps, "--var", "randomUsername=mixed@example.com")
        self.assertEqual((code, summary(out)), (1, (0, 4)), out)
        self.assertIn("chai's .empty throws", out)

    def test_every_script_in_okta_files_is_known(self) -> None:
        if not os.path.isdir(OKTA_DIR):
            self.skipTest(f"Okta exports not found in {OKTA_DIR}")
        names = [n for n in os.listdir(OKTA_DIR) if n.endswith(".json")]
        self.assertTrue(names)
        for name in names:
            with open(os.path.join(OKTA_DIR, name), encoding="utf-8") as handle:
                suite = json.load(handle)
            for step in suite["steps"]:
                for script in step.get("scripts", []) + step.get("before_scripts", []):
                    key = runscope.normalise_script(script)
                    self.assertTrue(key == "" or key in runscope.KNOWN_SCRIPTS, f"{name}: {script[:60]!r}")
                for a in step.get("assertions", []):
                    self.assertIn(a["comparison"], runscope.COMPARISONS, name)


if __name__ == "__main__":
    unittest.main()
