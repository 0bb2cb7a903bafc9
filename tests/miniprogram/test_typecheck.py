"""The mini-program's JavaScript type-checks against WeChat's published typings
(miniprogram-api-typings) through its JSDoc: `tsc --noEmit --checkJs` (tsconfig.json)."""

import subprocess

from tests.helpers import missing_service
from tests.servers import ROOT


def test_miniprogram_type_checks_against_wechats_typings():
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        missing_service("needs the mini-program's dev tools (npm ci; make test runs it)")
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [str(tsc), "-p", "tsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
