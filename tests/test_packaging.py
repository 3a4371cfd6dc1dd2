"""The shipping files, checked offline: Dockerfile, Helm chart, compose file, plain YAML.

The validators live in ``.venv-tools`` (from ``requirements/tools.lock``); the chart is rendered
and linted by Helm's own Go code through ``helm-python-sdk``, in one child process for every
case, and every rendered object is checked by ``kubernetes-validate --strict``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".venv-tools" / "bin"
CHART = REPO / "helm" / "gmg-dbupdate"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.29.0", "1.37.0")
FAIL_FAST = [64, 65, 70, 77]
SNIPPET_START = "# --- gmg-dbupdate dbcheck snippet ---"
SNIPPET_END = "# --- end of snippet ---"

# Runs under .venv-tools/bin/python. stdin: {"chart", "snippet", "cases": [{"id", "file",
# "values", "lint"}]}; stdout: per case id, "lint" and either "objects" (+ "snippet") or "error".
_HELM = r"""
import json, sys
import helm_python as helm
import yaml

def merge(base, override):
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base

job = json.load(sys.stdin)
out = {}
with helm.Chart.load(job["chart"]) as chart:
    for case in job["cases"]:
        values = helm.values_from_yaml(open(case["file"]).read()) if case["file"] else {}
        values = merge(values, case["values"])
        result = out[case["id"]] = {}
        if case.get("lint"):
            result["lint"] = helm.lint(job["chart"], values, strict=True, kube_version="v1.29.0")
        try:
            rendered = chart.render(values, name="mediagoblin", namespace="media", is_install=True)
        except helm.HelmError as exc:
            result["error"] = str(exc)
            continue
        notes = rendered.pop("gmg-dbupdate/templates/NOTES.txt", "")
        result["objects"] = [
            doc for text in rendered.values() for doc in yaml.safe_load_all(text) if doc
        ]
        start, end = job["snippet"]
        if start in notes:
            result["snippet"] = yaml.safe_load(notes[notes.index(start) : notes.index(end)])
print(json.dumps(out))
"""


def tool(name: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TOOLS / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def ci_file(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


# Every case is rendered in one child process (Helm's Go runtime starts once).
CASES = [
    *({"id": f.stem, "file": str(f), "values": {}, "lint": True} for f in CI_VALUES),
    {"id": "defaults", "file": "", "values": {}, "lint": True},
    {"id": "job-same", "file": str(ci_file("job-password-file")), "values": {}},
    {
        "id": "job-new-tag",
        "file": str(ci_file("job-password-file")),
        "values": {"image": {"tag": "0.1.1"}},
    },
    {
        "id": "hook-new-tag",
        "file": str(ci_file("hook-url-file")),
        "values": {"image": {"tag": "0.1.1"}},
    },
    *(
        {
            "id": f"job-{scheme}-url",
            "file": str(ci_file("job-password-file")),
            "values": {"database": {"url": f"{scheme}://mediagoblin@mariadb.db.svc:3306/mg"}},
        }
        for scheme in ("mysql+pymysql", "mariadb+pymysql")
    ),
    {
        "id": "extra-args",
        "file": str(ci_file("hook-url-file")),
        "values": {"extraArgs": ["--plugins", "all"]},
    },
    {  # no database Secret, said with null (Helm drops the key) and a ConfigMap
        "id": "ini-null-secret",
        "file": "",
        "values": {
            "database": {"existingSecret": None},
            "mediagoblinConfig": {"existingConfigMap": "mediagoblin-config"},
        },
        "lint": True,
    },
]
# bad values -> what the error must name
BAD_VALUES = {
    "mode not hook or job": ({"mode": "cron"}, "/mode"),
    "unknown key": ({"databse": {"existingSecret": "x"}}, "databse"),
    "env with password only": (
        {
            "database": {
                "urlKey": "",
                "passwordKey": "pw",
                "url": "postgresql://u@h/d",
                "secretAs": "env",
            }
        },
        "/database",
    ),
    "password in url": (
        {"database": {"urlKey": "", "passwordKey": "pw", "url": "postgresql://u:secret@h/d"}},
        "/database/url",
    ),
    "password with a slash in url": (
        {"database": {"urlKey": "", "passwordKey": "pw", "url": "postgresql://u:se/cret@h/d"}},
        "/database/url",
    ),
    "password in the query string": (
        {"database": {"urlKey": "", "passwordKey": "pw", "url": "postgresql://u@h/d?password=x"}},
        "/database/url",
    ),
    "key passphrase in the query string": (
        {
            "database": {
                "urlKey": "",
                "passwordKey": "pw",
                "url": "postgresql://u@h/d?sslmode=verify-full&sslpassword=x",
            }
        },
        "/database/url",
    ),
    "url key and password key": (
        {"database": {"passwordKey": "pw", "url": "postgresql://u@h/d"}},
        "/database",
    ),
    "a MySQL driver the image does not ship": (
        {"database": {"urlKey": "", "passwordKey": "pw", "url": "mysql+mysqldb://u@h/d"}},
        "/database/url",
    ),
    "password in a MySQL url": (
        {"database": {"urlKey": "", "passwordKey": "pw", "url": "mariadb+pymysql://u:secret@h/d"}},
        "/database/url",
    ),
    "no fail-fast codes": ({"failFastExitCodes": []}, "/failFastExitCodes"),
    "timeout not an integer": ({"waitTimeout": "soon"}, "/waitTimeout"),
    "DDL lock timeout not positive": ({"ddlLockTimeout": 0}, "/ddlLockTimeout"),
    "bad hook delete policy": ({"hook": {"deletePolicy": "never"}}, "/hook/deletePolicy"),
    "deadlines beyond the job's": ({"waitTimeout": 200, "lockTimeout": 100}, "activeDeadline"),
    "no database Secret and no mediagoblin.ini": (
        {"database": {"existingSecret": ""}},
        "mediagoblinConfig",
    ),
    "no database Secret, a password key": (
        {
            "database": {
                "existingSecret": "",
                "urlKey": "",
                "passwordKey": "pw",
                "url": "postgresql://u@h/d",
            },
            "mediagoblinConfig": {"existingConfigMap": "mediagoblin-config"},
        },
        "/database",
    ),
    "mediagoblin.ini from a ConfigMap and a Secret": (
        {"mediagoblinConfig": {"existingConfigMap": "a", "existingSecret": "b"}},
        "/mediagoblinConfig",
    ),
}
CASES += [{"id": f"bad: {k}", "file": "", "values": v} for k, (v, _) in BAD_VALUES.items()]


@pytest.fixture(scope="module")
def rendered() -> dict:
    job = {"chart": str(CHART), "snippet": [SNIPPET_START, SNIPPET_END], "cases": CASES}
    proc = tool("python", "-c", _HELM, stdin=json.dumps(job))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def the_job(result: dict) -> dict:
    assert "error" not in result, result["error"]
    (job,) = [o for o in result["objects"] if o["kind"] == "Job"]
    return job


def test_mediagoblin_ini_is_mounted_and_named_by_gmg_config(rendered):
    job = the_job(rendered["hook-mediagoblin-ini-values"])
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GMG_CONFIG"] == "/etc/mediagoblin/mediagoblin.ini"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/mediagoblin")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "mediagoblin-config"
    assert volume["configMap"]["items"] == [{"key": "mediagoblin.ini", "path": "mediagoblin.ini"}]


@pytest.mark.parametrize("case", ["job-url-from-ini-values", "ini-null-secret"])
def test_url_from_the_mediagoblin_ini_without_a_database_secret(rendered, case):
    """database.existingSecret "" or null with mediagoblinConfig: no DATABASE_* variable, no
    Secret volume; the job reads sql_engine from GMG_CONFIG (flag > env > config file)."""
    result = rendered[case]
    job = the_job(result)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for env_list in (container["env"], result["snippet"]["initContainers"][0]["env"]):
        env = {e["name"]: e.get("value") for e in env_list}
        assert not [n for n in env if n.startswith("DATABASE_")], env
        assert env["GMG_CONFIG"] == "/etc/mediagoblin/mediagoblin.ini"
    names = {"gmg-dbupdate-tmp", "gmg-dbupdate-app-config"}
    assert {v["name"] for v in pod["volumes"]} == names
    assert {m["name"] for m in container["volumeMounts"]} == names
    assert {v["name"] for v in result["snippet"]["volumes"]} == names
    (config,) = [v for v in pod["volumes"] if v["name"] == "gmg-dbupdate-app-config"]
    if case == "job-url-from-ini-values":  # sql_engine holds the password: a Secret
        assert config["secret"]["secretName"] == "mediagoblin-ini"
    else:
        assert config["configMap"]["name"] == "mediagoblin-config"


def test_ci_values_cover_both_modes_and_both_secret_forms():
    texts = [f.read_text() for f in CI_VALUES]
    assert any("mode: hook" in t for t in texts) and any("mode: job" in t for t in texts)
    assert any("secretAs: env" in t for t in texts)
    assert any("passwordKey: password" in t for t in texts)


# --- Dockerfile -----------------------------------------------------------------------------


def test_hadolint_is_clean():
    result = tool("hadolint", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


# --- Helm chart -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", [f.stem for f in CI_VALUES] + ["defaults", "ini-null-secret"])
def test_chart_lints_clean(rendered, case):
    lint = rendered[case]["lint"]
    problems = [m for m in lint["messages"] if m["severity"] >= 2]
    assert not lint["errors"] and not problems, lint


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_objects_are_valid_kubernetes(rendered, tmp_path, kube_version):
    """Every object of every ci values file, and the dbcheck snippet inside an app Pod."""
    files = []
    for case in [f.stem for f in CI_VALUES] + ["defaults", "ini-null-secret"]:
        result = rendered[case]
        assert "error" not in result, result["error"]
        docs = list(result["objects"])
        if "snippet" in result:
            docs.append(app_pod_with(result["snippet"]))
        for n, doc in enumerate(docs):
            path = tmp_path / f"{case}-{n}.json"
            path.write_text(json.dumps(doc))
            files.append(str(path))
    result = tool("kubernetes-validate", "--strict", "-k", kube_version, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def app_pod_with(snippet: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app"},
        "spec": {
            "containers": [{"name": "app", "image": "example/app:1"}],
            **snippet,
        },
    }


@pytest.mark.parametrize("case", [f.stem for f in CI_VALUES] + ["defaults"])
def test_job_is_a_restricted_one_shot(rendered, case):
    job = the_job(rendered[case])
    spec = job["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True and isinstance(sc["runAsUser"], int)
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["args"][0] == "dbupdate"
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume
    # the job's own deadlines fit inside the Job's, which fits inside Helm's default 5 minutes
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (
        int(env["GMG_WAIT_TIMEOUT"]) + int(env["GMG_LOCK_TIMEOUT"]) < spec["activeDeadlineSeconds"]
    )
    assert 0 < float(env["GMG_DDL_LOCK_TIMEOUT"]) < int(env["GMG_LOCK_TIMEOUT"])
    if job["metadata"].get("annotations", {}).get("helm.sh/hook"):
        assert spec["activeDeadlineSeconds"] < 300
    assert isinstance(spec["backoffLimit"], int)
    fail_job, ignore = spec["podFailurePolicy"]["rules"]
    assert fail_job["action"] == "FailJob"
    assert fail_job["onExitCodes"] == {
        "containerName": "dbupdate",
        "operator": "In",
        "values": FAIL_FAST,
    }
    assert ignore == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }


def test_hook_mode_is_a_pre_install_pre_upgrade_hook(rendered):
    job = the_job(rendered["hook-url-file-values"])
    assert job["metadata"]["annotations"] == {
        "helm.sh/hook": "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "-5",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    assert job["metadata"]["name"] == "mediagoblin-gmg-dbupdate"
    assert "ttlSecondsAfterFinished" not in job["spec"]
    defaults = the_job(rendered["defaults"])
    assert defaults["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == (
        "before-hook-creation,hook-succeeded"
    )
    # a hook keeps its name: Helm deletes the previous one before creating it
    assert the_job(rendered["hook-new-tag"])["metadata"]["name"] == job["metadata"]["name"]


def test_job_mode_is_a_plain_job_named_after_its_template(rendered):
    job = the_job(rendered["job-password-file-values"])
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    name = job["metadata"]["name"]
    assert name.startswith("mediagoblin-gmg-dbupdate-") and len(name) <= 63
    assert the_job(rendered["job-same"])["metadata"]["name"] == name
    assert the_job(rendered["job-new-tag"])["metadata"]["name"] != name
    assert "ttlSecondsAfterFinished" not in job["spec"]  # set to null in that values file
    env_job = the_job(rendered["job-url-env-values"])
    assert env_job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert env_job["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1"}


def container_of(result: dict) -> tuple[dict, dict]:
    pod = the_job(result)["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def test_database_url_from_a_mounted_secret_file(rendered):
    pod, container = container_of(rendered["hook-url-file-values"])
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL_FILE"]["value"] == "/var/run/secrets/gmg-dbupdate/url"
    assert "DATABASE_URL" not in env
    mount = next(m for m in container["volumeMounts"] if m["name"] == "gmg-dbupdate-secret")
    assert mount == {
        "name": "gmg-dbupdate-secret",
        "mountPath": "/var/run/secrets/gmg-dbupdate",
        "readOnly": True,
    }
    volume = next(v for v in pod["volumes"] if v["name"] == "gmg-dbupdate-secret")
    assert volume["secret"] == {
        "secretName": "mediagoblin-db",
        "defaultMode": 0o440,
        "items": [{"key": "url", "path": "url"}],
    }
    assert pod["securityContext"]["fsGroup"] == 10001  # so that mode 0440 lets the job read it


def test_password_alone_from_a_mounted_secret_file(rendered):
    pod, container = container_of(rendered["job-password-file-values"])
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["value"] == (
        "postgresql://mediagoblin@postgres.db.svc:5432/mediagoblin"
    )
    assert env["DATABASE_PASSWORD_FILE"]["value"] == "/var/run/secrets/gmg-dbupdate/password"
    assert env["PGSSLMODE"]["value"] == "require"
    volume = next(v for v in pod["volumes"] if v["name"] == "gmg-dbupdate-secret")
    assert volume["secret"]["items"] == [{"key": "password", "path": "password"}]


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_mysql_urls_are_accepted(rendered, scheme):
    _pod, container = container_of(rendered[f"job-{scheme}-url"])
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["value"] == f"{scheme}://mediagoblin@mariadb.db.svc:3306/mg"
    assert env["DATABASE_PASSWORD_FILE"]["value"] == "/var/run/secrets/gmg-dbupdate/password"


def test_database_url_from_a_secret_key_ref(rendered):
    pod, container = container_of(rendered["job-url-env-values"])
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "mediagoblin-db", "key": "database-url"}
    }
    assert "DATABASE_URL_FILE" not in env
    assert env["GMG_PLUGINS"]["value"] == "image,video,archivalook"
    assert not any(v["name"] == "gmg-dbupdate-secret" for v in pod["volumes"])
    assert container["image"].startswith("registry.example.com/gmg-dbupdate@sha256:")


def test_extra_args_follow_dbupdate(rendered):
    _, container = container_of(rendered["extra-args"])
    assert container["args"] == ["dbupdate", "--plugins", "all"]


def test_dbcheck_snippet_waits_read_only_with_the_same_connection(rendered):
    result = rendered["hook-url-file-values"]
    (init,) = result["snippet"]["initContainers"]
    assert init["args"] == ["dbcheck", "--wait"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert env["GMG_WAIT_TIMEOUT"] == "600"
    assert env["DATABASE_URL_FILE"] == "/var/run/secrets/gmg-dbupdate/url"
    assert {v["name"] for v in result["snippet"]["volumes"]} == {
        "gmg-dbupdate-tmp",
        "gmg-dbupdate-secret",
    }
    assert "snippet" not in rendered["job-password-file-values"]  # switched off there


@pytest.mark.parametrize("reason", list(BAD_VALUES))
def test_bad_values_are_rejected(rendered, reason):
    values, named = BAD_VALUES[reason]
    result = rendered[f"bad: {reason}"]
    assert "error" in result, f"accepted: {values}"
    assert named in result["error"], result["error"]
    assert "secret@" not in result["error"]


# --- compose and plain YAML -----------------------------------------------------------------


def test_compose_file_follows_the_compose_spec():
    result = tool(
        "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_wires_the_job_between_database_and_app():
    as_json = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"
    proc = tool("python", "-c", as_json, stdin=(REPO / "docker-compose.yml").read_text())
    assert proc.returncode == 0, proc.stderr
    compose = json.loads(proc.stdout)
    db, migrate, app = (compose["services"][s] for s in ("db", "migrate", "app"))
    assert db["healthcheck"]["test"][:4] == ["CMD", "pg_isready", "-h", "127.0.0.1"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db-password"
    assert "db-password" in db["secrets"] and "db-password" in compose["secrets"]
    assert migrate["restart"] == "no"
    assert migrate["read_only"] is True and migrate["cap_drop"] == ["ALL"]
    assert migrate["environment"]["DATABASE_PASSWORD_FILE"] == "/run/secrets/db-password"
    assert "db-password" in migrate["secrets"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


def test_yamllint_is_clean():
    result = tool("yamllint", "--strict", ".")
    assert result.returncode == 0, result.stdout + result.stderr
