"""The CI/CD definitions name only what exists: the AWX configuration (playbooks/awx_configure.yml),
the Semaphore project (ci/semaphore/boosterbeacon.json), the GitHub workflows, the execution
environment, and the local runner of a workflow's job (scripts/ci-run-job.py)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml
from ansible.plugins.loader import fragment_loader, init_plugin_loader
from ansible.utils.plugin_docs import get_docstring

ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ["staging", "production"]
CONDITIONS = {"when", "that", "failed_when", "changed_when", "until"}


def _strings(node, key=None):
    """Every string of a YAML document, with the key it is the value of."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)
    elif isinstance(node, str):
        yield key, node


def playbook_variables(path):
    """The variables a playbook reads: those its Jinja expressions and conditions name (string
    literals left out), and every option of the argument specs of the collection's roles it runs,
    through the playbooks it imports."""
    doc = yaml.safe_load(path.read_text())
    names, roles = set(), set()
    for key, text in _strings(doc):
        roles.update(re.findall(r"boosterbeacon\.infra\.([a-z_]+)", text))
        expressions = [text] if key in CONDITIONS else [a + b for a, b in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", text, re.S)]
        for expression in expressions:
            expression = re.sub(r"'[^']*'|\"[^\"]*\"", "", expression)
            names.update(re.findall(r"(?<![.\w])([A-Za-z_]\w*)", expression))
        if key and key.endswith("import_playbook"):
            names |= playbook_variables(path.parent / text)
    for role in roles:
        if not (ROOT / "roles" / role).is_dir():
            continue  # a filter or module of the collection
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry in spec["argument_specs"].values():
            names.update(entry.get("options") or {})
    return names


def _missing(paths):
    return sorted(set(p for p in paths if not (ROOT / p).exists()))


# --- AWX / Automation Controller -------------------------------------------------------------

AWX = yaml.safe_load((ROOT / "playbooks" / "awx_configure.yml").read_text())[0]
AWX_TEMPLATES = AWX["vars"]["awx_job_templates"]


def _module_options(module):
    import importlib  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        # The collection loader may already be set up by another test; the doc fragments need it.
        warnings.simplefilter("ignore")
        init_plugin_loader()
    path = importlib.import_module("ansible_collections.awx.awx.plugins.modules." + module).__file__
    doc = get_docstring(path, fragment_loader, collection_name="awx.awx")[0]
    options = set()
    for name, option in doc["options"].items():
        options.add(name)
        options.update(option.get("aliases") or [])
    return options


def test_every_awx_task_uses_options_its_module_has():
    used = 0
    for task in AWX["tasks"]:
        for key, params in task.items():
            if key.startswith("awx.awx."):
                unknown = set(params) - _module_options(key.rsplit(".", 1)[1])
                assert not unknown, "%s: %s has no option %s" % (task["name"], key, sorted(unknown))
                used += 1
    assert used >= 9


def test_awx_job_templates_run_playbooks_that_exist_with_real_survey_variables():
    assert not _missing(t["playbook"] for t in AWX_TEMPLATES), "AWX job templates name missing playbooks"
    for template in AWX_TEMPLATES:
        known = playbook_variables(ROOT / template["playbook"])
        assert set(template["environments"]) <= set(ENVIRONMENTS)
        for question in template.get("survey", []):
            assert question["variable"] in known, "%s: %s is no variable of %s" % (
                template["name"], question["variable"], template["playbook"])
            assert question["type"] in {"text", "integer", "multiplechoice"}
            if question["type"] == "multiplechoice":
                assert question["default"] in question["choices"], question


def test_awx_promotes_to_production_only_after_staging_and_an_approval():
    assert [t["environments"] for t in AWX_TEMPLATES if t["name"] in ("Deploy", "Promote", "Seed")] == [
        ["staging"], ["production"], ["staging"]]
    names = {"%s (%s)" % (t["name"], env) for t in AWX_TEMPLATES for env in t["environments"]}
    workflow = [t for t in AWX["tasks"] if "awx.awx.workflow_job_template" in t][0]["awx.awx.workflow_job_template"]
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    order, node = [], nodes["deploy-staging"]
    while node:
        order.append((node["unified_job_template"]["type"], node["unified_job_template"]["name"]))
        following = node.get("related", {}).get("success_nodes") or []
        node = nodes[following[0]["identifier"]] if following else None
    assert [kind for kind, name in order] == ["job_template", "workflow_approval", "job_template"]
    assert order[0][1] == "Deploy (staging)" and order[2][1] == "Promote (production)"
    assert {order[0][1], order[2][1]} <= names


def test_awx_inventories_are_the_projects_environments():
    assert AWX["vars"]["awx_environments"] == ENVIRONMENTS
    source = [t for t in AWX["tasks"] if "awx.awx.inventory_source" in t][0]["awx.awx.inventory_source"]
    assert source["source_path"] == "inventories/{{ item }}"
    assert _missing("inventories/%s" % env for env in ENVIRONMENTS) == []


def test_playbook_variables_sees_jinja_and_argument_specs_but_not_literals():
    known = playbook_variables(ROOT / "playbooks" / "rollback.yml")
    assert {"release", "app_deploy_serial", "app_deploy_keep_releases"} <= known
    assert "previous" not in playbook_variables(ROOT / "playbooks" / "logs.yml")
    assert "app_deploy_version" in playbook_variables(ROOT / "playbooks" / "site.yml")


# --- Semaphore -------------------------------------------------------------------------------

SEMAPHORE = json.loads((ROOT / "ci" / "semaphore" / "boosterbeacon.json").read_text())


def _names(kind, field="name"):
    names = [item[field] for item in SEMAPHORE[kind]]
    assert len(names) == len(set(names)), "%s has duplicate names" % kind
    return set(names)


def test_semaphore_references_resolve_as_its_restore_checks_them():
    keys, repositories = _names("keys"), _names("repositories")
    inventories, environments, views = _names("inventories"), _names("environments"), _names("views", "title")
    _names("templates")
    for repository in SEMAPHORE["repositories"]:
        assert repository["ssh_key"] in keys
    for inventory in SEMAPHORE["inventories"]:
        assert inventory["ssh_key"] in keys and inventory["type"] == "file"
    for template in SEMAPHORE["templates"]:
        assert template["repository"] in repositories and template["inventory"] in inventories
        assert template["environment"] in environments and template["view"] in views
        assert all(vault["vault_key"] in keys for vault in template["vaults"])
        assert template["type"] in ("", "build") and template["app"] == "ansible"
        assert isinstance(json.loads(template["arguments"]), list)
    for environment in SEMAPHORE["environments"]:
        assert isinstance(json.loads(environment["json"]), dict) and isinstance(json.loads(environment["env"]), dict)


def test_semaphore_templates_run_playbooks_that_exist_with_real_survey_variables():
    assert not _missing(t["playbook"] for t in SEMAPHORE["templates"]), "Semaphore templates name missing playbooks"
    assert not _missing(i["inventory"] for i in SEMAPHORE["inventories"]), "Semaphore names missing inventories"
    for template in SEMAPHORE["templates"]:
        known = playbook_variables(ROOT / template["playbook"])
        for var in template.get("survey_vars", []):
            assert var["name"] in known, "%s: %s is no variable of %s" % (template["name"], var["name"], template["playbook"])
            assert var["type"] in ("", "int", "enum")
            if var["type"] == "enum":
                assert var.get("default_value", var["values"][0]["value"]) in [v["value"] for v in var["values"]]


def test_semaphore_and_awx_offer_the_same_jobs():
    awx = {"%s (%s)" % (t["name"], env): t["playbook"] for t in AWX_TEMPLATES for env in t["environments"]}
    assert {t["name"]: t["playbook"] for t in SEMAPHORE["templates"]} == awx


# --- GitHub workflows, the execution environment, the local job runner ------------------------

def test_the_ci_workflow_runs_every_molecule_scenario():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    scenarios = sorted(p.parent.name for p in ROOT.glob("molecule/*/molecule.yml"))
    assert workflow["jobs"]["molecule"]["strategy"]["matrix"]["scenario"] == scenarios


def test_deploy_jobs_run_the_make_targets_a_person_runs():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]
    runs = {name: [s["run"] for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert 'make deploy ENV="$BB_ENV"' in runs["staging"] and jobs["staging"]["env"]["BB_ENV"] == "staging"
    assert any('make promote ENV="$BB_ENV"' in r for r in runs["production"])
    assert jobs["production"]["needs"] == "staging" and jobs["production"]["environment"]["name"] == "production"


def test_ansible_builder_creates_the_build_context_from_the_pinned_files(tmp_path):
    context = tmp_path / "ee"
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-builder"), "create",
                             "--file", str(ROOT / "execution-environment.yml"), "--context", str(context),
                             "--output-filename", "Containerfile"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (context / "_build" / "requirements.txt").read_text() == (ROOT / "requirements-dev.txt").read_text()
    assert (context / "_build" / "bindep.txt").read_text() == (ROOT / "bindep.txt").read_text()
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-runner==2.4.3" in containerfile and "introspect" in containerfile


RUNNER = ROOT / "scripts" / "ci-run-job.py"


def _run_job(tmp_path, workflow, *args):
    (tmp_path / "wf.yml").write_text(textwrap.dedent(workflow))
    return subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "wf.yml"), "job", *args],
                          capture_output=True, text=True, cwd=tmp_path, check=False)


def test_the_job_runner_passes_secrets_variables_and_github_env_between_steps(tmp_path):
    result = _run_job(tmp_path, """
        jobs:
          job:
            env: {WHERE: staging}
            steps:
              - uses: actions/checkout@0000000000000000000000000000000000000000
              - name: secrets to files
                env: {PASS: "${{ secrets.PASS }}", SHAPE: "${{ vars.SHAPE }}", NONE: "${{ secrets.NONE }}"}
                run: |
                  printf '%s' "$PASS" > "$RUNNER_TEMP/pass"
                  echo "PASS_FILE=$RUNNER_TEMP/pass" >> "$GITHUB_ENV"
                  echo "SHAPE=$SHAPE NONE=[$NONE]" > shape
              - run: echo "$WHERE $(cat "$PASS_FILE")" >> "$GITHUB_STEP_SUMMARY"
        """, "--env", "WHERE=local", "--secret", "PASS=s3cret", "--var", "SHAPE=slack", "--summary", "summary.md")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped, GitHub only" in result.stdout
    assert (tmp_path / "summary.md").read_text() == "local s3cret\n"
    assert (tmp_path / "shape").read_text() == "SHAPE=slack NONE=[]\n"


@pytest.mark.parametrize("step, says", [
    ("uses: someone/action@v1", "only GitHub's checkout"),
    ("run: echo ${{ github.event.head_commit.message }}", "expression in its script"),
    ("{if: failure(), run: 'true'}", "has a condition"),
    ("{run: 'true', env: {X: '${{ steps.a.outputs.b }}'}}", "cannot evaluate"),
])
def test_the_job_runner_refuses_what_it_cannot_run_as_written(tmp_path, step, says):
    result = _run_job(tmp_path, "jobs:\n  job:\n    steps:\n      - %s\n" % step)
    assert result.returncode != 0 and says in result.stderr


def test_the_job_runner_stops_at_the_first_failing_step(tmp_path):
    result = _run_job(tmp_path, "jobs:\n  job:\n    steps:\n      - run: exit 3\n      - run: touch reached\n")
    assert result.returncode == 3 and not (tmp_path / "reached").exists()
