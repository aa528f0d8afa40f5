"""mindweave_ir.queue: the one after-commit enqueue every engine uses."""

import ast
import importlib
import logging

import pytest
from celery.signals import before_task_publish
from django.core.cache import cache
from django.db import transaction

from mindweave_ir import queue
from mindweave_ir.celery import app
from tests.test_architecture import load_modules

TASK = "oncall.tasks.deliver_notice"


@pytest.fixture
def published():
    """The tasks sent to the broker during the test: [(task name, args)]."""
    sent = []

    def record(sender=None, body=None, **kwargs):
        sent.append((sender, list(body[0])))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_a_task_is_sent_only_once_the_transaction_commits(published):
    with transaction.atomic():
        queue.enqueue_on_commit(TASK, 7)
        assert published == []
    assert published == [(TASK, [7])]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_sends_nothing(published):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue_on_commit(TASK, 7)
        raise RuntimeError("rolled back")
    assert published == []


@pytest.mark.django_db
def test_a_task_object_is_sent_like_its_name(published, django_capture_on_commit_callbacks):
    from oncall import tasks

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue.enqueue_on_commit(tasks.deliver_notice, 8)
    assert len(callbacks) == 1
    assert published == [(TASK, [8])]


@pytest.mark.django_db
def test_a_broker_that_is_down_is_logged_not_raised(monkeypatch, caplog,
                                                    django_capture_on_commit_callbacks):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(app, "send_task", down)
    with caplog.at_level(logging.WARNING, logger="mindweave_ir.queue"), \
            django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(TASK, 9)
    assert [r.getMessage() for r in caplog.records] == [
        f"could not enqueue {TASK}(9,); the beat tick will pick it up"]


@pytest.mark.django_db
def test_once_within_sends_one_wake_up_until_the_key_is_taken(
        published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(TASK, 1, once_within=("wake:1", 10))
        queue.enqueue_on_commit(TASK, 1, once_within=("wake:1", 10))
        queue.enqueue_on_commit(TASK, 2, once_within=("wake:2", 10))
    assert published == [(TASK, [1]), (TASK, [2])]
    cache.delete("wake:1")  # what the task does when it starts
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(TASK, 1, once_within=("wake:1", 10))
    assert published[-1] == (TASK, [1])


def _enqueued_names():
    """Every task name the code passes to enqueue_on_commit: a string, or a module
    constant holding one."""
    names = {}
    for module in load_modules().values():
        tree = ast.parse(module.source)
        constants = {target.id: node.value.value for node in tree.body
                     if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                     for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called != "enqueue_on_commit":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant):
                names[first.value] = module.name
            elif isinstance(first, ast.Name) and first.id in constants:
                names[constants[first.id]] = module.name
            else:
                names[ast.unparse(first)] = module.name
    return names


def test_every_task_the_engines_enqueue_is_registered():
    names = _enqueued_names()
    assert {"oncall.tasks.deliver_notice", "incidents.tasks.drain_inbound"} <= set(names)
    # Paging never goes through the broker: the paging engine finds its work in the
    # database (oncall/engine.py).
    assert not {"oncall.tasks.run_page", "oncall.tasks.deliver"} & set(names)
    for app_name in ("incidents", "oncall", "reports"):
        importlib.import_module(f"{app_name}.tasks")
    unknown = {name: where for name, where in names.items() if name not in app.tasks}
    assert unknown == {}
