"""The MongoDB shell on the lab's database: the real `mongosh` where Node.js is installed, else a
small Python stand-in that says it is one.

    python -m labkit mongosh                                              # interactive
    python -m labkit mongosh --eval 'db.car_telemetry.countDocuments({})'

    >>> from labkit.ops import mongo_shell
    >>> print(mongo_shell.run('db.car_telemetry.getIndexes()', settings=settings))

mongosh is an npm package. Its version is pinned (MONGOSH_VERSION) and it is installed on first
use into the lab's home folder (`.lab/node`, git-ignored) with `npm install --prefix`: no global
install, no administrator rights. It connects to the settings' MONGODB_URI, database MONGODB_DB.

Without Node.js and npm, or when that install fails (no network), a fallback answers the
few forms the notebooks use (FORMS), with pymongo. Every answer it gives starts by saying
that it is the fallback and what it understands; any other expression is refused with that
list, never guessed at. Filters are JSON (Extended JSON for dates and ids), not JavaScript.

Pure part (tested without a server): `parse` turns an expression into a Query, `shell_uri`
and `mongosh_argv` build the command line. I/O part: `mongosh_path` (installs), `run` (a
notebook: the output as text, with a timeout), `interactive` (a terminal).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from labkit.config import Settings
from labkit.ops import preflight

#: The mongosh release installed with npm (`npm view mongosh versions` lists them).
MONGOSH_VERSION = "2.12.0"
#: How many documents the fallback shows for a find() without limit() (mongosh shows 20 too).
DEFAULT_LIMIT = 20
EXPLAIN_VERBOSITIES = ("queryPlanner", "executionStats", "allPlansExecution")

FORMS = (
    "db.<collection>.find(<filter>)   (the first 20 documents, as mongosh shows)",
    "db.<collection>.find(<filter>).limit(<n>)",
    "db.<collection>.countDocuments(<filter>)",
    "db.<collection>.getIndexes()",
    'db.<collection>.find(<filter>).explain("executionStats")',
)
FILTER_HELP = ('<filter> is JSON, with keys in double quotes: {"car_id": "car-001"}, or empty; dates and ids in '
               'Extended JSON: {"ts": {"$gte": {"$date": "2026-11-27T10:00:00Z"}}}')


class ShellError(RuntimeError):
    """An expression could not be evaluated (mongosh or the fallback said why, in the message)."""


class UnsupportedExpression(ShellError):
    """The fallback does not understand this expression; the message lists what it does."""

    def __init__(self, expression: str, problem: str):
        self.expression = expression
        self.problem = problem
        forms = "\n".join(f"  {form}" for form in FORMS)
        super().__init__(f"{problem}\nThe Python fallback understands only:\n{forms}\n{FILTER_HELP}")


class MongoshUnavailable(ShellError):
    """mongosh cannot run here (no Node.js, or its install failed): the reason, in the message."""


@dataclass(frozen=True)
class Query:
    """One fallback expression, parsed: `db.<collection>.<method>(<filter>)` and what follows."""

    collection: str
    method: str  # "find", "countDocuments" or "getIndexes"
    filter: dict = field(default_factory=dict)
    limit: int | None = None  # find only
    explain: str | None = None  # find only: the verbosity of `.explain(...)`


# ---------------------------------------------------------------- pure: parsing the fallback's forms

_START = re.compile(r"\s*db\.([A-Za-z_]\w*)\.(find|countDocuments|getIndexes)\(")
_CHAINED = re.compile(r"\s*\.\s*(limit|explain)\s*\(")
_QUOTED = re.compile(r"""^\s*(?:"(\w+)"|'(\w+)')?\s*$""")


def parse(expression: str, loads=json.loads) -> Query:
    """The Query `expression` asks for, if it is one of FORMS. `loads` reads the filter
    (json.loads here; the fallback passes bson.json_util.loads, which knows $date and $oid).
    Raises UnsupportedExpression saying what is wrong and which forms there are."""
    text = expression.strip().rstrip(";").rstrip()
    start = _START.match(text)
    if not start:
        raise UnsupportedExpression(expression, f"not one of the fallback's forms: {expression.strip()!r}")
    collection, method = start.groups()
    argument, position = _call_argument(text, start.end(), expression)
    query = Query(collection, method, _filter(argument, method, expression, loads))
    while position < len(text):  # .limit(n) and .explain(...), after find() only
        chained = _CHAINED.match(text, position)
        if not chained or method != "find":
            raise UnsupportedExpression(expression, f"the fallback cannot read {text[position:]!r} after {method}()")
        argument, position = _call_argument(text, chained.end(), expression)
        query = _chain(query, chained.group(1), argument, expression)
    return query


def _call_argument(text: str, start: int, expression: str) -> tuple[str, int]:
    """The text between the "(" ending at `start` and its ")", and the index after that ")".
    Brackets inside strings do not count: {"note": "a)"} is one argument."""
    depth, quote, escaped = 0, None, False
    for i in range(start, len(text)):
        char = text[i]
        if quote:  # inside a string: only its closing quote matters
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                if char != ")":
                    break
                return text[start:i].strip(), i + 1
            depth -= 1
    raise UnsupportedExpression(expression, "unbalanced brackets or quotes")


def _filter(argument: str, method: str, expression: str, loads) -> dict:
    if method == "getIndexes":
        if argument:
            raise UnsupportedExpression(expression, "getIndexes() takes no argument")
        return {}
    if not argument:
        return {}
    try:
        value = loads(argument)
    except ValueError:
        raise UnsupportedExpression(expression, f"{method}'s argument is not one JSON document: {argument!r} "
                                                f"(a projection or options after the filter are not understood)") from None
    if not isinstance(value, dict):
        raise UnsupportedExpression(expression, f"{method}'s filter must be a JSON object, not {argument!r}")
    return value


def _chain(query: Query, method: str, argument: str, expression: str) -> Query:
    if query.explain is not None:
        raise UnsupportedExpression(expression, "nothing can follow .explain(...)")
    if method == "limit":
        if query.limit is not None or not argument.isdigit():
            raise UnsupportedExpression(expression, f"limit() takes one whole number, once (got {argument!r})")
        return Query(query.collection, query.method, query.filter, int(argument), None)
    quoted = _QUOTED.match(argument)
    verbosity = (quoted.group(1) or quoted.group(2) or "queryPlanner") if quoted else None
    if verbosity not in EXPLAIN_VERBOSITIES:
        raise UnsupportedExpression(expression, f"explain() takes one of {', '.join(EXPLAIN_VERBOSITIES)} (got {argument!r})")
    return Query(query.collection, query.method, query.filter, query.limit, verbosity)


# ---------------------------------------------------------------- pure: mongosh's command line


def shell_uri(uri: str, db: str) -> str:
    """`uri` with database `db` in its path, which is where mongosh takes its `db` from. A URI
    that names a database already keeps it: that name is also the one it authenticates against."""
    parts = urlsplit(uri)
    if parts.path.strip("/"):
        return uri
    return urlunsplit(parts._replace(path=f"/{db}"))


#: Where mongosh finds a URI that holds a password (`mongosh_env`).
URI_VARIABLE = "LAB_MONGOSH_URI"


def mongosh_argv(binary: Path | str, settings: Settings, expression: str | None = None) -> list[str]:
    """The command line that runs mongosh on the settings' database: interactive, or `--eval`
    `expression` and exit. --quiet: no banner, no startup warnings (the output is the answer).

    A URI with a password (a class's MongoDB) stays off the command line, which every user of
    the machine can read (`ps`): mongosh starts with no connection and connects to the URI in
    its environment (`mongosh_env`), which only its owner can read."""
    uri = shell_uri(settings.mongodb_uri, settings.mongodb_db)
    if not urlsplit(uri).password:
        return [str(binary), uri, "--quiet", *(["--eval", expression] if expression is not None else [])]
    connect = f"db = connect(process.env.{URI_VARIABLE})"
    if expression is None:
        return [str(binary), "--nodb", "--quiet", "--shell", "--eval", connect]
    return [str(binary), "--nodb", "--quiet", "--eval", f"{connect}; {expression}"]


def mongosh_env(settings: Settings) -> dict[str, str]:
    """The environment mongosh runs with: this process's, and the URI `mongosh_argv` reads."""
    return {**os.environ, URI_VARIABLE: shell_uri(settings.mongodb_uri, settings.mongodb_db)}


# ---------------------------------------------------------------- I/O: installing mongosh

#: Why an install failed, per npm prefix: a notebook's next cell uses the fallback at once
#: instead of waiting for npm to fail again. (A new kernel or command tries again.)
_INSTALL_FAILED: dict[Path, str] = {}


def npm_prefix(settings: Settings) -> Path:
    return settings.lab_home / "node"


def installed_version(prefix: Path) -> str | None:
    """The version of mongosh installed under `prefix`, or None."""
    try:
        return json.loads((prefix / "node_modules" / "mongosh" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def mongosh_path(settings: Settings, log=print, timeout: float = 600.0) -> Path:
    """The pinned mongosh, installed under `<lab_home>/node` with npm on first use (one or
    two minutes, 150 MB). Raises MongoshUnavailable with the reason when Node.js or npm is missing or the install fails."""
    prefix = npm_prefix(settings)
    binary = prefix / "node_modules" / ".bin" / "mongosh"
    if binary.exists() and installed_version(prefix) == MONGOSH_VERSION:
        return binary
    if prefix in _INSTALL_FAILED:
        raise MongoshUnavailable(_INSTALL_FAILED[prefix])
    if not (shutil.which("node") and shutil.which("npm")):
        raise MongoshUnavailable("mongosh needs Node.js and npm, which are not installed")
    log(f"Installing mongosh {MONGOSH_VERSION} into {prefix} with npm (first use only, one or two minutes)...")
    started = time.monotonic()
    prefix.mkdir(parents=True, exist_ok=True)
    # One retry and a one-minute fetch timeout: offline, npm's defaults wait for many minutes.
    argv = ["npm", "install", "--prefix", str(prefix), "--save-exact", "--no-audit", "--no-fund", "--loglevel=error",
            "--fetch-retries=1", "--fetch-timeout=60000", f"mongosh@{MONGOSH_VERSION}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        problem = None if result.returncode == 0 and binary.exists() else \
            "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:]) or f"npm exited with {result.returncode}"
    except subprocess.TimeoutExpired:
        problem = f"npm did not finish within {timeout:.0f} s"
    if problem:
        _INSTALL_FAILED[prefix] = f"installing mongosh {MONGOSH_VERSION} with npm failed: {problem}"
        raise MongoshUnavailable(_INSTALL_FAILED[prefix])
    log(f"  mongosh ready in {time.monotonic() - started:.0f} s")
    return binary


# ---------------------------------------------------------------- I/O: evaluating


def fallback_notice(reason: str) -> str:
    """The line a fallback answer starts with: that it is the fallback, why, what it reads."""
    return (f"[Python fallback, not mongosh ({reason}). It understands only db.C.find(F), db.C.find(F).limit(n), "
            f'db.C.countDocuments(F), db.C.getIndexes() and db.C.find(F).explain("executionStats"), F a JSON filter.]')


SHORT_NOTICE = "[Python fallback, not mongosh]"

#: Reasons whose whole notice this process has shown: a notebook's later shell cells start
#: with the short notice only, so the answers are not buried under the same paragraph.
_noticed: set[str] = set()


def notice_once(reason: str) -> str:
    """`fallback_notice(reason)` the first time in this process, SHORT_NOTICE afterwards."""
    if reason in _noticed:
        return SHORT_NOTICE
    _noticed.add(reason)
    return fallback_notice(reason)


def fallback_answer(expression: str, settings: Settings, timeout: float = 30.0) -> str:
    """Parse `expression` (one of FORMS), run it with pymongo on the settings' database and
    return the answer as Extended JSON text. Raises UnsupportedExpression, or ShellError when
    MongoDB refuses (mongo-java-server has no explain, for one)."""
    from bson import json_util
    from pymongo.errors import PyMongoError

    from labkit.ops import clients

    query = parse(expression, loads=json_util.loads)
    client = clients.mongo_client(settings, socketTimeoutMS=int(timeout * 1000))
    collection = client[settings.mongodb_db][query.collection]
    try:
        if query.method == "countDocuments":
            answer = collection.count_documents(query.filter, maxTimeMS=int(timeout * 1000))
        elif query.method == "getIndexes":
            answer = list(collection.list_indexes())
        elif query.explain:
            find = {"find": query.collection, "filter": query.filter, **({"limit": query.limit} if query.limit else {})}
            answer = collection.database.command("explain", find, verbosity=query.explain)
        else:
            limit = DEFAULT_LIMIT if query.limit is None else query.limit
            answer = list(collection.find(query.filter, max_time_ms=int(timeout * 1000)).limit(limit))
    except PyMongoError as exc:
        raise ShellError(f"MongoDB answered with an error: {exc}") from None
    finally:
        client.close()
    return json_util.dumps(answer, json_options=json_util.RELAXED_JSON_OPTIONS, indent=2)


def run(expression: str, settings: Settings | None = None, timeout: float = 30.0, fallback: bool = False,
        log=print, install: bool = True) -> str:
    """Evaluate `expression` on the settings' database and return the output as text: for a
    notebook cell. mongosh when it can run here (installed on first use), else the fallback,
    whose answer starts with a line saying so (in full the first time). `fallback=True` uses the fallback anyway;
    `install=False` uses mongosh only if it is installed already (a notebook cell should not
    wait a minute or two for npm: `python -m labkit mongosh` installs it once).
    Raises preflight.ServiceUnavailable (MongoDB down), UnsupportedExpression (not one of the
    fallback's forms), ShellError (mongosh's or MongoDB's error, or `timeout` seconds passed)."""
    settings = settings or Settings.from_env()
    preflight.ensure(settings, "mongodb")  # in seconds, with the fix, instead of a 30 s wait
    try:
        if fallback:
            raise MongoshUnavailable("asked for with fallback=True")
        if not install and installed_version(npm_prefix(settings)) != MONGOSH_VERSION:
            raise MongoshUnavailable("mongosh is not installed yet: `python -m labkit mongosh` installs it, once")
        binary = mongosh_path(settings, log)
    except MongoshUnavailable as exc:
        return notice_once(str(exc)) + "\n" + fallback_answer(expression, settings, timeout)
    try:
        result = subprocess.run(mongosh_argv(binary, settings, expression), capture_output=True, text=True,
                                errors="replace", timeout=timeout, env=mongosh_env(settings))
    except subprocess.TimeoutExpired:
        raise ShellError(f"mongosh did not finish within {timeout:.0f} s and was stopped") from None
    if result.returncode != 0:
        raise ShellError((result.stderr or result.stdout).strip() or f"mongosh exited with {result.returncode}")
    return result.stdout.rstrip("\n")


def interactive(settings: Settings, expression: str | None = None, fallback: bool = False) -> int:
    """`python -m labkit mongosh`: mongosh in this terminal (interactive, or `--eval expression`),
    returning its exit code. Without mongosh, the fallback: `expression`, or one expression per
    line read until the end of input. Raises ShellError and preflight.ServiceUnavailable."""
    preflight.ensure(settings, "mongodb")
    try:
        if fallback:
            raise MongoshUnavailable("asked for with --fallback")
        binary = mongosh_path(settings, log=lambda line: print(line, file=sys.stderr))
    except MongoshUnavailable as exc:
        print(fallback_notice(str(exc)), file=sys.stderr)  # stdout: only the answers
        if expression is not None:
            print(fallback_answer(expression, settings))
            return 0
        return _fallback_loop(settings)
    # Ctrl+C is mongosh's (it stops the running command, not the shell): this process waits.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        return subprocess.call(mongosh_argv(binary, settings, expression), env=mongosh_env(settings))
    finally:
        signal.signal(signal.SIGINT, previous)


def _fallback_loop(settings: Settings) -> int:
    """Answer expressions, one per line, until the end of input, `exit` or Ctrl+C."""
    prompt = "fallback> " if sys.stdin.isatty() else ""
    while True:
        try:
            line = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            return 0
        if line in ("exit", "quit", "exit()", "quit()"):
            return 0
        if line:
            try:
                print(fallback_answer(line, settings))
            except ShellError as exc:
                print(f"error: {exc}", file=sys.stderr)
