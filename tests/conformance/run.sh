#!/usr/bin/env bash
# Runs the SCIM conformance suites against a running server:
#   1. Okta's SPEC test (current)            via runscope.py
#   2. Okta's SPEC test (Jan 2023 variant)   via runscope.py
#   3. scim2-tester                           via the scim2 CLI: every check SUCCESS
#   4. scim-sanity probe, strict mode         no FAIL, no ERR
#
# usage: run.sh BASE_URL TOKEN
#   BASE_URL  the SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2
#   TOKEN     a bearer token with scim:read and scim:write
#
# Environment:
#   CONFORMANCE_VENV   virtualenv for the PyPI tools (default: .venv next to this script)
#   OKTA_RUNSCOPE_DIR  folder with Okta's Runscope exports
#                      (default: shared/conformance/okta-runscope beside the repository)
#   PYTHON             interpreter that creates the virtualenv (default: python3, 3.11+)
#
# Exits 0 only if every suite passed. Ends with "N passed, M failed", counting suites.
# The suites create, change and delete users and groups: never point it at production.

set -uo pipefail

if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: $0 BASE_URL TOKEN" >&2
    exit 2
fi
BASE_URL=${1%/}
TOKEN=$2

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${CONFORMANCE_VENV:-$HERE/.venv}
OKTA_DIR=${OKTA_RUNSCOPE_DIR:-$HERE/../../../shared/conformance/okta-runscope}
PYTHON=${PYTHON:-python3}
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT

# Tokens travel in the environment, not on the command line, where every
# local user could read them (scim-sanity is the exception: it has only --token).
export RUNSCOPE_AUTH="Bearer $TOKEN"

passed=0
failed=0
results=()

section() {
    echo
    echo "=================================================================="
    echo "== $1"
    echo "=================================================================="
}

verdict() { # name ok(0|1) detail
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        results+=("PASS  $1: $3")
    else
        failed=$((failed + 1))
        results+=("FAIL  $1: $3")
    fi
    echo "-- $1: $([ "$2" -eq 0 ] && echo PASS || echo FAIL) ($3)"
}

section "setup: virtualenv $VENV"
tools_ok=0
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || tools_ok=1
fi
if [ "$tools_ok" -eq 0 ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$HERE/requirements.txt" || tools_ok=1
fi
if [ "$tools_ok" -eq 0 ]; then
    PY="$VENV/bin/python"
    echo "tools: $("$VENV/bin/python" -m pip freeze --disable-pip-version-check \
        | grep -iE '^(scim2-cli|scim2-tester|scim-sanity)==' | tr '\n' ' ')"
else
    PY=$PYTHON
    echo "could not prepare $VENV: scim2-tester and scim-sanity will count as failed"
fi

# --- Okta SPEC tests -------------------------------------------------------
okta_suite() { # name file
    local name=$1 file=$2
    section "$name: $(basename "$file")"
    if [ ! -f "$file" ]; then
        verdict "$name" 1 "missing $file (set OKTA_RUNSCOPE_DIR)"
        return
    fi
    "$PY" "$HERE/runscope.py" --base-url "$BASE_URL" "$file" | tee "$LOGDIR/$name.log"
    local rc=${PIPESTATUS[0]}
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/$name.log" | tail -n 1)
    verdict "$name" "$([ "$rc" -eq 0 ] && echo 0 || echo 1)" "${summary:-no summary, exit $rc} checks"
}

section "seed: at least one user for Okta's SPEC test"
if ! "$PY" "$HERE/seed_user.py" --base-url "$BASE_URL"; then
    echo "seed failed: the SPEC tests' first steps will fail"
fi

okta_suite okta-spec "$OKTA_DIR/Okta-SCIM-20-SPEC-Test.json"
okta_suite okta-spec-2023 "$OKTA_DIR/Okta-SCIM-20-SPEC-Test.2023-01-d71e26bdab.json"

# --- scim2-tester ----------------------------------------------------------
section "scim2-tester (scim2 test): every check must be SUCCESS"
if [ "$tools_ok" -eq 0 ]; then
    SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN" \
        "$VENV/bin/scim2" --url "$BASE_URL" test 2>&1 | tee "$LOGDIR/scim2-tester.log"
    rc=${PIPESTATUS[0]}
    # One line per check: "<STATUS> <title>". Colours are off when piped; strip them anyway.
    statuses=$(sed -e 's/\x1b\[[0-9;]*m//g' "$LOGDIR/scim2-tester.log" \
        | grep -oE '^(SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) ' || true)
    total=$(printf '%s' "$statuses" | grep -c . || true)
    ok=$(printf '%s' "$statuses" | grep -c '^SUCCESS' || true)
    bad=$((total - ok))
    if [ "$rc" -eq 0 ] && [ "$total" -gt 0 ] && [ "$bad" -eq 0 ]; then
        verdict scim2-tester 0 "$ok of $total checks SUCCESS"
    else
        echo "not SUCCESS:"
        sed -e 's/\x1b\[[0-9;]*m//g' "$LOGDIR/scim2-tester.log" \
            | grep -E '^(COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) ' | sed 's/^/  /'
        verdict scim2-tester 1 "$ok of $total checks SUCCESS, $bad not, exit $rc"
    fi
else
    verdict scim2-tester 1 "tools not installed"
fi

# --- scim-sanity -----------------------------------------------------------
section "scim-sanity probe --strict: no FAIL, no ERR"
if [ "$tools_ok" -eq 0 ]; then
    "$VENV/bin/scim-sanity" probe "$BASE_URL" --token "$TOKEN" --strict \
        --i-accept-side-effects 2>&1 | tee "$LOGDIR/scim-sanity.log"
    rc=${PIPESTATUS[0]}
    plain=$(sed -e 's/\x1b\[[0-9;]*m//g' "$LOGDIR/scim-sanity.log")
    n_pass=$(printf '%s\n' "$plain" | grep -cE '^\s*\[PASS\]' || true)
    n_fail=$(printf '%s\n' "$plain" | grep -cE '^\s*\[(FAIL|ERR ?)\]' || true)
    n_warn=$(printf '%s\n' "$plain" | grep -cE '^\s*\[WARN\]' || true)
    n_skip=$(printf '%s\n' "$plain" | grep -cE '^\s*\[SKIP\]' || true)
    detail="$n_pass PASS, $n_fail FAIL/ERR, $n_warn WARN, $n_skip SKIP"
    if [ "$rc" -eq 0 ] && [ "$n_pass" -gt 0 ] && [ "$n_fail" -eq 0 ]; then
        verdict scim-sanity 0 "$detail"
    else
        verdict scim-sanity 1 "$detail, exit $rc"
    fi
else
    verdict scim-sanity 1 "tools not installed"
fi

# --- summary ---------------------------------------------------------------
section "summary"
for line in "${results[@]}"; do
    echo "$line"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
