"""The operator's RBAC (helm/modelplane/files/operator-rbac.yaml) against what the operator's code does.

What the operator needs is derived from the code, not restated: every type declared in
``modelplane.kube.resources`` is read (get, list, watch); the client calls in ``modelplane.operator``
(``kube.delete(JOBS, ...)``, ``kube.merge_patch(...)``) add their verbs; every object kind the operator
builds (a dict literal with ``apiVersion`` and a literal ``kind``) is server-side applied, so it needs
create and patch; status is applied through ``/status``; owner references with ``blockOwnerDeletion`` need
``update`` on the owner's ``finalizers``; and kopf needs list/watch/patch on the kinds it serves, list/watch
on the resources its event handlers select, events, CRDs, namespaces and its peering objects.

The rules file must grant all of it and nothing else: a new client call or child kind fails here until the
chart grants it, and a grant the code no longer needs fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm.chart import CHART_DIR, REPO_ROOT, objects_of, one, render

pytestmark = pytest.mark.unit

RULES_FILE = CHART_DIR / "files" / "operator-rbac.yaml"
OPERATOR_SOURCES = REPO_ROOT / "operator" / "modelplane" / "operator"
READ = frozenset({"get", "list", "watch"})
APPLY = frozenset({"create", "patch"})
CLIENT_VERBS = {"get": "get", "list": "list", "delete": "delete", "merge_patch": "patch"}
KOPF_DECORATORS = frozenset({"event", "create", "update", "resume", "delete", "field", "timer", "daemon", "index"})
CLUSTER_SCOPED = frozenset({"namespaces", "customresourcedefinitions", "clusterkopfpeerings"})

Grant = tuple[str, str, str]
"""(API group, resource[/subresource], verb)."""


def rules_file() -> dict[str, list[dict[str, Any]]]:
    return dict(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


def grants(rules: Iterable[Mapping[str, Any]]) -> set[Grant]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def declared_types() -> list[Any]:
    """Every ResourceType the operator's client knows: ``modelplane.kube.resources``' module attributes."""
    from modelplane.kube import resources

    found = {id(v): v for v in vars(resources).values() if isinstance(v, resources.ResourceType)}
    found |= {id(v): v for v in resources.KNOWN.values()}
    return list(found.values())


def modelplane_types() -> list[Any]:
    from modelplane.kube import resources

    return list(resources.MODELPLANE.values())


# --- what the code does ---------------------------------------------------------------------------------------


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(OPERATOR_SOURCES.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_client_call(node: ast.Call) -> str | None:
    """The client method of ``<anything>.kube.<method>(...)`` or ``kube.<method>(...)``."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value
    named_kube = (isinstance(owner, ast.Attribute) and owner.attr == "kube") or (
        isinstance(owner, ast.Name) and owner.id == "kube"
    )
    return func.attr if named_kube else None


def constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def built_kinds(tree: ast.Module) -> set[str]:
    """Kinds of the objects a module builds: dict literals with ``apiVersion`` and a literal ``kind``."""
    kinds = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {constant(k): v for k, v in zip(node.keys, node.values, strict=True) if k is not None}
            kind = constant(keys.get("kind"))
            if "apiVersion" in keys and isinstance(kind, str):
                kinds.add(kind)
    return kinds


def kopf_selectors(tree: ast.Module) -> Iterator[tuple[str, str, str]]:
    """``(decorator, group, plural)`` of kopf registrations with an explicit group/version/plural."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in KOPF_DECORATORS:
            continue
        strings = [constant(a) for a in node.args if isinstance(constant(a), str)]
        if len(strings) == 3 and len(node.args) == 3:
            group, _version, plural = (str(s) for s in strings)
            yield node.func.attr, group, plural


GENERIC_ARGUMENTS = {"resource": "the kind a reconcile pass runs for (run_pass's argument: a ModelPlane kind)"}
"""Parameters passed to client calls that stand for ModelPlane kinds, checked at every ``run_pass`` call."""


def call_targets(node: ast.Call, by_name: Mapping[str, Any], where: Path) -> list[Any]:
    """The resource types a client call may touch: its constant, or the ModelPlane kinds for a generic one."""
    first = node.args[0] if node.args else None
    if isinstance(first, ast.Name) and first.id in by_name:
        return [by_name[first.id]]
    if isinstance(first, ast.Name) and first.id in GENERIC_ARGUMENTS:
        return modelplane_types()
    raise AssertionError(
        f"{where}:{node.lineno}: cannot tell which resource this client call touches; pass a constant of "
        "modelplane.kube.resources (or teach tests/helm/test_rbac.py the new argument)"
    )


def test_generic_reconcile_passes_run_only_for_modelplane_kinds() -> None:
    """Backs GENERIC_ARGUMENTS: every ``run_pass(runtime, RESOURCE, ...)`` names a ModelPlane kind."""
    from modelplane.kube import resources

    kinds = {id(t) for t in modelplane_types()}
    names = {n for n, v in vars(resources).items() if isinstance(v, resources.ResourceType) and id(v) in kinds}
    calls = 0
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "run_pass":
                argument = node.args[1] if len(node.args) > 1 else None
                assert isinstance(argument, ast.Name), f"{path}:{node.lineno}"
                assert argument.id in names | set(GENERIC_ARGUMENTS), f"{path}:{node.lineno}: {argument.id}"
                calls += 1
    assert calls >= 3


class Needs:
    """Grants the operator needs, each with its first reason (for the failure message)."""

    def __init__(self) -> None:
        from modelplane.kube import resources

        self.types = declared_types()
        self.by_name = {n: v for n, v in vars(resources).items() if isinstance(v, resources.ResourceType)}
        self.by_kind = {t.kind: t for t in self.types}
        self.grants: dict[Grant, str] = {}

    def add(self, resource: Any, verbs: Iterable[str], why: str, subresource: str | None = None) -> None:
        plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
        for verb in verbs:
            self.grants.setdefault((resource.group, plural, verb), why)

    def client_calls(self, tree: ast.Module, where: Path) -> None:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            method = is_client_call(node)
            if method in CLIENT_VERBS:
                sub = next((str(constant(k.value)) for k in node.keywords if k.arg == "subresource"), None)
                for target in call_targets(node, self.by_name, where):
                    self.add(target, [CLIENT_VERBS[method]], f"{where}:{node.lineno} kube.{method}", sub)
            elif method == "apply_status":
                for kind in modelplane_types():
                    self.add(kind, ["patch"], f"{where}:{node.lineno} kube.apply_status", "status")

    def built_objects(self, tree: ast.Module, where: Path) -> None:
        for kind in built_kinds(tree):
            assert kind in self.by_kind, (
                f"{where} builds {kind} objects, which modelplane.kube.resources does not declare "
                "(the client's apply cannot resolve their path)"
            )
            self.add(self.by_kind[kind], APPLY, f"{where} builds {kind} objects (server-side apply)")
        dict_keys = (constant(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys)
        if "blockOwnerDeletion" in dict_keys:
            for kind in modelplane_types():
                self.add(kind, ["update"], f"{where}: owner references with blockOwnerDeletion", "finalizers")

    def kopf_registrations(self, tree: ast.Module, where: Path) -> None:
        for decorator, group, plural in kopf_selectors(tree):
            verbs = ["list", "watch"] if decorator in ("event", "index") else ["list", "watch", "patch"]
            for verb in verbs:
                self.grants.setdefault((group, plural, verb), f"{where}: kopf.{decorator} on {group}/{plural}")

    def kopf_machinery(self) -> None:
        for kind in modelplane_types():  # kopf serves the five kinds: watch them, patch its annotations/finalizers
            self.add(kind, ["list", "watch", "patch"], "kopf handlers of the ModelPlane kinds")
        self.grants[("", "events", "create")] = "kopf posts Events"
        for verb in ("list", "watch"):
            self.grants[("apiextensions.k8s.io", "customresourcedefinitions", verb)] = "kopf follows CRDs"
            self.grants[("", "namespaces", verb)] = "kopf discovers namespaces"
        for plural in ("kopfpeerings", "clusterkopfpeerings"):
            for verb in ("get", "list", "watch", "patch"):
                self.grants[("kopf.dev", plural, verb)] = "kopf peering"


def required() -> dict[Grant, str]:
    """Every grant the operator needs, with the reason (for the failure message)."""
    needs = Needs()
    for declared in needs.types:
        needs.add(declared, READ, f"{declared.kind} is declared in modelplane.kube.resources (read)")
    for path, tree in sources():
        where = path.relative_to(REPO_ROOT)
        needs.client_calls(tree, where)
        needs.built_objects(tree, where)
        needs.kopf_registrations(tree, where)
    needs.kopf_machinery()
    return needs.grants


# --- the checks -------------------------------------------------------------------------------------------------


def granted_by_file() -> set[Grant]:
    data = rules_file()
    return grants(data["clusterRules"]) | grants(data["namespacedRules"])


def test_every_need_of_the_operator_is_granted() -> None:
    missing = {grant: why for grant, why in required().items() if grant not in granted_by_file()}
    assert not missing, "grant these in helm/modelplane/files/operator-rbac.yaml:\n" + "\n".join(
        f"  {group or 'core'} {resource}: {verb}   ({why})" for (group, resource, verb), why in sorted(missing.items())
    )


def test_nothing_more_is_granted() -> None:
    extra = granted_by_file() - set(required())
    assert not extra, "granted but not needed by the operator's code:\n" + "\n".join(
        f"  {group or 'core'} {resource}: {verb}" for group, resource, verb in sorted(extra)
    )


def test_the_derivation_sees_the_operators_calls() -> None:
    """The scan is not vacuous: known calls of the Dataset and TrainingRun reconcilers are found."""
    need = required()
    assert "kube.delete" in need[("batch", "jobs", "delete")]
    assert "builds Job" in need[("batch", "jobs", "create")]
    assert "builds ModelVersion" in need[("modelplane.io", "modelversions", "create")]
    assert "apply_status" in need[("modelplane.io", "datasets/status", "patch")]
    selectors = {selector for _, tree in sources() for selector in kopf_selectors(tree)}
    assert ("event", "batch", "jobs") in selectors
    assert ("", "pods", "delete") not in need
    assert ("", "secrets", "get") not in need


def test_cluster_scoped_resources_are_in_the_cluster_rules() -> None:
    data = rules_file()
    namespaced_types = {t.plural for t in declared_types() if t.namespaced}
    for rule in data["clusterRules"]:
        assert set(rule["resources"]) <= CLUSTER_SCOPED, rule
    for rule in data["namespacedRules"]:
        plurals = {r.split("/")[0] for r in rule["resources"]}
        assert not plurals & CLUSTER_SCOPED, rule
        assert plurals <= namespaced_types | {"kopfpeerings"}, rule


def test_every_rule_says_why() -> None:
    data = rules_file()
    for rule in data["clusterRules"] + data["namespacedRules"]:
        assert str(rule.get("why", "")).strip(), rule
        assert set(rule) == {"apiGroups", "resources", "verbs", "why"}, rule


def test_operator_never_gets_secrets_or_wildcards() -> None:
    granted = granted_by_file()
    assert not {g for g in granted if g[1] == "secrets"}
    assert not {g for g in granted if "*" in g}
    assert not {g for g in granted if g[2] in ("escalate", "bind", "impersonate")}


def test_rendered_cluster_roles_hold_exactly_the_files_rules() -> None:
    objects = render()
    data = rules_file()
    strip = [{k: r[k] for k in ("apiGroups", "resources", "verbs")} for r in data["namespacedRules"]]
    assert one(objects, "ClusterRole", "modelplane-operator")["rules"] == strip
    strip = [{k: r[k] for k in ("apiGroups", "resources", "verbs")} for r in data["clusterRules"]]
    assert one(objects, "ClusterRole", "modelplane-operator-cluster")["rules"] == strip
    subjects = [b["subjects"] for b in objects_of(objects, "ClusterRoleBinding")]
    assert (
        subjects == [[{"kind": "ServiceAccount", "name": "modelplane-operator", "namespace": "modelplane-system"}]] * 2
    )
