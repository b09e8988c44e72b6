"""Run one job of a GitHub Actions workflow on this machine, step by step, as a runner would.

    python3 scripts/ci-run-job.py WORKFLOW JOB [--env NAME=VALUE] [--secret NAME=VALUE]
        [--var NAME=VALUE] [--input NAME=VALUE] [--summary FILE]

Each `run:` step runs in bash (-e -o pipefail, as GitHub's default shell) from the repository's
root with the job's and the step's environment, `secrets.*`, `vars.*`, `inputs.*` and a few
`github.*` expressions replaced by the values given here (a missing secret or variable is empty,
as on GitHub). Lines a step appends to $GITHUB_ENV reach the later steps; $GITHUB_STEP_SUMMARY is
FILE. `--env` overrides the job's own environment (the inventory, for a local test host).
Steps that use a GitHub action only GitHub runs (checkout: the tree is here already; artifacts;
setup-*) are skipped and named; any other action, a step condition or an expression inside a
`run:` script is refused, so every step that matters runs here exactly as written.
Exits with the first failing step's code.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml

GITHUB_ONLY = ("actions/checkout@", "actions/upload-artifact@", "actions/download-artifact@",
               "actions/setup-node@", "actions/setup-python@")
EXPRESSION = re.compile(r"\$\{\{\s*(secrets|vars|inputs|github)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ANY_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def pairs(items):
    """NAME=VALUE arguments as a dict."""
    result = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("expected NAME=VALUE, got %r" % item)
        result[name] = value
    return result


def evaluate(value, context):
    """A workflow value with its expressions replaced; refuses any expression it cannot evaluate."""
    text = str(value)
    replaced = EXPRESSION.sub(lambda m: str(context[m.group(1)].get(m.group(2), "")), text)
    left = ANY_EXPRESSION.search(replaced)
    if left:
        raise SystemExit("cannot evaluate %s here: use secrets.*, vars.*, inputs.* or github.run_id/sha/ref" % left.group(0))
    return replaced


def read_github_env(path):
    """NAME=value lines (and NAME<<DELIMITER blocks) a step appended to $GITHUB_ENV."""
    values = {}
    with open(path) as handle:
        lines = handle.read().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            while index < len(lines) and lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def run_job(workflow, job_name, args):
    with open(workflow) as handle:
        jobs = yaml.safe_load(handle)["jobs"]
    if job_name not in jobs:
        raise SystemExit("%s has no job %r (it has %s)" % (workflow, job_name, ", ".join(jobs)))
    job = jobs[job_name]
    work = tempfile.mkdtemp(prefix="ci-run-job-")
    github_env = os.path.join(work, "github-env")
    summary = os.path.abspath(args.summary or os.path.join(work, "summary.md"))
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    context = {"secrets": pairs(args.secret), "vars": pairs(args.var), "inputs": pairs(args.input),
               "github": {"run_id": "0", "sha": sha, "ref": "refs/heads/main", "workspace": os.getcwd()}}
    env = dict(os.environ, CI="true", RUNNER_TEMP=work, GITHUB_ENV=github_env, GITHUB_STEP_SUMMARY=summary,
               GITHUB_WORKSPACE=os.getcwd(), GITHUB_SHA=sha)
    env.update({name: evaluate(value, context) for name, value in (job.get("env") or {}).items()})
    env.update(pairs(args.env))
    for number, step in enumerate(job.get("steps") or [], 1):
        name = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
        if "if" in step:
            raise SystemExit("step %d (%s) has a condition: not supported here" % (number, name))
        if "uses" in step:
            if not step["uses"].startswith(GITHUB_ONLY):
                raise SystemExit("step %d uses %s: only GitHub's checkout, artifact and setup actions may be skipped"
                                 % (number, step["uses"]))
            print(">> step %d: %s: skipped, GitHub only" % (number, name), flush=True)
            continue
        if ANY_EXPRESSION.search(step["run"]):
            raise SystemExit("step %d (%s) has an expression in its script: pass it through env" % (number, name))
        step_env = dict(env, **{key: evaluate(value, context) for key, value in (step.get("env") or {}).items()})
        open(github_env, "w").close()
        print(">> step %d: %s" % (number, name), flush=True)
        started = time.time()
        code = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
                              env=step_env, cwd=step.get("working-directory"), check=False).returncode
        print(">> step %d: exit %d after %.0f s" % (number, code, time.time() - started), flush=True)
        if code:
            return code
        env.update(read_github_env(github_env))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflow")
    parser.add_argument("job")
    for option in ("env", "secret", "var", "input"):
        parser.add_argument("--" + option, action="append", metavar="NAME=VALUE")
    parser.add_argument("--summary", help="the job summary's file ($GITHUB_STEP_SUMMARY)")
    args = parser.parse_args()
    sys.exit(run_job(args.workflow, args.job, args))


if __name__ == "__main__":
    main()
