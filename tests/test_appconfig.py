"""``gmg -cf mediagoblin.ini …``: the URL and the plugins from MediaGoblin's own config file."""

from __future__ import annotations

import pytest

from conftest import BUNDLE, heads, run_gmg, version_rows
from gmg_dbupdate import config, errors
from gmg_dbupdate.appconfig import read_app_config
from gmg_dbupdate.bundle import Bundle

# the shape of MediaGoblin's shipped mediagoblin.ini: sql_engine commented out, plugins as
# nested sections, some with options of their own, some owning no tables
INI = """\
[DEFAULT]
data_basedir = "%(here)s/user_dev"

[mediagoblin]
direct_remote_path = /mgoblin_static/
email_sender_address = "notice@mediagoblin.example.org"
{engine}

[storage:queuestore]
base_dir = %(data_basedir)s/media/queue

[plugins]
[[mediagoblin.plugins.geolocation]]
[[mediagoblin.plugins.basic_auth]]
[[mediagoblin.media_types.image]]
[[mediagoblin.media_types.video]]
vp8_quality = 8
{extra}
"""


def write_ini(path, engine: str = "# sql_engine = postgresql:///mediagoblin", extra: str = ""):
    path.write_text(INI.format(engine=engine, extra=extra), encoding="utf-8")
    return path


# --- the file -------------------------------------------------------------------------------


def test_default_sql_engine_lies_beside_the_file(tmp_path):
    app = read_app_config(write_ini(tmp_path / "mediagoblin.ini"))
    assert app.url == f"sqlite:///{tmp_path}/mediagoblin.db"
    assert app.plugins == (
        "mediagoblin.plugins.geolocation",
        "mediagoblin.plugins.basic_auth",
        "mediagoblin.media_types.image",
        "mediagoblin.media_types.video",
    )


def test_here_and_defaults_interpolate_in_sql_engine(tmp_path):
    ini = write_ini(tmp_path / "m.ini", engine="sql_engine = sqlite:///%(data_basedir)s/x.db")
    assert read_app_config(ini).url == f"sqlite:///{tmp_path}/user_dev/x.db"


@pytest.mark.parametrize(
    "text, words",
    [
        ("[mediagoblin]\nsql_engine = sqlite:///%(nowhere)s/x.db\n", "nowhere"),
        ("[plugins]\nmediagoblin.media_types.image = true\n", "must be sections"),
        ("[mediagoblin\n", "malformed"),
        ("mediagoblin = 1\n", "must be sections"),
        ("[mediagoblin]\nsql_engine = a, b\n", "one string"),
    ],
)
def test_a_bad_file_is_a_configuration_error(tmp_path, text, words):
    (tmp_path / "m.ini").write_text(text)
    with pytest.raises(errors.ConfigError, match=words):
        read_app_config(tmp_path / "m.ini")


def test_a_missing_file_is_a_configuration_error(tmp_path):
    with pytest.raises(errors.ConfigError, match="cannot read"):
        read_app_config(tmp_path / "nope.ini")


def test_precedence_flag_then_environment_then_file_then_default(tmp_path):
    ini = write_ini(tmp_path / "m.ini", engine="sql_engine = sqlite:////from/file.db")
    env = {"GMG_CONFIG": str(ini)}
    assert config.resolve({}, {}, parse=False).url_text == config.DEFAULT_URL
    assert config.resolve({}, env, parse=False).url_text == "sqlite:////from/file.db"
    env_url = {**env, "DATABASE_URL": "sqlite:////from/env.db"}
    assert config.resolve({}, env_url, parse=False).url_text == "sqlite:////from/env.db"
    flag = {"database_url": "sqlite:////from/flag.db", "conf_file": str(ini)}
    assert config.resolve(flag, env_url, parse=False).url_text == "sqlite:////from/flag.db"
    settings = config.resolve({"conf_file": str(ini)}, {}, parse=False)
    assert settings.app_plugins[-1] == "mediagoblin.media_types.video"


def test_plugin_modules_map_to_components_through_the_manifest():
    bundle = Bundle.load(BUNDLE)
    modules = ("mediagoblin.plugins.geolocation", "mediagoblin.media_types.video")
    assert bundle.resolve_plugins(None, modules) == ("video",)
    assert bundle.resolve_plugins("all", modules) == tuple(bundle.plugins)  # the flag wins
    assert bundle.resolve_plugins(None, ()) == ()
    with pytest.raises(errors.ConfigError, match="mediagoblin.plugins.nosuch"):
        bundle.resolve_plugins(None, ("mediagoblin.plugins.nosuch",))


# --- through the CLI --------------------------------------------------------------------------


def test_cf_reads_url_and_plugins(tmp_path):
    ini = write_ini(tmp_path / "mediagoblin.ini")
    result = run_gmg("-cf", str(ini), "dbupdate", cwd=tmp_path.parent)
    assert result.code == 0, result
    assert result.named("dbupdate.start")[0]["plugins"] == ["image", "video"]
    url = f"sqlite:///{tmp_path}/mediagoblin.db"
    expected = {heads()["core"], heads()["image"], heads()["video"]}
    assert version_rows(url) == expected
    check = run_gmg("--conf_file", str(ini), "dbupdate", "--check")
    assert check.code == 0 and check.last["current"] is True, check


def test_gmg_config_environment_and_url_override(tmp_path, pg_url):
    ini = write_ini(tmp_path / "mediagoblin.ini", engine=f"sql_engine = {pg_url}")
    result = run_gmg("dbupdate", env={"GMG_CONFIG": str(ini)})
    assert result.code == 0, result
    assert version_rows(pg_url) == {heads()["core"], heads()["image"], heads()["video"]}
    other = tmp_path / "other.db"
    flagged = run_gmg("-cf", str(ini), "dbupdate", "--database-url", f"sqlite:///{other}")
    assert flagged.code == 0 and other.exists(), flagged


def test_unknown_plugin_in_the_file_exits_64_naming_it(tmp_path):
    ini = write_ini(tmp_path / "mediagoblin.ini", extra="[[mediagoblin.plugins.nosuch]]")
    result = run_gmg("-cf", str(ini), "dbupdate")
    assert result.code == 64, result
    assert "mediagoblin.plugins.nosuch" in result.last["error"]
    assert not (tmp_path / "mediagoblin.db").exists()
