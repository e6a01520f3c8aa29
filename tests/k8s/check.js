#!/usr/bin/env node
// check.js: deploy/k8s checked offline (ctest k8s_test, label deploy; run
// by tests/k8s_test.sh, which installs this folder's npm packages).
//
//   node check.js --bin BIN --src SRC --kubectl KUBECTL --work DIR
//
// No cluster: each kustomization (deploy/k8s, its jobs-metric overlay,
// prometheus-adapter) is rendered by KUBECTL kustomize (Debian 12's
// kubernetes-client, whose kustomize 2.0.3 takes a directory under bases:
// where kustomize 5 takes it under resources:, so a copy is rewritten
// first), and every object of the result is
//   - validated against its kind's Kubernetes OpenAPI schema
//     (kubernetes-models: types, required fields, enums), and checked for
//     fields the schema does not have (the API server's strict field
//     validation: the schema packages leave them out, so the walk over
//     the models' type declarations here does it);
//   - checked against the others and against the service, for what a
//     schema cannot say: selectors and labels agree across the Deployment,
//     the Services, the disruption budget and the autoscaler; Service
//     ports name container ports; the command line is `isopool serve`,
//     its --listen and --metrics ports are the container's, its --config
//     the ConfigMap's file; what the service writes is on a writable
//     volume; the security context; resources against the config's
//     sizing; the grace period against preStop and grace-ms; the
//     autoscaler's pod metric has an adapter rule, whose series the
//     service serves.
// Then the real `isopool serve` runs with the rendered ConfigMap's file and
// the container's command line (paths mapped to a temporary directory,
// ports to free loopback ones): the probes' paths must answer 200 on the
// probes' port once ready, a job must run on the jobs port, the adapter's
// series must be in /metrics, and SIGTERM must end it well within the
// grace period. Last, deliberately broken copies of deploy/k8s (MUTATIONS
// below) must each fail with the error that names what was broken.
// Prints one line per check; exits 1 when any failed.
"use strict";
const fs = require("fs");
const path = require("path");
const http = require("http");
const net = require("net");
const cp = require("child_process");
const YAML = require("yaml");

const opt = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  opt[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
for (const k of ["bin", "src", "kubectl", "work"]) {
  if (!opt[k]) {
    console.error("usage: check.js --bin BIN --src SRC --kubectl KUBECTL --work DIR");
    process.exit(2);
  }
}
const scale = Math.max(1, Number(process.env.ISO_TEST_TIMEOUT_SCALE) || 1);
const K8S = path.join(opt.src, "deploy", "k8s");
// the kustomizations, by directory under deploy/k8s
const VARIANTS = [".", "jobs-metric", "prometheus-adapter"];
// where the image keeps its modules (deploy/Containerfile), and what the
// test serves in their place (examples/: the image's double.js is its)
const IMAGE_MODULES = "/etc/isopool/modules";

// ---- rendering ----

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copyTree(a, b);
    else fs.copyFileSync(a, b);
  }
}

// Moves each directory of a kustomization's resources: to bases: (kustomize
// 2.0.3 reads directories only there), in every kustomization.yaml of tree.
function toKustomize2(tree) {
  for (const e of fs.readdirSync(tree, { withFileTypes: true })) {
    const p = path.join(tree, e.name);
    if (e.isDirectory()) {
      toKustomize2(p);
    } else if (e.name === "kustomization.yaml") {
      const k = YAML.parse(fs.readFileSync(p, "utf8"));
      const dirs = (k.resources || []).filter(
        (r) => fs.existsSync(path.join(tree, r)) && fs.statSync(path.join(tree, r)).isDirectory(),
      );
      if (dirs.length > 0) {
        k.resources = k.resources.filter((r) => !dirs.includes(r));
        k.bases = (k.bases || []).concat(dirs);
        fs.writeFileSync(p, YAML.stringify(k));
      }
    }
  }
}

// The objects `kubectl kustomize tree/sub` makes, or throws.
function render(tree, sub) {
  const r = cp.spawnSync(opt.kubectl, ["kustomize", path.join(tree, sub)], { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`kustomize ${sub}: ${(r.stderr || r.error || "").toString().trim()}`);
  }
  const docs = YAML.parseAllDocuments(r.stdout);
  const out = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`kustomize ${sub}: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o != null) out.push(o);
  }
  return out;
}

// ---- the schemas ----

const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));

function modelPath(doc) {
  // apps/v1 -> MODELS/apps/v1; the core group's v1 -> MODELS/v1
  return path.join(MODELS, String(doc.apiVersion || ""), String(doc.kind || ""));
}

// The .d.ts file an import of from names: relative, or in a package
// ("@scope/name/sub/path" or "name/sub/path").
function importPath(from, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(from), spec) + ".d.ts";
  const parts = spec.split("/");
  const n = spec.startsWith("@") ? 2 : 1;
  const pkg = path.dirname(require.resolve(parts.slice(0, n).join("/") + "/package.json"));
  return path.join(pkg, parts.slice(n).join("/")) + ".d.ts";
}

// The properties of the interface a .d.ts file declares (the models' type
// declarations are generated, one interface per file): name -> type.
const dtsCache = new Map();
function dtsProps(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  let props = null;
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
      imports.set(m[1], importPath(file, m[2]));
    }
    const body = text.match(/^export interface \w+(?: extends ([\w, ]+))? \{\n([\s\S]*?)\n\}$/m);
    if (body) {
      props = new Map();
      if (/\bTypeMeta\b/.test(body[1] || "")) {
        props.set("apiVersion", {});
        props.set("kind", {});
      }
      const lines = body[2].split("\n");
      for (let i = 0; i < lines.length; i++) {
        const m = lines[i].match(/^ {4}"([^"]+)"\??: (.*);?$/);
        if (!m) continue;
        let type = m[2].replace(/;$/, "");
        if (type === "{") {
          // a map: its value type on the next line
          const v = (lines[i + 1] || "").match(/\[key: string\]: (.*);$/);
          type = v ? `Map<${v[1]}>` : "any";
        }
        props.set(m[1], resolveType(type, imports));
      }
    }
  }
  dtsCache.set(file, props);
  return props;
}

function resolveType(t, imports) {
  let m = t.match(/^Array<(.*)>$/);
  if (m) return { array: resolveType(m[1], imports) };
  m = t.match(/^Map<(.*)>$/);
  if (m) return { map: resolveType(m[1], imports) };
  if (imports.has(t)) return { file: imports.get(t) };
  return {}; // a string, number, boolean, union: a leaf
}

// Fields of o that its type does not declare, as "path: unknown field".
function unknownFields(o, type, where, errs) {
  if (o == null || typeof o !== "object") return;
  if (type.array) {
    if (Array.isArray(o)) o.forEach((e, i) => unknownFields(e, type.array, `${where}[${i}]`, errs));
    return;
  }
  if (type.map) {
    for (const [k, v] of Object.entries(o)) unknownFields(v, type.map, `${where}.${k}`, errs);
    return;
  }
  if (!type.file) return;
  const props = dtsProps(type.file);
  if (props == null || Array.isArray(o)) return;
  for (const [k, v] of Object.entries(o)) {
    if (!props.has(k)) errs.push(`${where}.${k}: unknown field`);
    else unknownFields(v, props.get(k), `${where}.${k}`, errs);
  }
}

// Schema errors of one object, each "Kind/name: ...".
function schemaErrors(doc) {
  const id = `${doc.kind}/${(doc.metadata || {}).name}`;
  const base = modelPath(doc);
  let Model = null;
  try {
    Model = require(path.dirname(base))[doc.kind];
  } catch (e) {
    // no such group/version
  }
  if (typeof Model !== "function") return [`${id}: no schema for ${doc.apiVersion} ${doc.kind}`];
  const errs = [];
  try {
    new Model(doc).validate();
  } catch (e) {
    const list = e.errors || [{ instancePath: "", message: e.message }];
    for (const x of list) {
      errs.push(
        `${id}: schema: ${x.instancePath || "/"} ${x.message}` +
          (x.params && x.params.missingProperty ? ` (${x.params.missingProperty})` : ""),
      );
    }
  }
  const unk = [];
  const top = dtsProps(base + ".d.ts");
  if (top == null || !top.has("apiVersion") || !top.has("metadata")) {
    errs.push(`${id}: no type declarations to check its fields against`);
  }
  unknownFields(doc, { file: base + ".d.ts" }, "", unk);
  for (const u of unk) errs.push(`${id}: ${u.replace(/^\./, "")}`);
  return errs;
}

// ---- the service's command line and config ----

// isopool.conf's keys (INI, at most a [serve] section): key -> [values]
function parseConf(text) {
  const conf = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line[0] === "#" || line[0] === ";" || line[0] === "[") continue;
    const m = line.match(/^([a-z-]+)\s*=\s*(.*)$/);
    if (!m) continue;
    if (!conf.has(m[1])) conf.set(m[1], []);
    conf.get(m[1]).push(m[2]);
  }
  return conf;
}

// serve's options from its argv (after "serve"): key -> [values]; the
// command line's replace the file's (cli/config.h)
function parseArgs(argv) {
  const o = new Map();
  for (let i = 0; i < argv.length; i++) {
    const m = argv[i].match(/^--([a-z-]+)(?:=(.*))?$/);
    if (!m) continue;
    let v = m[2];
    if (v === undefined && i + 1 < argv.length && !argv[i + 1].startsWith("--")) v = argv[++i];
    if (!o.has(m[1])) o.set(m[1], []);
    o.get(m[1]).push(v === undefined ? "true" : v);
  }
  return o;
}

function memMiB(q) {
  const m = String(q).match(/^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/);
  if (!m) return NaN;
  const f =
    {
      Ki: 1 / 1024,
      Mi: 1,
      Gi: 1024,
      Ti: 1024 * 1024,
      k: 1e3 / 1048576,
      M: 1e6 / 1048576,
      G: 1e9 / 1048576,
      T: 1e12 / 1048576,
    }[m[2]] || 1 / 1048576;
  return Number(m[1]) * f;
}

function cpuCores(q) {
  const m = String(q).match(/^(\d+(?:\.\d+)?)(m)?$/);
  return m ? Number(m[1]) / (m[2] ? 1000 : 1) : NaN;
}

function subset(a, b) {
  return (
    a != null &&
    b != null &&
    Object.keys(a).length > 0 &&
    Object.entries(a).every(([k, v]) => b[k] === v)
  );
}

// The port of a URL (tcp://H:P, http://H:P/..), or NaN.
function urlPort(u) {
  const m = String(u).match(/^[a-z+]+:\/\/(\[[^\]]*\]|[^/:]*):(\d+)/);
  return m ? Number(m[2]) : NaN;
}

// Everything about one rendering of the Deployment that the checks and the
// live run need; throws when there is no single isopool container.
function podFacts(objs) {
  const deps = objs.filter((o) => o.kind === "Deployment");
  if (deps.length !== 1) throw new Error(`${deps.length} Deployments, not 1`);
  const dep = deps[0];
  const pod = ((dep.spec || {}).template || {}).spec || {};
  const cs = pod.containers || [];
  if (cs.length !== 1)
    throw new Error(`Deployment/${dep.metadata.name}: ${cs.length} containers, not 1`);
  const c = cs[0];
  const argv = (c.command || []).concat(c.args || []);
  const cms = objs.filter((o) => o.kind === "ConfigMap");
  const args = parseArgs(argv.slice(2));
  const mounts = c.volumeMounts || [];
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  // the --config file: the ConfigMap key behind its mount
  let confText = null;
  let confFile = null;
  const confPath = (args.get("config") || [])[0];
  if (confPath) {
    for (const m of mounts) {
      const v = volumes.get(m.name);
      if (!v || !v.configMap || !confPath.startsWith(m.mountPath + "/")) continue;
      const cm = cms.find((x) => x.metadata.name === v.configMap.name);
      confFile = confPath.slice(m.mountPath.length + 1);
      if (cm && cm.data && cm.data[confFile] != null) confText = cm.data[confFile];
    }
  }
  const conf = parseConf(confText || "");
  const get = (k) => (args.has(k) ? args.get(k) : conf.get(k)) || [];
  return { dep, pod, c, argv, args, conf, confText, confFile, confPath, mounts, volumes, get };
}

// ---- the checks of one rendering set ----

// Returns the errors of the three renderings (by variant), with facts for
// the live run; `live` (the running service) adds the probes and metrics.
async function checkAll(tree, live) {
  const errs = [];
  const renders = {};
  for (const v of VARIANTS) {
    try {
      renders[v] = render(tree, v);
    } catch (e) {
      errs.push(e.message);
    }
  }
  if (errs.length > 0) return { errs };
  for (const v of VARIANTS) {
    for (const o of renders[v]) errs.push(...schemaErrors(o).map((e) => `${v}: ${e}`));
  }
  const rules = adapterRules(renders["prometheus-adapter"], errs);
  let facts = null;
  for (const v of [".", "jobs-metric"]) {
    let f;
    try {
      f = podFacts(renders[v]);
    } catch (e) {
      errs.push(`${v}: ${e.message}`);
      continue;
    }
    if (v === ".") facts = f;
    checkPod(v, renders[v], f, rules, errs);
  }
  if (live && facts) await checkLive(facts, rules, live, errs);
  return { errs, facts, rules };
}

function adapterRules(objs, errs) {
  const rules = [];
  for (const o of objs.filter((x) => x.kind === "ConfigMap")) {
    const text = (o.data || {})["config.yaml"];
    if (text == null) {
      errs.push(`prometheus-adapter: ConfigMap/${o.metadata.name} has no config.yaml`);
      continue;
    }
    let cfg;
    try {
      cfg = YAML.parse(text);
    } catch (e) {
      errs.push(`prometheus-adapter: config.yaml: ${e.message}`);
      continue;
    }
    for (const [i, r] of ((cfg && cfg.rules) || []).entries()) {
      const at = `prometheus-adapter: rules[${i}]`;
      const series = String(r.seriesQuery || "").match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/);
      if (!series) {
        errs.push(`${at}: seriesQuery names no series`);
        continue;
      }
      const ov = (r.resources || {}).overrides || {};
      if (
        !ov.namespace ||
        ov.namespace.resource !== "namespace" ||
        !ov.pod ||
        ov.pod.resource !== "pod"
      ) {
        errs.push(`${at}: resources.overrides must map the namespace and pod labels`);
      }
      const mq = String(r.metricsQuery || "");
      for (const t of ["<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"]) {
        if (!mq.includes(t)) errs.push(`${at}: metricsQuery lacks ${t}`);
      }
      let name = series[1];
      if (r.name && r.name.matches) {
        const re = new RegExp(r.name.matches);
        if (!re.test(name)) errs.push(`${at}: name.matches ${r.name.matches} misses ${name}`);
        else name = name.replace(re, r.name.as || "$0");
      }
      rules.push({ name, series: series[1], query: mq });
    }
  }
  if (rules.length === 0) errs.push("prometheus-adapter: no rules");
  return rules;
}

function checkPod(v, objs, f, rules, errs) {
  const { dep, pod, c, args, get } = f;
  const bad = (m) => errs.push(`${v}: ${m}`);
  const labels = (dep.spec.template.metadata || {}).labels || {};
  if (!subset(dep.spec.selector.matchLabels, labels)) {
    bad("Deployment: selector.matchLabels are not the pod template's labels");
  }
  // the command line
  if (!/(^|\/)isopool$/.test(f.argv[0] || "") || f.argv[1] !== "serve") {
    bad(`container ${c.name}: the command is not isopool serve: ${f.argv.join(" ")}`);
  }
  const ports = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
  const portNums = new Set(ports.values());
  const listen = args.get("listen") || [];
  if (listen.length === 0) bad("--listen is not on the command line");
  for (const u of listen) {
    if (!portNums.has(urlPort(u))) bad(`--listen ${u}: its port is no containerPort`);
    if (/^[a-z+]+:\/\/(127\.|\[::1\]|localhost)/.test(u))
      bad(`--listen ${u}: loopback, out of the Service's reach`);
  }
  const metrics = (get("metrics") || [])[0];
  if (!metrics) bad("no --metrics: the probes have nothing to ask");
  const metricsPort = urlPort(metrics);
  if (metrics && /^http:\/\/(127\.|\[::1\]|localhost)/.test(metrics)) {
    bad(`--metrics ${metrics}: loopback, out of the kubelet's probes' reach`);
  }
  const portOf = (p) => (typeof p === "number" ? p : ports.get(p));
  // the probes: liveness /healthz, readiness /readyz, on the metrics port
  const want = { livenessProbe: "/healthz", readinessProbe: "/readyz", startupProbe: null };
  for (const [k, p] of Object.entries(want)) {
    const pr = c[k];
    if (!pr) {
      if (p) bad(`container ${c.name}: no ${k}`);
      continue;
    }
    const g = pr.httpGet;
    if (!g) {
      bad(`${k}: not an httpGet`);
      continue;
    }
    if (p && g.path !== p) bad(`${k}: path ${g.path}, not ${p}`);
    if (portOf(g.port) !== metricsPort)
      bad(`${k}: port ${g.port} is not --metrics's ${metricsPort}`);
  }
  // the Prometheus annotations
  const ann = (dep.spec.template.metadata || {}).annotations || {};
  if (ann["prometheus.io/port"] != null && Number(ann["prometheus.io/port"]) !== metricsPort) {
    bad(`prometheus.io/port ${ann["prometheus.io/port"]} is not --metrics's ${metricsPort}`);
  }
  if (
    ann["prometheus.io/path"] != null &&
    metrics &&
    !metrics.endsWith(ann["prometheus.io/path"])
  ) {
    bad(`prometheus.io/path ${ann["prometheus.io/path"]} is not --metrics's path`);
  }
  // the config file
  if (!f.confPath) bad("no --config");
  else if (f.confText == null) bad(`--config ${f.confPath}: no ConfigMap key behind it`);
  // Services, the disruption budget, the autoscaler: the pods' labels
  const svcs = objs.filter((o) => o.kind === "Service");
  for (const s of svcs) {
    const id = `Service/${s.metadata.name}`;
    if (!subset(s.spec.selector, labels)) bad(`${id}: its selector is not the pods' labels`);
    for (const p of s.spec.ports || []) {
      const t = portOf(p.targetPort == null ? p.port : p.targetPort);
      if (t == null || !portNums.has(t))
        bad(`${id}: targetPort ${p.targetPort} is no container port`);
    }
  }
  const jobsPorts = new Set(listen.map(urlPort));
  const headless = svcs.filter(
    (s) =>
      s.spec.clusterIP === "None" &&
      (s.spec.ports || []).some((p) =>
        jobsPorts.has(portOf(p.targetPort == null ? p.port : p.targetPort)),
      ),
  );
  if (headless.length !== 1) bad(`${headless.length} headless Services on the jobs port, not 1`);
  const pdbs = objs.filter((o) => o.kind === "PodDisruptionBudget");
  if (pdbs.length !== 1) bad(`${pdbs.length} PodDisruptionBudgets, not 1`);
  for (const p of pdbs) {
    if (!subset((p.spec.selector || {}).matchLabels, labels)) {
      bad(`PodDisruptionBudget/${p.metadata.name}: its selector is not the pods' labels`);
    }
  }
  const hpas = objs.filter((o) => o.kind === "HorizontalPodAutoscaler");
  if (hpas.length !== 1)
    bad(`${hpas.length} HorizontalPodAutoscalers, not 1 (two would fight over the Deployment)`);
  for (const h of hpas) {
    const id = `HorizontalPodAutoscaler/${h.metadata.name}`;
    const t = h.spec.scaleTargetRef || {};
    if (t.kind !== "Deployment" || t.name !== dep.metadata.name || t.apiVersion !== "apps/v1") {
      bad(`${id}: scaleTargetRef is not Deployment/${dep.metadata.name}`);
    }
    for (const m of h.spec.metrics || []) {
      if (m.type === "Resource" && !((c.resources || {}).requests || {})[m.resource.name]) {
        bad(`${id}: ${m.resource.name} utilization without a ${m.resource.name} request`);
      }
      if (m.type === "Pods") {
        const n = m.pods.metric.name;
        if (!rules.some((r) => r.name === n))
          bad(`${id}: pods metric ${n}: no adapter rule serves it`);
      }
    }
  }
  if (dep.spec.replicas != null && hpas.length > 0) {
    bad("Deployment: replicas is set, and each apply would reset the autoscaler's count");
  }
  // the security context
  const psc = pod.securityContext || {};
  const csc = c.securityContext || {};
  const pick = (k) => (csc[k] != null ? csc[k] : psc[k]);
  if (pick("runAsNonRoot") !== true) bad("securityContext: runAsNonRoot is not true");
  if (!(pick("runAsUser") > 0)) bad("securityContext: runAsUser is not a user other than root");
  if (csc.allowPrivilegeEscalation !== false)
    bad("securityContext: allowPrivilegeEscalation is not false");
  if (csc.privileged === true) bad("securityContext: privileged");
  const drop = (csc.capabilities || {}).drop || [];
  if (!drop.includes("ALL") || ((csc.capabilities || {}).add || []).length > 0) {
    bad("securityContext: capabilities do not drop ALL (the service needs none)");
  }
  if ((pick("seccompProfile") || {}).type !== "RuntimeDefault")
    bad("securityContext: seccompProfile is not RuntimeDefault");
  if (psc.fsGroup != null)
    bad("securityContext: fsGroup makes the volumes group-writable, and --code-cache refuses them");
  // what the service writes is on a writable volume
  if (csc.readOnlyRootFilesystem !== true)
    bad("securityContext: readOnlyRootFilesystem is not true");
  const writable = (p) =>
    f.mounts.some(
      (m) =>
        !m.readOnly &&
        (p === m.mountPath || p.startsWith(m.mountPath + "/")) &&
        f.volumes.has(m.name) &&
        !f.volumes.get(m.name).configMap &&
        !f.volumes.get(m.name).secret,
    );
  const admin = (get("admin") || [])[0];
  const writes = [
    ["code-cache", (get("code-cache") || [])[0]],
    ["kv-path", (get("kv-path") || [])[0]],
    ["admin", admin && admin.startsWith("ipc://") ? path.dirname(admin.slice(6)) : null],
  ];
  if (!admin) writes.push(["admin (its default, under /tmp)", "/tmp"]);
  for (const [k, p] of writes) {
    if (p && !writable(p))
      bad(`--${k} ${p}: on no writable volume (the root file system is read-only)`);
  }
  // resources against the sizing
  const workers = Number((get("workers") || [])[0]);
  const req = (c.resources || {}).requests || {};
  const lim = (c.resources || {}).limits || {};
  if (!(workers > 0)) bad("workers is not set: its default is the node's CPUs, not the pod's");
  else if (!(cpuCores(req.cpu) >= workers))
    bad(`resources: requests.cpu ${req.cpu} is less than workers ${workers}`);
  const pmax = Number((get("process-max-mb") || [])[0]);
  const procs = Number((get("processes") || [])[0] || Math.ceil(workers / 2));
  if (!(pmax > 0)) {
    bad("process-max-mb is not set: a pool process's memory would end in the pod's OOM kill");
  } else if (!(memMiB(lim.memory) >= procs * pmax + 256)) {
    bad(
      `resources: limits.memory ${lim.memory} is less than ${procs} pool process(es) of ` +
        `process-max-mb ${pmax} and 256 Mi for the front and the spare`,
    );
  }
  if (!(memMiB(req.memory) <= memMiB(lim.memory)))
    bad("resources: requests.memory above limits.memory");
  // the grace period: preStop, then grace-ms, a second for a worker that
  // will not stop, 2 s for the pool processes (docs/architecture.md,
  // "Shutdown")
  const pre = (((c.lifecycle || {}).preStop || {}).exec || {}).command || [];
  const sleep = pre[0] === "sleep" ? Number(pre[1]) : 0;
  const grace = Number((get("grace-ms") || ["5000"])[0]) / 1000;
  const tgps = pod.terminationGracePeriodSeconds == null ? 30 : pod.terminationGracePeriodSeconds;
  if (!(tgps >= sleep + grace + 3 + 2)) {
    bad(
      `terminationGracePeriodSeconds ${tgps} is not above preStop ${sleep} s + grace-ms ${grace} s + 3 s + 2 s to spare`,
    );
  }
}

// ---- the live service ----

function get(url, timeoutMs) {
  return new Promise((resolve) => {
    const rq = http.get(url, { timeout: timeoutMs || 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    rq.on("timeout", () => rq.destroy(new Error("timeout")));
    rq.on("error", (e) => resolve({ status: 0, body: e.message }));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `isopool serve` as the rendered pod would run it: each volume a
// directory under dir (the ConfigMap's files written there), the image's
// modules examples/, each container port a free loopback port. Resolves to
// { proc, ports: containerPort -> local port, log, dir } once the
// readiness probe answers 200, or throws with the service's output.
async function startService(f, dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const map = [[IMAGE_MODULES, path.join(opt.src, "examples")]];
  for (const m of f.mounts) {
    const d = path.join(dir, "vol", m.name);
    fs.mkdirSync(d, { recursive: true, mode: 0o777 });
    fs.chmodSync(d, 0o777); // as an emptyDir is
    map.push([m.mountPath, d]);
  }
  map.sort((a, b) => b[0].length - a[0].length);
  function mapText(t) {
    for (const [from, to] of map)
      t = t
        .split(from + "/")
        .join(to + "/")
        .split(from + "\n")
        .join(to + "\n");
    return t;
  }
  // the config file's text is mapped as it is written, with map complete
  for (const m of f.mounts) {
    const v = f.volumes.get(m.name) || {};
    if (v.configMap && f.confFile && f.confText != null) {
      fs.writeFileSync(path.join(dir, "vol", m.name, f.confFile), mapText(f.confText));
    }
  }
  const ports = new Map();
  for (const p of f.c.ports || []) ports.set(p.containerPort, await freePort());
  const argv = f.argv.slice(1).map((a) => {
    let s = a;
    for (const [cport, lport] of ports)
      s = s.replace(new RegExp(`//0\\.0\\.0\\.0:${cport}\\b`), `//127.0.0.1:${lport}`);
    for (const [from, to] of map) {
      if (s === from || s.startsWith(from + "/")) s = to + s.slice(from.length);
      s = s.replace("//" + from + "/", "//" + to + "/");
    }
    return s;
  });
  const logFile = path.join(dir, "service.log");
  const out = fs.openSync(logFile, "w");
  const proc = cp.spawn(path.join(opt.bin, "isopool"), argv, { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  let exited = null;
  proc.on("exit", (code, sig) => {
    exited = sig || code;
  });
  const rp = f.c.readinessProbe.httpGet;
  const portOf = (p) =>
    typeof p === "number" ? p : (f.c.ports.find((x) => x.name === p) || {}).containerPort;
  const readyz = `http://127.0.0.1:${ports.get(portOf(rp.port))}${rp.path}`;
  const until = Date.now() + 60000 * scale;
  while (Date.now() < until) {
    if (exited !== null) {
      throw new Error(
        `isopool ${argv.join(" ")} ended (${exited}): ${fs.readFileSync(logFile, "utf8").trim()}`,
      );
    }
    const r = await get(readyz, 1000);
    if (r.status === 200)
      return { proc, ports, log: logFile, dir, argv, portOf, exited: () => exited };
    await sleepMs(100);
  }
  proc.kill("SIGKILL");
  throw new Error(
    `isopool serve was not ready within ${60 * scale} s at ${readyz}: ${fs.readFileSync(logFile, "utf8").trim()}`,
  );
}

// The probes of f against the running service, its /metrics against the
// adapter's rules.
async function checkLive(f, rules, live, errs) {
  const bad = (m) => errs.push(`live: ${m}`);
  for (const k of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const g = (f.c[k] || {}).httpGet;
    if (!g) continue;
    const lport = live.ports.get(live.portOf(g.port));
    if (lport == null) {
      bad(`${k}: port ${g.port} is none of the service's`);
      continue;
    }
    const r = await get(`http://127.0.0.1:${lport}${g.path}`);
    if (r.status !== 200)
      bad(`${k}: GET ${g.path} answered ${r.status}: ${r.body.trim().slice(0, 80)}`);
  }
  const series = new Set(
    live.metrics
      .split("\n")
      .filter((l) => l && l[0] !== "#")
      .map((l) => l.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)[0]),
  );
  for (const r of rules) {
    const names = new Set([r.series].concat(r.query.match(/isopool_[a-z0-9_]+/g) || []));
    for (const n of names)
      if (!series.has(n)) bad(`adapter rule ${r.name}: ${n} is not in the service's /metrics`);
  }
}

// ---- the broken copies ----

// Each: a file under deploy/k8s, a text in it and what replaces it, and
// the words the error must have. `serve`: the break shows when the service
// starts.
const MUTATIONS = [
  [
    "the readiness probe's path",
    "base/deployment.yaml",
    "path: /readyz",
    "path: /ready",
    "readinessProbe: path /ready",
  ],
  [
    "a Service's targetPort",
    "base/services.yaml",
    "targetPort: jobs",
    "targetPort: 7448",
    "targetPort 7448 is no container port",
  ],
  [
    "the disruption budget's selector",
    "base/pdb.yaml",
    "      app.kubernetes.io/name: isopool",
    "      app.kubernetes.io/name: isopool-db",
    "PodDisruptionBudget/isopool: its selector",
  ],
  [
    "a type the schema refuses",
    "hpa-cpu.yaml",
    "maxReplicas: 10",
    "maxReplicas: ten",
    "schema: /spec/maxReplicas",
  ],
  [
    "a misspelt field",
    "base/deployment.yaml",
    "readinessProbe:",
    "readinesProbe:",
    "readinesProbe: unknown field",
  ],
  [
    "a misspelt metadata field (apimachinery's types)",
    "base/pdb.yaml",
    "  name: isopool\n  labels:",
    "  name: isopool\n  lables:",
    "PodDisruptionBudget/isopool: metadata.lables: unknown field",
  ],
  [
    "the autoscaler's pod metric",
    "jobs-metric/hpa.yaml",
    "name: isopool_jobs_inflight",
    "name: isopool_jobs_in_flight",
    "no adapter rule serves it",
  ],
  [
    "the adapter's series",
    "prometheus-adapter/adapter-config.yaml",
    "'isopool_jobs_inflight{",
    "'isopool_jobs_running{",
    "isopool_jobs_running is not in the service's /metrics",
  ],
  [
    "the memory limit",
    "base/deployment.yaml",
    "memory: 1Gi\n        securityContext",
    "memory: 900Mi\n        securityContext",
    "limits.memory 900Mi",
  ],
  [
    "the grace period",
    "base/deployment.yaml",
    "terminationGracePeriodSeconds: 30",
    "terminationGracePeriodSeconds: 12",
    "terminationGracePeriodSeconds 12",
  ],
  [
    "the state volume's mount",
    "base/deployment.yaml",
    "mountPath: /var/lib/isopool\n",
    "mountPath: /var/lib/isopool-state\n",
    "--code-cache /var/lib/isopool/code-cache: on no writable volume",
  ],
  [
    "the capabilities",
    "base/deployment.yaml",
    'drop: ["ALL"]',
    'drop: ["NET_RAW"]',
    "capabilities do not drop ALL",
  ],
  [
    "the listen port",
    "base/deployment.yaml",
    "tcp://0.0.0.0:7447",
    "tcp://0.0.0.0:7000",
    "--listen tcp://0.0.0.0:7000: its port is no containerPort",
  ],
  ["a resource file's name", "base/kustomization.yaml", "- pdb.yaml", "- pdb.yml", "kustomize ."],
  [
    "a bound below the service's least",
    "base/isopool.conf",
    "process-max-mb = 768",
    "process-max-mb = 512",
    "needs at least 752",
    "serve",
  ],
];

// ---- main ----

async function main() {
  let fails = 0;
  const ok = (m) => console.log(`k8s_test: ok: ${m}`);
  const fail = (m) => {
    console.error(`k8s_test: FAIL: ${m}`);
    fails++;
  };
  const work = fs.mkdtempSync(path.join(opt.work, "run-"));
  const tree = path.join(work, "k8s");
  copyTree(K8S, tree);
  toKustomize2(tree);
  // the manifests as they are, without the service
  const first = await checkAll(tree, null);
  if (first.errs.length > 0 || !first.facts) {
    first.errs.forEach(fail);
    fs.rmSync(work, { recursive: true, force: true });
    return fails || 1;
  }
  ok(`${VARIANTS.length} kustomizations rendered; every object valid and consistent`);
  // the service as the pod runs it
  let live;
  try {
    live = await startService(first.facts, path.join(work, "svc"));
  } catch (e) {
    fail(e.message);
    return fails;
  }
  try {
    const mp = live.ports.get(urlPort((first.facts.get("metrics") || [])[0]));
    const m = await get(`http://127.0.0.1:${mp}/metrics`);
    if (m.status !== 200) throw new Error(`/metrics answered ${m.status}`);
    live.metrics = m.body;
    const errs = [];
    await checkLive(first.facts, first.rules, live, errs);
    errs.forEach(fail);
    if (errs.length === 0)
      ok(
        "the probes answer 200 on the service's metrics port; the adapter's series are in its /metrics",
      );
    // a job on the jobs port, as a client through the headless Service
    const jp = live.ports.get(urlPort(first.facts.args.get("listen")[0]));
    const r = cp.spawnSync(
      path.join(opt.bin, "poolctl"),
      ["--url", `tcp://127.0.0.1:${jp}`, "call", "double.js", "21"],
      { encoding: "utf8", timeout: 30000 * scale },
    );
    if (r.status === 0 && /"doubled":42/.test(r.stdout)) ok("a job ran on the jobs port");
    else fail(`poolctl call double.js 21: ${r.status} ${r.stdout} ${r.stderr}`);
    const log = fs.readFileSync(live.log, "utf8");
    const warns = log.split("\n").filter((l) => /"level":"(warn|error)"/.test(l));
    if (warns.length > 0) fail(`the service warned: ${warns.join("; ")}`);
    else ok("the service started without a warning (code cache on its volume, json log)");
    // each pool process bounded by the config's process-max-mb (not under
    // a sanitizer, whose shadow memory the bound would refuse)
    const pmax = (first.facts.get("process-max-mb") || [])[0];
    const sand = log.split("\n").filter((l) => l.includes("sandboxed:"));
    if (
      sand.length > 0 &&
      sand.every((l) => l.includes(`data=${pmax}MiB`) || l.includes("not under"))
    ) {
      ok(`${sand.length} pool processes sandboxed with data=${pmax}MiB (process-max-mb)`);
    } else {
      fail(
        `the pool processes' sandbox lines do not say data=${pmax}MiB: ${sand.join("; ") || "none"}`,
      );
    }
    // the broken copies
    for (const [what, file, from, to, expect, when] of MUTATIONS) {
      const mtree = path.join(work, "m");
      fs.rmSync(mtree, { recursive: true, force: true });
      copyTree(K8S, mtree);
      const p = path.join(mtree, file);
      const text = fs.readFileSync(p, "utf8");
      if (!text.includes(from)) {
        fail(`broken copy (${what}): ${file} has no "${from}"`);
        continue;
      }
      fs.writeFileSync(p, text.replace(from, to));
      toKustomize2(mtree);
      const res = await checkAll(mtree, live);
      let errs = res.errs;
      if (when === "serve" && errs.length === 0) {
        try {
          const s = await startService(res.facts, path.join(work, "svc-m"));
          s.proc.kill("SIGKILL");
        } catch (e) {
          errs = [e.message];
        }
      }
      const hit = errs.find((e) => e.includes(expect));
      if (hit) {
        const at = Math.max(0, hit.indexOf(expect) - 60);
        ok(
          `broken copy (${what}) fails: ${at > 0 ? "..." : ""}${hit.slice(at, at + 160).replace(/\s+/g, " ")}`,
        );
      } else {
        fail(
          `broken copy (${what}) did not fail with "${expect}": ${errs.length ? errs.join("; ") : "it passed"}`,
        );
      }
    }
  } finally {
    // SIGTERM: the service must be gone well within the grace period
    // (what is left of it for the preStop's sleep)
    const t0 = Date.now();
    live.proc.kill("SIGTERM");
    while (live.exited() === null && Date.now() - t0 < 30000 * scale) await sleepMs(20);
    const took = (Date.now() - t0) / 1000;
    const f = first.facts;
    const tgps =
      f.pod.terminationGracePeriodSeconds == null ? 30 : f.pod.terminationGracePeriodSeconds;
    const pre = (((f.c.lifecycle || {}).preStop || {}).exec || {}).command || [];
    const budget = tgps - (pre[0] === "sleep" ? Number(pre[1]) : 0);
    if (live.exited() === 0 && took < budget)
      ok(
        `SIGTERM ended the service in ${took.toFixed(2)} s (after preStop, the pod has ${budget} s)`,
      );
    else
      fail(
        `SIGTERM: the service ended ${live.exited()} after ${took.toFixed(2)} s (the pod has ${budget} s)`,
      );
    if (live.exited() === null) live.proc.kill("SIGKILL");
  }
  fs.rmSync(work, { recursive: true, force: true });
  return fails;
}

main().then(
  (fails) => {
    if (fails > 0) console.error(`k8s_test: ${fails} failed`);
    process.exit(fails > 0 ? 1 : 0);
  },
  (e) => {
    console.error(`k8s_test: FAIL: ${e.stack || e}`);
    process.exit(1);
  },
);
