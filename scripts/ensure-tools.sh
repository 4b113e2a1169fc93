#!/usr/bin/env bash
# Install the OS-level tools bitforge uses when they are missing and we may
# (root with apt-get); otherwise print the exact command and carry on: the
# tests that need a missing tool skip with that command as their reason.
set -u
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v yosys >/dev/null 2>&1 || missing+=(yosys)
command -v sta >/dev/null 2>&1 || missing+=(opensta)  # OpenSTA: static timing (ppa.timing)
# headless Chromium: the pages the demo and the reports write are checked in it (ppa.browser)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y ${missing[*]}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "bitforge: installing ${missing[*]} with: apt-get update && $cmd"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive $cmd -qq >/dev/null; then
        exit 0
    fi
    echo "bitforge: could not install ${missing[*]}; the tests that need it will skip." >&2
else
    echo "bitforge: ${missing[*]} not found; install it with: sudo $cmd" >&2
fi
exit 0
