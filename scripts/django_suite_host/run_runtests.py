"""Run Django's ``tests/runtests.py`` with sessions_mgmt added, without touching its files.

Run from Django's ``tests`` directory (scripts/django_suite.py does) with runtests' own
arguments: ``python run_runtests.py --settings=sessions_mgmt_suite_settings auth_tests``.

``runtests.py`` builds the test project's settings from its module-level lists
``ALWAYS_INSTALLED_APPS`` and ``ALWAYS_MIDDLEWARE``. This imports it as a module (its
``if __name__ == "__main__":`` block does not run on import), adds the app the README's way
to those lists, then runs that block in the module's namespace. Parallel workers are forked
from this process and inherit the change.

With ``DJANGO_SUITE_MODE=baseline`` nothing is added: Django's suite as it is.
"""

import ast
import os
import sys

APP = "sessions_mgmt"
MIDDLEWARE = "sessions_mgmt.middleware.DeviceSessionMiddleware"
AFTER = "django.contrib.auth.middleware.AuthenticationMiddleware"


def insert_after(middleware: list, what: str, after: str) -> None:
    """Put ``what`` right after ``after`` (the README's place), in place."""
    if what not in middleware and after in middleware:
        middleware.insert(middleware.index(after) + 1, what)


def install_app(runtests) -> None:
    if APP not in runtests.ALWAYS_INSTALLED_APPS:
        runtests.ALWAYS_INSTALLED_APPS.append(APP)
    insert_after(runtests.ALWAYS_MIDDLEWARE, MIDDLEWARE, AFTER)
    # auth_tests' own middleware list, which most of its view tests use through
    # override_settings(MIDDLEWARE=AUTH_MIDDLEWARE): a project installing the app has the
    # middleware in every MIDDLEWARE it uses. (Lists written out in a test are left as
    # they are: such a test runs without the middleware, with the app's receivers only.)
    import auth_tests.settings

    insert_after(auth_tests.settings.AUTH_MIDDLEWARE, MIDDLEWARE, AFTER)


def main_block(path: str):
    """The code of runtests.py's ``if __name__ == "__main__":`` block."""
    with open(path) as file:
        tree = ast.parse(file.read(), filename=path)
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
            and isinstance(node.test.comparators[0], ast.Constant)
            and node.test.comparators[0].value == "__main__"
        ):
            return compile(ast.Module(body=node.body, type_ignores=[]), path, "exec")
    raise SystemExit(f"{path}: no `if __name__ == '__main__':` block found")


def main() -> None:
    tests_dir = os.getcwd()
    path = os.path.join(tests_dir, "runtests.py")
    if not os.path.exists(path):
        raise SystemExit(f"run from Django's tests directory (no runtests.py in {tests_dir})")
    sys.path.insert(0, tests_dir)
    import runtests

    if os.environ.get("DJANGO_SUITE_MODE", "app") != "baseline":
        install_app(runtests)
    if os.environ.get("DJANGO_SUITE_START_METHOD"):  # to try "spawn" workers on Linux
        import multiprocessing

        multiprocessing.set_start_method(os.environ["DJANGO_SUITE_START_METHOD"])
    code = main_block(path)
    sys.argv = [path, *sys.argv[1:]]
    exec(code, vars(runtests))


if __name__ == "__main__":
    main()
