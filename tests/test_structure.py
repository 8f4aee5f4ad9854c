"""The structure carries the promise (README, "How it works"): each rule of a session's
life lives in one module, so that a new feature cannot add another door. Read from the
source, as a reviewer would: the imports (those inside functions too), and the calls that
end sessions or parse their state."""

import ast
from pathlib import Path

import sessions_mgmt

APP = Path(sessions_mgmt.__file__).resolve().parent
DOOR = "sessions_mgmt.internal.flows.end"
STORE = "sessions_mgmt.internal.store"
CODEC = "sessions_mgmt.internal.state"


def _modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        dotted = ".".join(("sessions_mgmt", *path.relative_to(APP).with_suffix("").parts))
        found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text())


def _imports(module: str) -> set[str]:
    """The app's modules ``module`` imports, at any depth of its code."""
    is_package = MODULES[module].name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES and name != module)
    return found


def _cycle() -> list[str] | None:
    graph = {module: _imports(module) for module in MODULES}
    done, path = set(), []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module)
        if found:
            return found
    return None


def _calls(module: str, names: set[str]) -> list[str]:
    """Calls in ``module`` of a method or function with one of ``names``, other than the
    door's own (``end.flush(...)``)."""
    found = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            through_door = (
                isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "end"
            )
            if name in names and not through_door:
                found.append(f"{module}:{node.lineno} {name}()")
    return found


def test_no_import_cycle_counting_imports_inside_functions():
    assert _cycle() is None


def test_models_import_nothing_above_them():
    """The ORM's delete paths reach the door through a signal wired in receivers.py, not
    through an import of the modules that end sessions."""
    allowed = {"sessions_mgmt.conf", "sessions_mgmt.devices", "sessions_mgmt.location"}
    assert _imports("sessions_mgmt.models") <= allowed


def test_only_the_door_deletes_rows_and_store_keys():
    """Every deletion of a row or a store key goes through ``internal/flows/end.py``: the
    store's delete primitives, the rows-only delete and Django's ``flush()`` of the
    request's session are called nowhere else (the store defines its primitives)."""
    deleting = {"delete_where_in", "delete_keys", "end_after_commit", "delete_rows", "flush"}
    elsewhere = [
        call
        for module in MODULES
        if module not in (DOOR, STORE)
        for call in _calls(module, deleting)
    ]
    assert elsewhere == []
    assert _calls(DOOR, deleting)  # the door does use them: the check looks at real names


def test_only_the_codec_parses_the_session_state():
    """The state's keys and its string format are known to ``internal/state.py`` alone."""
    names = {"STATE_KEY", "LEGACY_STATE_KEY"}
    elsewhere = []
    for module in MODULES:
        if module == CODEC:
            continue
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.Name | ast.Attribute | ast.alias):
                name = getattr(node, "id", None) or getattr(node, "attr", None)
                name = name or getattr(node, "name", None)
                if name in names:
                    elsewhere.append(f"{module}:{getattr(node, 'lineno', '?')} {name}")
            if isinstance(node, ast.Constant) and node.value in ("_smgmt", "_sessions_mgmt"):
                elsewhere.append(f"{module}:{node.lineno} {node.value!r}")
        elsewhere += [
            call for call in _calls(module, {"split"}) if '"|"' in _source_line(module, call)
        ]
    assert elsewhere == []


def _source_line(module: str, call: str) -> str:
    line = int(call.split(":")[1].split()[0])
    return MODULES[module].read_text().splitlines()[line - 1]


def test_internal_modules_are_not_imported_by_the_demo_or_documented_as_public():
    """What a project may import is the public API; the demo site is such a project."""
    root = APP.parent
    for folder in ("config", "accounts"):
        for path in (root / folder).rglob("*.py"):
            assert "sessions_mgmt.internal" not in path.read_text(), path
