"""Every CLI failure ends in one line on stderr and exit status 2 (130 on Ctrl-C), never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TINY_LLM


def run(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    return subprocess.run([sys.executable, "-m", "edge_router", *args], capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=timeout)


def one_line_error(out: subprocess.CompletedProcess, fragment: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("edge-router")]
    assert len(lines) == 1 and fragment in lines[0], out.stderr


def test_an_unwritable_cache_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = run("models", "pull", TINY_LLM, env={"EDGE_ROUTER_CACHE": str(blocker / "cache")})
    one_line_error(out, "EDGE_ROUTER_CACHE")


def test_an_unwritable_trace_file_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = run("route", "Hi", "--local-model", TINY_LLM, env={"EDGE_ROUTER_TRACE": str(blocker / "trace.jsonl")})
    one_line_error(out, "EDGE_ROUTER_TRACE")


def test_a_cloud_url_without_scheme_is_one_line():
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": "127.0.0.1:9/v1", "EDGE_ROUTER_CLOUD_MODEL": "m"}
    out = run("ask", "Hi", "--force", "cloud", "--local-model", TINY_LLM, "--mode", "gate", env=env)
    one_line_error(out, "http://127.0.0.1:9/v1")


def test_a_port_out_of_range_is_refused():
    out = run("serve", "--port", "99999")
    assert out.returncode == 2 and "not a TCP port" in out.stderr and "Traceback" not in out.stderr


def test_a_repetition_penalty_out_of_range_is_refused_in_cli_terms():
    out = run("ask", "Hi", "--repeat-penalty", "0", "--local-model", TINY_LLM)
    assert out.returncode == 2 and "--repeat-penalty" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.real_models
def test_a_forced_route_that_cannot_be_honoured_fails_and_route_prints_no_warning():
    out = run("ask", "Hi", "--force", "cloud", "--local-model", TINY_LLM)
    one_line_error(out, "no cloud model is configured")
    quiet = run("route", "Hi", "--local-model", TINY_LLM)
    assert quiet.returncode == 0 and "local-only" in quiet.stdout and quiet.stderr.strip() == ""


def test_verbosity_after_the_subcommand_and_version():
    assert run("models", "list", "-q").returncode == 0
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("edge-router ")


def test_gate_mode_refuses_the_router_threshold():
    out = run("route", "Hi", "--mode", "gate", "--threshold", "0.3", "--local-model", TINY_LLM,
              env={"EDGE_ROUTER_CLOUD_BASE_URL": "http://127.0.0.1:9/v1", "EDGE_ROUTER_CLOUD_MODEL": "m"})
    one_line_error(out, "--gate-threshold")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.real_models
def test_ctrl_c_during_ask_exits_130_without_a_traceback():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    # Greedy, the small model writes this story up to the token limit (~20 s here), so the signal lands mid-answer.
    proc = subprocess.Popen([sys.executable, "-m", "edge_router", "ask", "Write a very long story about a cat, at "
                             "least 3000 words, in many chapters.", "--temperature", "0",
                             "--local-model", TINY_LLM, "--max-tokens", "1900", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean,
                            # a terminal's Ctrl-C reaches a process that has not ignored SIGINT; a test run in the
                            # background inherits "ignored", so restore the default for the child
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err


@pytest.mark.real_models
def test_a_half_configured_cloud_is_a_clear_error_and_does_not_stop_a_local_query():
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": "http://127.0.0.1:9/v1"}  # no EDGE_ROUTER_CLOUD_MODEL
    one_line_error(run("route", "Hi", "--local-model", TINY_LLM, env=env), "EDGE_ROUTER_CLOUD_MODEL")
    local = run("ask", "Say hi.", "--force", "local", "--max-tokens", "4", "--local-model", TINY_LLM, env=env)
    assert local.returncode == 0 and local.stdout.strip(), local.stderr


@pytest.mark.parametrize("argv", [["ask", "hi", "--mode", "foo"], ["ask", "hi", "--bogus"], ["route"],
                                  ["route", "hi", "--threads", "0"], ["ask", "hi", "--privacy", "sometimes"]])
def test_argparse_errors_are_one_line_and_exit_2(argv):
    out = run(*argv)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("edge-router")


@pytest.mark.real_models
def test_a_forced_cloud_answered_on_the_device_prints_the_answer_and_exits_2():
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": "http://127.0.0.1:9/v1", "EDGE_ROUTER_CLOUD_MODEL": "m"}
    out = run("ask", "Say hi.", "--force", "cloud", "--local-model", TINY_LLM, "--max-tokens", "4",
              "--cloud-deadline", "2", "-q", env=env)
    assert out.returncode == 2 and out.stdout.strip(), out.stderr
    assert out.stderr.strip().splitlines() == [next(line for line in out.stderr.splitlines() if "forced" in line)]
    assert "forced to the cloud, but the local answered" in out.stderr


def test_the_answer_check_without_a_cloud_is_refused():
    out = run("ask", "Hi", "--check", "--local-model", TINY_LLM)
    one_line_error(out, "no cloud is configured")


@pytest.mark.real_models
def test_offline_the_answer_check_is_off_and_says_so():
    out = run("ask", "Hi", "--check", "--max-tokens", "4", "--local-model", TINY_LLM,
              env={"EDGE_ROUTER_OFFLINE": "1"})
    assert out.returncode == 0 and "answer check is off" in out.stderr, out.stderr
