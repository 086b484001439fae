"""Compute drivers: where an amphora (pharos-agent + pharos-engine) runs."""


def get_driver(name, conf, **kwargs):
    """The compute driver called `name` ("local" or "nova")."""
    if name == 'local':
        from pharos.compute import local
        return local.LocalCompute(conf, **kwargs)
    if name == 'nova':
        from pharos.compute import nova
        return nova.NovaCompute(conf, **kwargs)
    raise ValueError('unknown compute driver %r' % name)
