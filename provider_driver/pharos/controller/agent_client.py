"""REST client of one amphora agent: HTTPS with mutual TLS.

The agent's certificate must be signed by the controller CA and name the
amphora id (checked instead of the management address, which a Nova amphora
gets only at boot); the controller presents its client certificate.
"""
import ipaddress

import requests
from requests import adapters


class AgentError(Exception):
    """An error reply of the agent, or no reply at all."""

    def __init__(self, message, status=None, code=None, errors=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.errors = errors or []


class _PinnedHostAdapter(adapters.HTTPAdapter):
    def __init__(self, hostname, **kwargs):
        self._hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs['assert_hostname'] = self._hostname
        return super().init_poolmanager(*args, **kwargs)


class AgentClient:
    def __init__(self, amphora_id, address, port, ca_file, client_cert,
                 timeout=10.0):
        host = address
        if ':' in address and ipaddress.ip_address(address).version == 6:
            host = '[%s]' % address
        self.base = 'https://%s:%d/v1' % (host, port)
        self.timeout = timeout
        self.session = requests.Session()
        # no proxies and no REQUESTS_CA_BUNDLE from the environment: only the
        # controller CA, straight to the management address
        self.session.trust_env = False
        self.session.verify = ca_file
        self.session.cert = client_cert
        self.session.mount('https://', _PinnedHostAdapter(amphora_id))

    def close(self):
        self.session.close()

    def _call(self, method, path, **kwargs):
        try:
            reply = self.session.request(method, self.base + path,
                                         timeout=self.timeout, **kwargs)
        except requests.RequestException as e:
            raise AgentError('agent unreachable: %s' % e)
        try:
            body = reply.json()
        except ValueError:
            body = None
        if reply.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise AgentError(body.get('message') or reply.text[:500],
                             status=reply.status_code, code=body.get('code'),
                             errors=body.get('errors'))
        return body

    def info(self):
        return self._call('GET', '/info')

    def put_config(self, config_text):
        """PUT the engine config document (JSON text); 200 {version, changed}."""
        return self._call('PUT', '/config', data=config_text.encode(),
                          headers={'Content-Type': 'application/json'})

    def status(self):
        return self._call('GET', '/status')

    def stats(self):
        return self._call('GET', '/stats')
