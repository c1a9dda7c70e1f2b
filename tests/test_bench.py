"""Smoke test of the benchmark harness (bench/): a quick run of W1 and W2 for adjit and numpy by
hand only, so that it needs neither torch nor jax and stays fast."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a top-level package of the repository, not of adjit
    sys.path.append(str(ROOT))


def test_quick_run_writes_a_report(tmp_path):
    out = tmp_path / "RESULTS.md"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--workloads", "w1,w2",
                          "--peers", "adjit,numpy", "--output", str(out)],
                         cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    for heading in ("## Machine", "## Targets (the issues' goals)", "## W1 scalar", "## W2 cheap gradient",
                    "## adjit: cold compile and warm load"):
        assert heading in text
    # (a row timed while the machine was busy is marked ⚠)
    assert re.search(r"\| adjit cpu( ⚠)? \| ok \(", text) and re.search(r"\| numpy by hand( ⚠)? \| ok \(", text)
    assert "| PyTorch eager | not selected |" in text
    assert "kernel (threadpoolctl)" in text
    assert "W2: grad/f ≤ 2.5 (adjit cpu) | 1 |" in text
    assert text.strip() == run.stdout.strip()  # stdout is the report; progress goes to stderr


def test_missing_peer_is_reported_not_raised(monkeypatch):
    from bench import harness, peers
    real = peers.installed
    monkeypatch.setattr(peers, "installed", lambda package: package != "torch" and real(package))
    data = harness.run_workload("w1", quick=True, selected=["numpy", "torch"], threads=1, log=open(os.devnull, "w"))
    res = harness.Results(data)
    assert res.status("PyTorch eager") == "not installed"
    assert res.status("torch.compile") == "not installed"
    assert res.status("numpy by hand") == "ok"
    assert res.status("adjit cpu") == "not selected"
    assert res.time("numpy by hand", "grad") > 0


def test_a_wrong_result_is_not_timed(monkeypatch):
    from bench import harness, w1_scalar
    monkeypatch.setattr(w1_scalar, "PEERS", [("wrong by hand", "numpy", lambda inp: {"grad": lambda: (0.0, 0.0)})])
    res = harness.Results(harness.run_workload("w1", quick=True, selected=["numpy"], threads=1,
                                               log=open(os.devnull, "w")))
    assert res.status("wrong by hand").startswith("mismatch: grad error")
    assert res.time("wrong by hand", "grad") is None
