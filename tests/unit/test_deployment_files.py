"""The Compose and Kubernetes files parse and agree with the topic catalogue."""

from __future__ import annotations

import yaml

from heals.settings import REPO_ROOT
from heals.topics import TOPICS

K8S = REPO_ROOT / "infra" / "k8s"


def _documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_k8s_topics_cover_catalogue():
    declared = {doc["spec"]["topicName"]: doc["spec"] for doc in _documents(K8S / "topics.yaml")}
    missing = [topic.name for topic in TOPICS if topic.name not in declared]
    assert missing == []


def test_k8s_topics_are_durable():
    for spec in (doc["spec"] for doc in _documents(K8S / "topics.yaml")):
        assert spec["replicas"] == 3, spec["topicName"]
        assert spec["config"]["min.insync.replicas"] == 2, spec["topicName"]


def test_k8s_event_topics_keep_data_forever():
    declared = {doc["spec"]["topicName"]: doc["spec"] for doc in _documents(K8S / "topics.yaml")}
    for topic in TOPICS:
        assert declared[topic.name]["config"]["retention.ms"] == topic.retention_ms, topic.name


def test_compose_publishes_only_on_loopback():
    compose = _documents(REPO_ROOT / "infra" / "compose" / "docker-compose.yml")[0]
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
