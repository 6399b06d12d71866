"""Bad input fails the checks a deploy makes before its first change, naming the variable; good
input passes them. No test host: an ansible-playbook run (checks.yml, in check mode, on this
machine) checks many cases, each a host of its own in a generated inventory; a few runs side by
side check the cases pytest selected (`-k workers` runs only those).

That nothing changes on a real host when a check fails is each scenario's one on-host case
(scenario.assert_bad_input_changes_nothing); here is every rule's case, in seconds. Add a case
here for each new rule; test_coverage.py fails for an option of an argument spec with no case.

    python -m pytest tests/inputs      (with the project's venv on PATH)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests" / "lib"))
from scenario import failure_messages  # noqa: E402  (the scenarios read failures the same way)

PLAYBOOK = Path(__file__).with_name("checks.yml")
STATIC = {"prefix": "/static/", "dir": "/srv/badinput/static"}
ACME = {"tls_mode": "acme", "proxy_server_name": "app.acme.test", "proxy_server_aliases": ["www.acme.test"],
        "tls_acme_directory": "https://ca.acme.test:14000/dir", "tls_acme_email": "ops@acme.test",
        "tls_acme_terms_agreed": True}
# Shapes only: the checks look at the PEM armour, never at (or in a message show) the content.
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"
FEATURES = {
    "service_workers": 2, "service_prometheus_multiproc": True, "service_limit_concurrency": 1000,
    "service_backlog": 512, "proxy_static_locations": [STATIC], "proxy_stub_status_path": "/nginx_status",
    "proxy_access_log_format": "json", "proxy_limit_req": [{"prefix": "/api/", "rate": "5r/s", "burst": 5}],
    "proxy_maintenance_switch": True, "proxy_error_pages": True, "proxy_read_timeout": 3,
    "proxy_lb_health_port": 8080, "proxy_http2": "false", "proxy_hsts_include_subdomains": "false",
}

# A git server's host key line, and an ssh source with a deploy key (any existing file: these
# cases fail before anyone reads it).
KNOWN_HOST = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
GIT_SSH = {"app_source_type": "git", "app_source": "git@git.example.com:team/app.git", "app_source_version": "v1",
           "app_source_ssh_key": str(PROJECT / "README.md"), "app_source_known_hosts": [KNOWN_HOST]}

# A load balancer's: the balancer role's checks run for a case that gives balancer_servers.
BALANCER = {"balancer_servers": ["10.0.0.5:8000", "[fd00::6]:8000"]}

# (id, variables, what the failure message must say: the variable and, where the rule says it,
# what is allowed). The variables are a deploy's -e, as the scenarios gave them.
BAD = [
    # The short variables and the service role.
    ("workers-0", {"workers": 0}, "service_workers (-e workers=N) must be an integer from 1 to 64 or 'auto', got '0'"),
    ("workers-negative", {"workers": -1}, "service_workers (-e workers=N) must be an integer from 1 to 64"),
    ("workers-word", {"workers": "abc"}, "service_workers (-e workers=N) must be an integer from 1 to 64"),
    ("workers-65", {"workers": 65}, "service_workers (-e workers=N) must be an integer from 1 to 64"),
    ("app-module", {"app_module": "main.app"}, "service_app (-e app_module=...) must be module:attribute"),
    ("service-socket", {"service_socket": "/tmp/app.sock"}, "service_socket must be a path directly under a directory of /run"),
    ("fastapi-unix", {"service_launcher": "fastapi"}, "service_launcher fastapi needs service_bind tcp"),
    ("service-host", {"service_bind": "tcp", "service_host": "*.example.com"}, "service_host must be an IPv4/IPv6 address or a host name"),
    ("service-port", {"service_bind": "tcp", "service_port": 0}, "service_port must be from 1 to 65535"),
    ("firewall-unix", {"service_firewall": True}, "service_firewall needs service_bind tcp and one IPv4/IPv6 address as service_host"),
    ("firewall-host-name", {"service_firewall": True, "service_bind": "tcp", "service_host": "app.example.com"},
     "service_firewall needs service_bind tcp and one IPv4/IPv6 address as service_host"),
    ("firewall-allow", {"service_firewall_allow": ["10.0.0.2", "10.0.0.3; drop"]},
     "service_firewall_allow (in a cluster: cluster_firewall_allow) must list IPv4/IPv6 addresses or networks"),
    ("forwarded-allow-ips", {"service_forwarded_allow_ips": "10.0.0.1;x"}, "service_forwarded_allow_ips must be empty, '*' or comma-separated"),
    ("memory-max", {"service_memory_max": "1 GB"}, "service_memory_high/service_memory_max must be empty, bytes with K/M/G/T, or a percentage"),
    ("extra-args", {"service_extra_args": ["--log-level debug"]}, "service_extra_args items must not contain spaces or ';'"),
    ("prometheus-multiproc", {"service_prometheus_multiproc": "maybe"}, "service_prometheus_multiproc"),
    ("limit-concurrency", {"service_limit_concurrency": -5}, "service_limit_concurrency must be 0 (no limit) or more connections"),
    ("backlog", {"service_backlog": 100000}, "service_backlog must be from 0 (the defaults) to 65535 connections"),
    ("backlog-fastapi", {"service_launcher": "fastapi", "service_bind": "tcp", "service_backlog": 100},
     "service_limit_concurrency and service_backlog need service_launcher uvicorn"),
    ("factory-fastapi", {"service_launcher": "fastapi", "service_bind": "tcp", "service_factory": True},
     "service_factory needs service_launcher uvicorn (fastapi run has no --factory option)"),
    ("factory-not-bool", {"service_factory": "maybe"}, "service_factory"),
    ("proc-subset", {"service_proc_subset": "none"}, "service_proc_subset"),
    ("tls-no-key", {"service_bind": "tcp", "service_tls_cert": PEM_CERT}, "service_tls_cert and service_tls_key must both be PEM"),
    ("tls-unix", {"service_tls_cert": PEM_CERT, "service_tls_key": PEM_KEY}, "service_tls_cert and service_tls_key must both be PEM"),
    ("gate-client-cert", {"release_gate_client_cert": "client.pem"},
     "release_gate_client_cert and release_gate_client_key must both be '' or both absolute paths"),
    ("workers-max", {"service_workers_max": 0}, "service_workers_max must be from 1 to 1024 workers"),
    ("service-name", {"service_name": "Bad.Name"}, "service_name must match ^[a-z][a-z0-9_-]{0,31}$"),
    ("service-user", {"service_user": "bad user"}, "service_user, service_group and service_socket_group must be system user/group names"),
    ("service-group", {"service_group": "x;y"}, "service_user, service_group and service_socket_group must be system user/group names"),
    ("socket-group", {"service_socket_group": "www data"}, "service_user, service_group and service_socket_group must be system user/group names"),
    ("service-app-root", {"service_app_root": "srv/app"}, "service_app_root and service_env_file must be absolute paths"),
    ("service-env-file", {"service_env_file": "/etc/app/../shadow"}, "service_app_root and service_env_file must be absolute paths"),
    ("graceful-shutdown", {"service_timeout_graceful_shutdown": -1}, "service_timeout_graceful_shutdown must be at least 0"),
    ("worker-healthcheck", {"service_timeout_worker_healthcheck": 0}, "service_timeout_worker_healthcheck at least 1 second"),
    ("max-requests", {"service_limit_max_requests": -1},
     "service_limit_max_requests (0 never) and service_limit_max_requests_jitter must be 0 or more"),
    ("max-requests-jitter", {"service_limit_max_requests_jitter": -1}, "service_limit_max_requests_jitter must be 0 or more"),
    ("memory-high", {"service_memory_high": "lots"}, "service_memory_high/service_memory_max must be empty, bytes with K/M/G/T"),
    ("tls-client-ca", {"service_bind": "tcp", "service_tls_cert": PEM_CERT, "service_tls_key": PEM_KEY, "service_tls_client_ca": "not PEM"},
     "service_tls_client_ca empty or a PEM certificate"),
    # The app role.
    ("app-name", {"app_name": "Bad Name"}, "app_name must match ^[a-z][a-z0-9_-]{0,31}$"),
    ("app-source", {"app_source": "/nonexistent/app"}, "app_source must be an existing directory on the controller"),
    ("app-source-not-a-dist", {"app_source_type": "file", "app_source": str(PROJECT / "README.md")},
     "app_source must be an existing wheel (.whl) or sdist (.tar.gz, .zip) on the controller"),
    ("app-source-pypi-url", {"app_source_type": "pypi", "app_source": "myapp @ https://example.com/myapp.whl"},
     "app_source must be a requirement, a name with optional [extras] and version specifiers"),
    ("app-source-pypi-unresolved", {"app_source_type": "pypi", "app_source": "asgi-uvicorn-no-such-package==1.0"},
     "app_source 'asgi-uvicorn-no-such-package==1.0' does not resolve to a version on the index"),
    ("app-source-git-ref", {"app_source_type": "git", "app_source": str(PROJECT), "app_source_version": "no-such-ref-here"},
     f"app_source_version 'no-such-ref-here' is not a branch or tag of app_source '{PROJECT}'"),
    ("app-source-version", {"app_source_type": "git", "app_source": str(PROJECT), "app_source_version": "main; rm -rf /"},
     "app_source_version must be a branch, tag or commit name"),
    ("app-source-exclude", {"app_source_exclude": ["../secrets"]}, "app_source_exclude items must be file name or path patterns"),
    ("app-pip-extra-args", {"app_pip_extra_args": ["--index-url https://pypi.example.com/simple"]},
     "app_pip_extra_args items must be single pip arguments"),
    ("app-uv-version", {"app_uv_version": "latest"}, "app_uv_version must be a version like 0.13.9"),
    # A private git repository over ssh.
    ("git-ssh-no-key", {**GIT_SSH, "app_source_ssh_key": ""},
     "app_source_ssh_key must be the path of a private deploy key on the controller when app_source is an ssh URL"),
    ("git-ssh-key-missing", {**GIT_SSH, "app_source_ssh_key": "/nonexistent/deploy_key"},
     "app_source_ssh_key must be an existing private key file on the controller, got '/nonexistent/deploy_key'"),
    ("git-ssh-no-known-hosts", {**GIT_SSH, "app_source_known_hosts": []},
     "app_source_known_hosts must hold the git server's host keys as known_hosts lines"),
    ("git-ssh-known-hosts-line", {**GIT_SSH, "app_source_known_hosts": [KNOWN_HOST + "\nevil.example.com ssh-ed25519 AAAA"]},
     "app_source_known_hosts items must be known_hosts lines"),
    ("git-ssh-key-https", {**GIT_SSH, "app_source": "https://git.example.com/team/app.git"},
     "app_source_ssh_key needs app_source_type git and an ssh URL in app_source"),
    ("git-source-user-root", {"app_source_type": "git", "app_source": str(PROJECT), "app_source_user": "root"},
     "app_source_user must be a system user name other than root and app_user, got 'root'"),
    ("app-user", {"app_user": "Bad User"}, "app_user and app_group must be system user/group names"),
    ("app-group", {"app_group": "-group"}, "app_user and app_group must be system user/group names"),
    ("app-uvicorn-version", {"app_uvicorn_version": "0.54.0; rm -rf /"}, "app_uvicorn_version must be a version like 0.54.0"),
    ("app-requirements", {"app_requirements": ["--pre"]}, "app_requirements items must be pip requirements"),
    ("app-python", {"app_python": "python3"}, "app_python must be an absolute path"),
    ("app-env-key", {"app_env": {"BAD-KEY": "x"}}, "app_env keys must be environment variable names"),
    ("app-env-newline", {"app_env": {"SECRET": "two\nlines"}}, "app_env values must be single lines"),
    # The release role.
    ("release-root", {"release_root": "srv/app"}, "release_root must be an absolute path"),
    ("release-dir", {"release_dir": "releases/1"}, "release_dir must be an absolute path"),
    ("gate-unit", {"release_gate_unit": "app; reboot"}, "release_gate_unit must be a systemd unit name"),
    ("gate-workers", {"release_gate_workers": -2}, "release_gate_workers must be 0 (any number) or more workers"),
    ("gate-host", {"release_gate_host": "app example.com"}, "release_gate_host must be a host name or an IPv4/IPv6 address"),
    ("gate-url", {"release_gate_url": "ftp://app.example.com/health"}, "release_gate_url must be an http:// or https:// URL"),
    ("gate-unix-socket", {"release_gate_unix_socket": "run/https.sock"}, "release_gate_unix_socket must be '' or an absolute path"),
    ("gate-client-key", {"release_gate_client_cert": "/srv/app/tls/cert.pem", "release_gate_client_key": ""},
     "release_gate_client_cert and release_gate_client_key must both be '' or both absolute paths"),
    ("gate-timeout", {"release_gate_timeout": 0}, "release_gate_timeout and release_gate_request_timeout must be at least 1 second"),
    ("gate-request-timeout", {"release_gate_request_timeout": -1},
     "release_gate_timeout and release_gate_request_timeout must be at least 1 second"),
    ("gate-retries", {"release_gate_health_retries": 0}, "release_gate_health_retries at least 1"),
    ("release-keep", {"release_keep": 1}, "release_keep must be at least 2"),
    ("gate-status", {"release_gate_status": 700}, "release_gate_status must be an HTTP status from 100 to 599"),
    ("gate-path", {"release_gate_path": "ready"}, "release_gate_path (proxy_health_path) must be a URL path"),
    ("gate-journal-lines", {"release_gate_journal_lines": -1}, "release_gate_journal_lines must be from 0 to 10000 lines"),
    ("app-down", {"proxy_app_down": "maybe"}, "proxy_app_down"),
    # A 0.1.0 name still works (until 2.0.0): its value goes to the new name and its checks.
    ("renamed-keep", {"app_keep_releases": 1}, "release_keep must be at least 2 (the current release and one to roll back to), got '1'"),
    ("renamed-gate-timeout", {"app_gate_timeout": "abc"}, "argument 'release_gate_timeout' is of type str"),
    ("renamed-tls-mode", {"proxy_tls_mode": "bogus"}, "value of tls_mode must be one of: selfsigned, provided, acme, got: bogus"),
    # The proxy role: names, TLS, upstreams.
    ("server-name-space", {"server_name": "bad name.example.com"}, "proxy_server_name (-e server_name=...) must be a DNS name"),
    ("server-name-semicolon", {"server_name": "example.com;evil"}, "proxy_server_name (-e server_name=...) must be a DNS name"),
    ("server-aliases", {"proxy_server_aliases": ["www example.com"]}, "proxy_server_aliases must be DNS names"),
    ("upstream-servers", {"proxy_upstream_servers": ["http://app:8000"]}, "proxy_upstream_servers must be a non-empty list of unix:/path or host:port"),
    ("tls-provided-missing", {"tls_mode": "provided", "tls_cert_file": "/nonexistent/cert.pem",
                              "tls_key_file": "/nonexistent/key.pem"},
     "tls_cert_file must be an existing certificate file on the controller"),
    ("trusted-proxies", {"proxy_trusted_proxies": ["10.0.0.1; allow all"]}, "proxy_trusted_proxies must be a list of IPv4/IPv6 addresses or networks"),
    ("selfsigned-days", {"tls_selfsigned_days": 825}, "tls_selfsigned_days must be from 1 to 398"),
    ("body-size", {"proxy_client_max_body_size": "10 MB"}, "proxy_client_max_body_size must be a size like 10m"),
    ("site-name", {"proxy_site_name": "-site"}, "proxy_site_name must match ^[a-z][a-z0-9_-]{0,31}$"),
    ("upstream-max-fails", {"proxy_upstream_max_fails": -1}, "proxy_upstream_max_fails must be at least 0"),
    ("upstream-fail-timeout", {"proxy_upstream_fail_timeout": 0}, "proxy_upstream_fail_timeout at least 1 second"),
    ("upstream-keepalive", {"proxy_upstream_keepalive": 0}, "proxy_upstream_keepalive must be at least 1 connection"),
    ("upstream-keepalive-timeout", {"proxy_upstream_keepalive_timeout": 0}, "proxy_upstream_keepalive_timeout at least 1 second"),
    ("ssl-certificate", {"proxy_ssl_certificate": "fullchain.pem"},
     "proxy_ssl_certificate, proxy_ssl_certificate_key and proxy_challenge_root"),
    ("ssl-certificate-key", {"proxy_ssl_certificate_key": "/etc/ssl/../key.pem"},
     "proxy_ssl_certificate, proxy_ssl_certificate_key and proxy_challenge_root"),
    ("challenge-root", {"proxy_challenge_root": "webroot"}, "proxy_ssl_certificate, proxy_ssl_certificate_key and proxy_challenge_root"),
    ("hsts-max-age", {"proxy_hsts_max_age": -5},
     "proxy_hsts_max_age must be 0 (browsers forget the site's HSTS) or more seconds, got '-5'"),
    ("access-log-buffer", {"proxy_access_log_buffer": "64 kB"}, "proxy_access_log_buffer must be a size like 64k"),
    ("connect-timeout", {"proxy_connect_timeout": 90}, "proxy_connect_timeout must be from 1 to 75 seconds"),
    ("read-timeout", {"proxy_read_timeout": 0}, "proxy_read_timeout and proxy_send_timeout at least 1 second"),
    ("send-timeout", {"proxy_send_timeout": -1}, "proxy_read_timeout and proxy_send_timeout at least 1 second"),
    ("tls-name", {"tls_name": "Bad Name"}, "tls_name must match ^[a-z][a-z0-9_-]{0,31}$"),
    ("tls-domains", {"tls_domains": []}, "tls_domains must be a non-empty list of DNS names"),
    ("tls-cert-content", {"tls_mode": "provided", "tls_cert_content": "not PEM", "tls_key_content": PEM_KEY},
     "tls_cert_content and tls_key_content must each be empty or PEM text"),
    ("tls-key-content", {"tls_mode": "provided", "tls_cert_content": PEM_CERT, "tls_key_content": "not PEM"},
     "tls_cert_content and tls_key_content must each be empty or PEM text"),
    ("selfsigned-renew-days", {"tls_selfsigned_renew_days": 0}, "tls_selfsigned_renew_days from 1 to less than it"),
    ("acme-reorder-days", {"tls_acme_reorder_days": 30}, "tls_acme_reorder_days must be from 1 to 29"),
    # ACME.
    ("acme-terms", {**ACME, "tls_acme_terms_agreed": False}, "tls_acme_terms_agreed must be true when tls_mode is acme"),
    ("acme-email", {**ACME, "tls_acme_email": ""}, "tls_acme_email must be the e-mail address of the ACME account"),
    ("acme-directory", {**ACME, "tls_acme_directory": "http://ca.example/dir"}, "tls_acme_directory must be the https:// URL"),
    ("acme-wildcard", {**ACME, "proxy_server_aliases": ["*.acme.test"]}, "cannot hold a wildcard when tls_mode is acme"),
    ("acme-peers", {**ACME, "proxy_acme_peers": ["10.0.0.3; allow all"]},
     "proxy_acme_peers must be a list of IPv4/IPv6 addresses or host names"),
    ("acme-peers-network", {**ACME, "proxy_acme_peers": ["10.0.0.0/24"]}, "proxy_acme_peers must be a list of IPv4/IPv6"),
    # The proxy role's optional features.
    ("static-prefix-slash", {"proxy_static_locations": [{"prefix": "/static", "dir": "/srv/badinput/static"}]},
     "proxy_static_locations prefixes must be URL paths ending with '/'"),
    ("static-dir-relative", {"proxy_static_locations": [{"prefix": "/static/", "dir": "static"}]},
     "proxy_static_locations dirs must be absolute paths"),
    ("static-dir-dotdot", {"proxy_static_locations": [{"prefix": "/static/", "dir": "/srv/x/../../etc"}]},
     "proxy_static_locations dirs must be absolute paths"),
    ("static-max-age", {"proxy_static_locations": [{**STATIC, "max_age": -1}]}, "proxy_static_locations max_age must be seconds, 0 or more"),
    ("static-not-a-dict", {"proxy_static_locations": ["/static/"]}, "proxy_static_locations"),
    ("static-owner", {"proxy_static_locations": [STATIC], "proxy_static_owner": "bad user"},
     "proxy_static_owner/proxy_static_group must be system user and group names"),
    ("stub-status-path", {"proxy_stub_status_path": "/status; allow all"}, "proxy_stub_status_path must be '' or a URL path"),
    ("access-log-format", {"proxy_access_log_format": "xml"}, "proxy_access_log_format"),
    ("limit-rate", {"proxy_limit_req": [{"prefix": "/api/", "rate": "10/s"}]}, "proxy_limit_req rates must be requests per second or minute"),
    ("limit-burst", {"proxy_limit_req": [{"prefix": "/api/", "rate": "10r/s", "burst": -1}]}, "proxy_limit_req bursts must be 0 or more"),
    ("limit-prefix", {"proxy_limit_req": [{"prefix": "api", "rate": "10r/s"}]}, "proxy_limit_req prefixes must be URL paths"),
    ("paths-collide", {"proxy_limit_req": [{"prefix": "/static/", "rate": "10r/s"}], "proxy_static_locations": [STATIC]},
     "proxy_static_locations, proxy_limit_req and proxy_stub_status_path must use different paths"),
    ("maintenance-switch", {"proxy_maintenance_switch": "maybe"}, "proxy_maintenance_switch"),
    ("maintenance-retry-after", {"proxy_maintenance_retry_after": 0}, "proxy_maintenance_retry_after must be 1 second or more"),
    ("error-pages", {"proxy_error_pages": "maybe"}, "proxy_error_pages"),
    ("health-path", {"proxy_health_path": "health"}, "proxy_health_path must be a URL path"),
    ("static-group", {"proxy_static_locations": [STATIC], "proxy_static_group": "bad group"},
     "proxy_static_owner/proxy_static_group must be system user and group names"),
    ("static-immutable", {"proxy_static_locations": [{**STATIC, "immutable": "maybe"}]}, "immutable"),
    ("limit-nodelay", {"proxy_limit_req": [{"prefix": "/api/", "rate": "10r/s", "nodelay": "maybe"}]}, "nodelay"),
    ("lb-health-port-range", {"proxy_lb_health_port": 70000}, "proxy_lb_health_port must be 0 (none) or a port from 1 to 65535 other than 80 and 443"),
    ("lb-health-port-443", {"proxy_lb_health_port": 443}, "proxy_lb_health_port must be 0 (none) or a port from 1 to 65535 other than 80 and 443"),
    # The balancer role (a load balancer's).
    ("balancer-site-name", {**BALANCER, "balancer_site_name": "Bad Name"}, "balancer_site_name must match ^[a-z][a-z0-9_-]{0,31}$"),
    ("balancer-servers", {"balancer_servers": ["10.0.0.5:8000", "10.0.0.5:8000"]},
     "balancer_servers must be a non-empty list of distinct host:port"),
    ("balancer-servers-empty", {"balancer_servers": []}, "balancer_servers must be a non-empty list of distinct host:port"),
    ("balancer-socket", {**BALANCER, "balancer_socket": "/tmp/app.sock"}, "balancer_socket must be a socket file in /run/haproxy/"),
    ("balancer-check-path", {**BALANCER, "balancer_check_path": "/../health"}, "balancer_check_path must be a URL path"),
    ("balancer-check-host", {**BALANCER, "balancer_check_host": "bad host"}, "balancer_check_host a host name"),
    ("balancer-check-interval", {**BALANCER, "balancer_check_interval": 50}, "balancer_check_interval must be at least 100 ms"),
    ("balancer-check-timeout", {**BALANCER, "balancer_check_timeout": 1000}, "balancer_check_timeout from 100 ms to the interval"),
    ("balancer-check-fall", {**BALANCER, "balancer_check_fall": 0}, "balancer_check_fall and balancer_check_rise at least 1"),
    ("balancer-check-rise", {**BALANCER, "balancer_check_rise": -1}, "balancer_check_fall and balancer_check_rise at least 1"),
    ("balancer-slowstart", {**BALANCER, "balancer_slowstart": -1}, "balancer_slowstart at least 0"),
    ("balancer-timeout-connect", {**BALANCER, "balancer_timeout_connect": 0}, "balancer_timeout_tunnel must be at least 1 second"),
    ("balancer-timeout-server", {**BALANCER, "balancer_timeout_server": 0}, "balancer_timeout_tunnel must be at least 1 second"),
    ("balancer-timeout-tunnel", {**BALANCER, "balancer_timeout_tunnel": -1}, "balancer_timeout_tunnel must be at least 1 second"),
    ("balancer-retries", {**BALANCER, "balancer_retries": 11}, "balancer_retries from 0 to 10"),
    ("balancer-tls-client-cert", {**BALANCER, "balancer_tls_ca": PEM_CERT, "balancer_tls_client_cert": PEM_CERT},
     "balancer_tls_client_cert empty or PEM text of a certificate and its private key"),
]
GOOD = [
    ("renamed", {"app_keep_releases": 4, "app_gate_timeout": 30, "proxy_tls_mode": "selfsigned", "proxy_selfsigned_days": 100}),
    ("defaults", {}),
    ("workers-auto", {"workers": "auto"}),
    ("features", FEATURES),
    ("acme", ACME),
    ("acme-peers", {**ACME, "proxy_acme_peers": ["10.0.0.3", "fd00::3", "lb3.example.com"]}),
    ("git-head", {"app_source_type": "git", "app_source": str(PROJECT)}),
    ("pypi-unpinned", {"app_source_type": "pypi", "app_source": "uvicorn[standard]>=0.30"}),
    ("source-exclude", {"app_source_exclude": ["*.sqlite3", "/data/"], "app_pip_extra_args": ["--prefer-binary"]}),
    ("tcp", {"service_bind": "tcp", "service_host": "10.0.0.2", "service_forwarded_allow_ips": "10.0.0.1,10.0.1.0/24",
             "service_firewall": True, "service_firewall_allow": ["10.0.0.1", "10.0.1.0/24", "fd00::1"]}),
    ("fastapi", {"service_launcher": "fastapi", "service_bind": "tcp", "service_proc_subset": "pid"}),
    ("tls", {"service_bind": "tcp", "service_tls_cert": PEM_CERT, "service_tls_key": PEM_KEY, "service_tls_client_ca": PEM_CERT,
             "release_gate_client_cert": "/srv/app/tls/cert.pem", "release_gate_client_key": "/srv/app/tls/key.pem"}),
    ("balancer", {**BALANCER, "balancer_tls_ca": PEM_CERT, "balancer_tls_client_cert": PEM_CERT + PEM_KEY}),
    ("factory-health", {"service_factory": True, "app_module": "web:create_app", "proxy_health_path": "/ready",
                        "release_gate_status": 204, "proxy_app_down": "false"}),
]
# The other playbooks' own checks, each case a run of the playbook (a play's hosts come from -e):
# (id, playbook, -e, {group: {host: variables}}, message). Each fails on every host at its first
# play's checks, so no later play has a host to run on.
OTHER = [
    ("maintenance-state", "asgi.uvicorn.maintenance", {"state": "maybe"}, {"asgi_uvicorn": {"maintenance": {}}},
     "value of state must be one of: on, off, got: maybe"),
    ("cluster-port", "asgi.uvicorn.cluster", {"cluster_port": 70000},
     {"asgi_uvicorn_lb": {"port-lb": {}}, "asgi_uvicorn_app": {"port-app": {}}}, "cluster_port must be from 1 to 65535"),
    ("cluster-serial", "asgi.uvicorn.cluster", {"cluster_serial": "0%"},
     {"asgi_uvicorn_lb": {"serial-lb": {}}, "asgi_uvicorn_app": {"serial-app": {}}}, "cluster_serial must be a number of app hosts"),
    ("cluster-drain-wait", "asgi.uvicorn.cluster", {"cluster_drain_wait": -1},
     {"asgi_uvicorn_lb": {"drain-lb": {}}, "asgi_uvicorn_app": {"drain-app": {}}}, "cluster_drain_wait at least 0"),
    ("cluster-firewall-allow", "asgi.uvicorn.cluster", {"cluster_firewall_allow": ["10.0.0.0/33"]},
     {"asgi_uvicorn_lb": {"fw-lb": {}}, "asgi_uvicorn_app": {"fw-app": {}}},
     "service_firewall_allow (in a cluster: cluster_firewall_allow) must list IPv4/IPv6 addresses or networks"),
    ("cluster-tls-dir", "asgi.uvicorn.cluster", {"cluster_tls": True, "cluster_tls_dir": "cluster-tls"},
     {"asgi_uvicorn_lb": {"tlsdir-lb": {}}, "asgi_uvicorn_app": {"tlsdir-app": {}}},
     "With cluster_tls, cluster_tls_dir must be an absolute path"),
    # A group that matches no host fails on the controller, in the playbook's first play.
    ("cluster-group", "asgi.uvicorn.cluster", {"cluster_app_group": "no_such_group"},
     {"asgi_uvicorn_lb": {}, "controller": {"localhost": {}}},
     "The app hosts' group (cluster_app_group) 'no_such_group' matches no host of the inventory"),
    ("cluster-lb-group", "asgi.uvicorn.cluster", {"cluster_lb_group": "no_such_lbs"},
     {"asgi_uvicorn_app": {}, "controller": {"localhost": {}}},
     "The load balancers' group (cluster_lb_group) 'no_such_lbs' matches no host of the inventory"),
    ("deploy-target", "asgi.uvicorn.deploy", {"target": "no_such_group"}, {"asgi_uvicorn": {}, "controller": {"localhost": {}}},
     "The target 'no_such_group' matches no host of the inventory"),
    ("cluster-address", "asgi.uvicorn.cluster", {},
     {"asgi_uvicorn_lb": {"address-lb": {"cluster_address": "10.0.0.5; rm -rf /"}},
      "asgi_uvicorn_app": {"address-app": {"cluster_address": "10.0.0.6; rm -rf /"}}},
     "cluster_address must be this host's private IPv4 or IPv6 address"),
    # The removal: which app, and names and paths it may remove.
    ("remove-no-app", "asgi.uvicorn.remove", {}, {"asgi_uvicorn": {"remove-no-app": {}}},
     "missing required arguments: app_name"),
    ("remove-app-name", "asgi.uvicorn.remove", {"app_name": "Bad Name"}, {"asgi_uvicorn": {"remove-app-name": {}}},
     "app_name must match ^[a-z][a-z0-9_-]{0,31}$, got 'Bad Name'"),
    ("remove-app-root", "asgi.uvicorn.remove", {"app_name": "gone", "app_root": "/srv"},
     {"asgi_uvicorn": {"remove-app-root": {}}}, "app_root must be an absolute path of letters, digits, '.', '_', '-' below a top-level directory"),
    ("remove-socket", "asgi.uvicorn.remove", {"app_name": "gone", "service_socket": "/etc/passwd"},
     {"asgi_uvicorn": {"remove-socket": {}}}, "service_socket must be a path directly under a directory of /run"),
    ("remove-tls-dir", "asgi.uvicorn.remove", {"app_name": "gone", "tls_dir": "/etc"},
     {"asgi_uvicorn": {"remove-tls-dir": {}}}, "tls_dir must be below a top-level directory, got '/etc'"),
    ("cluster-tls-days", "asgi.uvicorn.cluster", {"cluster_tls": True, "cluster_tls_days": 30, "cluster_tls_renew_days": 30},
     {"asgi_uvicorn_lb": {"tls-lb": {}}, "asgi_uvicorn_app": {"tls-app": {}}},
     "With cluster_tls, cluster_tls_dir must be an absolute path"),
    # Only the load balancers check the balancer's variables.
    ("balancer-tls", "asgi.uvicorn.cluster", {"balancer_tls_ca": "not a certificate"},
     {"asgi_uvicorn_lb": {"balancer-tls-lb": {}}, "asgi_uvicorn_app": {"balancer-tls-app": {"bystander": True}}},
     "balancer_tls_ca must be empty or a PEM CA certificate"),
]
# The second leg of `make test` (Python 3.12, the newest ansible-core) runs every good case, every
# other playbook's case and these bad ones, one for each role's rules and one for a renamed
# variable: a rule is the same template on every line, and each leg renders a failure message.
EVERY_LEG = {"workers-0", "app-env-newline", "release-keep", "renamed-tls-mode", "server-name-semicolon",
             "tls-name", "acme-terms", "balancer-servers"}
# The deploy cases go to this many runs side by side: Ansible's main process is single-threaded.
DEPLOY_RUNS = 2
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
         "app_source": str(PROJECT / "tests" / "sample_app"), "cluster_address": "10.0.0.9"}


def inventory(groups: dict[str, dict[str, dict]]) -> dict:
    return {"all": {"vars": LOCAL, "children": {group: {"hosts": hosts} for group, hosts in groups.items()}}}


def runs(selected: dict[str, set[str]]) -> list[tuple[dict, list[str]]]:
    """(inventory, ansible-playbook arguments) of every run: the selected deploy cases split in
    DEPLOY_RUNS, then one run each for the selected other playbooks' cases."""
    deploy = [(name, variables) for name, variables, _ in BAD if name in selected["bad"]]
    deploy += [(f"good-{name}", variables) for name, variables in GOOD if name in selected["good"]]
    found = [(inventory({"deploy": dict(deploy[i::DEPLOY_RUNS])}), [str(PLAYBOOK)])
             for i in range(min(DEPLOY_RUNS, len(deploy)))]
    found += [(inventory(groups), [playbook, "-e", json.dumps(extra)])
              for name, playbook, extra, groups, _ in OTHER if name in selected["other"]]
    return found


def selected_cases(session: pytest.Session) -> dict[str, set[str]]:
    """The ids of the cases pytest is to run (after -k and -m), by kind: only those run."""
    kinds = {"test_bad_deploy_input_fails_naming_the_variable": "bad", "test_good_deploy_input_passes": "good",
             "test_bad_playbook_input_fails_naming_the_variable": "other"}
    selected: dict[str, set[str]] = {"bad": set(), "good": set(), "other": set()}
    for item in session.items:
        kind = kinds.get(getattr(item, "originalname", ""))
        if kind and item.path == Path(__file__):
            selected[kind].add(item.callspec.id)
    return selected


@pytest.fixture(scope="session")
def run(request, tmp_path_factory) -> dict:
    """Every run's plays and stats (ansible.builtin.json callback), merged, the seconds all took,
    and which other playbooks' cases ran."""
    selected = selected_cases(request.session)
    directory = tmp_path_factory.mktemp("inputs")
    first = os.environ.get("ASGI_COLLECTIONS_PATH_FIRST", "")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{first}{PROJECT / '.cache' / 'collections'}",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_RETRY_FILES_ENABLED="0")
    start = time.monotonic()
    procs = []
    for index, (hosts, args) in enumerate(runs(selected)):
        path = directory / f"inventory-{index}.json"
        path.write_text(json.dumps(hosts))
        procs.append(subprocess.Popen(["ansible-playbook", "-i", str(path), "--check", *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT))
    merged: dict = {"plays": [], "stats": {}}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        try:
            out = json.loads(stdout)
        except ValueError:
            pytest.fail(f"{proc.args}: rc {proc.returncode}, no JSON: {stdout[-2000:]} {stderr[-2000:]}")
        merged["plays"] += out["plays"]
        # Summed per host: every run's first play may run on localhost.
        for host, counts in out["stats"].items():
            total = merged["stats"].setdefault(host, {})
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
    seconds = time.monotonic() - start
    print(f"\ninputs: {sum(map(len, selected.values()))} of {len(BAD) + len(GOOD) + len(OTHER)} cases in {len(procs)} "
          f"ansible-playbook runs side by side: {seconds:.1f} s")
    return {"out": merged, "seconds": seconds, "other": [case for case in OTHER if case[0] in selected["other"]]}


def failures(out: dict, host: str) -> list[str]:
    return [message for play in out["plays"] for task in play["tasks"]
            for name, result in task["hosts"].items() if name == host and result.get("failed")
            for message in failure_messages(result)]


def assert_failed_naming(run: dict, host: str, expected: str) -> None:
    stats = run["out"]["stats"].get(host)
    assert stats, f"{host} never ran"
    found = failures(run["out"], host)
    # Once per case; localhost (the controller) is a host of several cases.
    cases = sum(host in hosts for *_, groups, _ in run["other"] for hosts in groups.values()) or 1
    assert stats["failures"] == cases and stats["unreachable"] == 0, (stats, found)
    assert stats["changed"] == 0, stats
    assert any(expected in " ".join(message.split()) for message in found), found


@pytest.mark.parametrize(("host", "expected"), [
    pytest.param(name, expected, id=name, marks=() if name in EVERY_LEG else pytest.mark.first_leg_only)
    for name, _, expected in BAD])
def test_bad_deploy_input_fails_naming_the_variable(run, host, expected):
    assert_failed_naming(run, host, expected)


@pytest.mark.parametrize("host", [f"good-{name}" for name, _ in GOOD], ids=[c[0] for c in GOOD])
def test_good_deploy_input_passes(run, host):
    stats = run["out"]["stats"].get(host)
    assert stats, f"{host} never ran"
    assert stats["failures"] == 0 and stats["unreachable"] == 0 and stats["changed"] == 0, \
        (stats, failures(run["out"], host))
    # Through to the last of the checks, the proxy role's rules (a load balancer's case: the balancer's).
    last = "Check the balancer variables" if "balancer_servers" in dict(GOOD)[host.removeprefix("good-")] else "Check the proxy variables"
    assert any(task["task"]["name"].endswith(last) and host in task["hosts"]
               and not task["hosts"][host].get("skipped")
               for play in run["out"]["plays"] for task in play["tasks"]), f"{host} skipped the last checks ({last})"


@pytest.mark.parametrize(("groups", "expected"), [(groups, expected) for *_, groups, expected in OTHER],
                         ids=[c[0] for c in OTHER])
def test_bad_playbook_input_fails_naming_the_variable(run, groups, expected):
    for hosts in groups.values():
        for host, variables in hosts.items():
            if not variables.get("bystander"):
                assert_failed_naming(run, host, expected)
                continue
            # Its own input is good; another host's failure stops it at the checks all the same.
            stats = run["out"]["stats"][host]
            assert stats["failures"] == 0 and stats["changed"] == 0, stats
            assert not any(host in task["hosts"] for play in run["out"]["plays"] if play["play"]["name"].startswith("Build")
                           for task in play["tasks"]), f"{host} went on past the checks"

