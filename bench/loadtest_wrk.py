"""The wrk side of `make loadtest`: a Lua script rotating request kinds, answers classified.

wrk cannot say which request a response answers (several connections per thread), so each
kind is made to have an answer no other kind has, and responses are classified by status
and body. The script prints one JSON line per wrk thread at the end: what it sent by kind
and what came back by answer.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Answer classes, each expected from exactly one kind.
ANSWERS = {
    "continue": "valid sign-up",
    "blocked": "blocked domain",
    "unusable": "malformed body",
    "validation": "invalid attribute",
    "unauthorized": "bad credentials",
}

_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  -- Built here, not at load time: wrk.format needs the Host wrk sets up before init.
  kinds = {
%(kinds)s
  }
  i = 0
  sent = {}
  got = {}
end
request = function()
  i = i + 1
  local k = kinds[(i %% #kinds) + 1]
  sent[k[1]] = (sent[k[1]] or 0) + 1
  return k[2]
end
local function classify(status, body)
  if status == 200 and body:find('"action":%%s*"Continue"') then return "continue" end
  if status == 200 and body:find('"action":%%s*"ShowBlockPage"') then
    if body:find("not allowed") then return "blocked" end
    if body:find("could not be processed") then return "unusable" end
  end
  if status == 400 and body:find('"action":%%s*"ValidationError"') then return "validation" end
  if status == 401 and body:find('"status":%%s*401') then return "unauthorized" end
  return "unexpected " .. status
end
response = function(status, headers, body)
  local c = classify(status, body)
  got[c] = (got[c] or 0) + 1
end
local function encode(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format("%%q:%%d", k, v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write("LOADTEST " .. '{"sent":' .. encode(t:get("sent")) .. ',"got":' ..
             encode(t:get("got")) .. "}\n")
  end
  io.write(string.format("LOADTEST_LATENCY p50=%%d p99=%%d\n",
           latency:percentile(50), latency:percentile(99)))
  local e = summary.errors
  io.write(string.format("LOADTEST_SOCKET connect=%%d read=%%d write=%%d timeout=%%d\n",
           e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(frozen=True)
class WrkKind:
    name: str  # one of ANSWERS' keys: the answer this kind must get
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class WrkResult:
    sent: dict[str, int]
    got: dict[str, int]
    p50_ms: float
    p99_ms: float
    socket_errors: dict[str, int]


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def write_script(kinds: list[WrkKind], path: Path) -> Path:
    rows = []
    for k in kinds:
        headers = ", ".join(
            f"[ {_lua_string(n)} ] = {_lua_string(v)}"
            for n, v in {"Content-Type": "application/json", **k.headers}.items()
        )
        body = _lua_string(k.body.decode())
        request = f'wrk.format("POST", {_lua_string(k.path)}, {{{headers}}}, {body})'
        rows.append(f"    {{{_lua_string(k.name)}, {request}}},")
    path.write_text(_LUA % {"kinds": "\n".join(rows)})
    return path


def run_wrk(
    wrk: str, url: str, script: Path, seconds: int, connections: int, threads: int = 1
) -> WrkResult:
    done = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    )  # fmt: skip
    out = done.stdout
    sent: dict[str, int] = {}
    got: dict[str, int] = {}
    for line in out.splitlines():
        if line.startswith("LOADTEST "):
            data = json.loads(line.split(" ", 1)[1])
            for target, part in ((sent, data["sent"]), (got, data["got"])):
                for k, v in part.items():
                    target[k] = target.get(k, 0) + v
    lat = re.search(r"LOADTEST_LATENCY p50=(\d+) p99=(\d+)", out)
    sock = re.search(r"LOADTEST_SOCKET connect=(\d+) read=(\d+) write=(\d+) timeout=(\d+)", out)
    if not lat or not sock:
        raise RuntimeError(f"wrk output not understood:\n{out[-2000:]}\n{done.stderr[-2000:]}")
    errors = dict(
        zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True)
    )
    return WrkResult(sent, got, int(lat.group(1)) / 1000, int(lat.group(2)) / 1000, errors)
