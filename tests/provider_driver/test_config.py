"""[pharos] options and the oslo.config.opts entry point (no pip: the
committed pharos-0.1.0.dist-info on PYTHONPATH registers it)."""
import os
import subprocess

from conftest import REPO


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.path.join(REPO, 'provider_driver')
    return env


def test_oslo_config_generator_prints_sample():
    out = subprocess.run(['/usr/bin/python3', '-m', 'oslo_config.generator',
                          '--namespace', 'pharos'], env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for opt in ('[pharos]', '#store_url', '#compute_driver = local',
                '#heartbeat_key', '#heartbeat_port = 5555', '#controller_bind',
                '#reconcile_interval', '#heartbeat_timeout', '#agent_binary',
                '#ca_dir'):
        assert opt in out.stdout, opt


def test_entry_points_visible():
    code = ('from importlib.metadata import entry_points as e;'
            'eps = e();'
            'print(sorted((x.group, x.name, x.value) for g in '
            '("octavia.api.drivers", "octavia.driver_agent.provider_agents",'
            ' "oslo.config.opts", "console_scripts") for x in eps.select(group=g)'
            ' if x.name in ("pharos", "pharos-controller")))')
    out = subprocess.run(['/usr/bin/python3', '-c', code], env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "('octavia.api.drivers', 'pharos', 'pharos.driver:PharosProviderDriver')" in out.stdout
    assert "('octavia.driver_agent.provider_agents', 'pharos', 'pharos.controller.agent:run')" in out.stdout
    assert "('oslo.config.opts', 'pharos', 'pharos.config:list_opts')" in out.stdout
    assert "('console_scripts', 'pharos-controller', 'pharos.cmd.controller:main')" in out.stdout


def test_stevedore_loads_the_driver():
    code = ('from stevedore import driver;'
            'm = driver.DriverManager("octavia.api.drivers", "pharos",'
            ' invoke_on_load=True); print(type(m.driver).__name__)')
    out = subprocess.run(['/usr/bin/python3', '-c', code], env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'PharosProviderDriver'


def test_defaults():
    from oslo_config import cfg
    from pharos import config
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([])
    assert conf.pharos.compute_driver == 'local'
    assert config.store_url(conf).startswith('sqlite:////var/lib/pharos/')
    conf.set_override('state_dir', '/tmp/x', 'pharos')
    assert config.store_url(conf) == 'sqlite:////tmp/x/pharos.sqlite'
    assert config.ca_dir(conf) == '/tmp/x/ca'
