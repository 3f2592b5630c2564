"""Shared fixtures for the infra tests: one moto server for the session."""

from __future__ import annotations

import json
import logging
import os
import pathlib

import pytest


@pytest.fixture(scope="session")
def moto_endpoint():
    """Start moto in server mode on 127.0.0.1 (a free port) and yield its URL.

    Sets dummy credentials and us-east-1 in os.environ for the session, so
    boto3 clients need only ``endpoint_url=moto_endpoint``.
    """
    from moto.server import ThreadedMotoServer

    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {key: os.environ.get(key) for key in (*env, "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    os.environ.update(env)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log lines

    # Port 0: the OS picks a free port, read back after start (no race).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


INFRA = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def template():
    """The SAM template translated to CloudFormation by scripts/infra-check."""
    path = os.environ.get("AUTHTRAIL_TEMPLATE_JSON")
    if not path:
        pytest.fail("AUTHTRAIL_TEMPLATE_JSON is not set: run these tests with scripts/infra-check")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def catalogue():
    """The metric catalogue, generated from pipeline::metrics (kept current by cargo test)."""
    with open(INFRA / "generated" / "metrics.json", encoding="utf-8") as f:
        return json.load(f)
