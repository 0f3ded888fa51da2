#!/usr/bin/env python3
"""Offline checks of deploy/kubernetes beyond the Kubernetes schemas: that
the pieces agree with each other and with the worker.

    python3 deploy/check_manifests.py [BIN]

- the ConfigMap's worker.properties loads in the worker itself, with the
  Secret's variables in the environment (`BIN run -c ... --print-config`,
  exit 0; BIN defaults to build/), and the password never shows in it;
- the StatefulSet takes worker.id from the pod name, mounts that ConfigMap
  where its args read it, and probes /healthz and /readyz on the port of
  http.listen, which it also exposes;
- KEDA's ScaledObject (no schema ships for its CRD) targets that
  StatefulSet, watches the consumer group (application.id), the input topic
  and the brokers of the configuration, and its TriggerAuthentication exists.
Prints each failure and exits 1 if there is any.
"""
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S = os.path.join(HERE, "kubernetes")
failures = []


def expect(cond, msg):
    if not cond:
        failures.append(msg)


def docs(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def properties(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build",
                                                                 "aftersale-worker")
    (cm,) = docs("configmap.yaml")
    sts, svc = docs("statefulset.yaml")
    so, ta = docs("keda-scaledobject.yaml")
    (secret,) = docs("secret.yaml")
    text = cm["data"]["worker.properties"]
    props = properties(text)

    with tempfile.NamedTemporaryFile("w", suffix=".properties") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([binary, "run", "-c", f.name, "--print-config"], capture_output=True,
                           text=True, env=dict(secret["stringData"],
                                               ASW_CFG_WORKER_ID="aftersale-worker-0",
                                               PATH=os.environ.get("PATH", "")))
        expect(r.returncode == 0, f"the ConfigMap's worker.properties does not load: {r.stderr}")
        for v in secret["stringData"].values():
            expect(v not in r.stdout + r.stderr, "--print-config shows the Secret's value")

    port = int(props.get("http.listen", ":0").rpartition(":")[2] or 0)
    expect(port > 0, "http.listen must be set (the probes need it)")
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    env = {e["name"]: e for e in c.get("env", [])}
    expect({"secretRef": {"name": secret["metadata"]["name"]}} in c.get("envFrom", []),
           "the container must take the Secret's variables")
    wid = env.get("ASW_CFG_WORKER_ID", {}).get("valueFrom", {}).get("fieldRef", {})
    expect(wid.get("fieldPath") == "metadata.name", "worker.id must come from the pod name")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    expect(ports.get("http") == port, f"container port 'http' must be {port} (http.listen)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("startupProbe", "/healthz")):
        get = c.get(probe, {}).get("httpGet", {})
        expect(get.get("path") == path and get.get("port") in ("http", port),
               f"{probe} must GET {path} on the http port")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    cfg_path = c["args"][c["args"].index("-c") + 1]
    expect(any(cfg_path == os.path.join(mounts[n], "worker.properties")
               and vols.get(n, {}).get("configMap", {}).get("name") == cm["metadata"]["name"]
               for n in mounts), f"{cfg_path} must be the ConfigMap's worker.properties")
    expect(svc["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] ==
           svc["metadata"]["name"], "the StatefulSet's serviceName must be the headless Service")

    target = so["spec"]["scaleTargetRef"]
    expect(target.get("kind") == "StatefulSet" and target.get("name") == sts["metadata"]["name"],
           "the ScaledObject must scale the StatefulSet")
    (trig,) = so["spec"]["triggers"]
    meta = trig["metadata"]
    expect(trig["type"] == "kafka", "the trigger must be KEDA's kafka scaler")
    expect(meta.get("consumerGroup") == props.get("application.id"),
           "consumerGroup must be application.id")
    expect(meta.get("topic") == props.get("topic.input", "aftersale.events"),
           "topic must be topic.input")
    expect(meta.get("bootstrapServers") == props.get("bootstrap.servers"),
           "bootstrapServers must be bootstrap.servers")
    expect(0 < so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"],
           "1 <= minReplicaCount <= maxReplicaCount")
    expect(trig.get("authenticationRef", {}).get("name") == ta["metadata"]["name"]
           and ta["kind"] == "TriggerAuthentication", "the TriggerAuthentication must exist")

    for f in failures:
        print(f"check_manifests: {f}", file=sys.stderr)
    print(f"check_manifests: {'FAILED' if failures else 'ok'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
