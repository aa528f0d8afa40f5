"""The signed-in user from the cache, not the database, on every request (issue 19
item 4): with the session in the cache too (settings: `cached_db` when Redis is
configured), a logged-in request costs no query before its view runs.

`CachedUserMiddleware` replaces Django's AuthenticationMiddleware. A miss asks Django
(`auth.get_user`: the session's backend, the session hash, `is_active`), then keeps
that user — with `settings.USER_CACHE_RELATED` joined and its groups prefetched — for
USER_CACHE_SECONDS. A hit is checked as Django would check it: the session's backend
is still configured and its hash matches the cached user's (so a password change
ends other sessions at once). Any save or delete of the user, a change of their
groups, and whatever apps `forget()` on (their profile) drop the entry at once;
only a bulk `update()`, which sends no signal, can be seen up to the lifetime late.
"""

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

USER_CACHE_SECONDS = 300


def _key(pk):
    return f"user:{pk}"


def forget(*pks):
    """Drop the cached users `pks`, now and once the current transaction commits (a
    request reading in between would otherwise cache the old row again)."""
    keys = [_key(pk) for pk in pks if pk is not None]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


def _hash_matches(request, user):
    session_hash = request.session.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    # Django also accepts a hash made with a fallback secret (and rewrites it): that,
    # and any other doubt, is left to Django itself (get_user below).
    return constant_time_compare(session_hash, user.get_session_auth_hash())


def _load(model, pk):
    return (model._default_manager.select_related(*settings.USER_CACHE_RELATED)
            .prefetch_related("groups").filter(pk=pk).first())


def get_user(request):
    """The session's user as Django would return it, from the cache when it can be."""
    pk = request.session.get(SESSION_KEY)
    backend = request.session.get(BACKEND_SESSION_KEY)
    if pk is None or backend not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    model = auth.get_user_model()
    try:
        pk = model._meta.pk.to_python(pk)
    except ValidationError:
        return auth.get_user(request)
    user = cache.get(_key(pk))
    if user is None:
        user = _load(model, pk)
        if user is not None:
            cache.set(_key(pk), user, USER_CACHE_SECONDS)
    if user is not None and user.is_active and _hash_matches(request, user):
        user.backend = backend
        return user
    # Unknown, inactive, or a hash Django must judge (a fallback secret): Django
    # decides, and flushes the session when it refuses.
    return auth.get_user(request)


class CachedUserMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)  # its checks, and request.auser
        request.user = SimpleLazyObject(lambda: get_user(request))


def _user_changed(sender, instance, **kwargs):
    forget(instance.pk)


def _groups_changed(sender, instance, reverse, pk_set, **kwargs):
    if reverse:  # users added to or taken from a group
        forget(*(pk_set or ()))
        if kwargs.get("action") == "pre_clear":
            forget(*instance.user_set.values_list("pk", flat=True))
    else:
        forget(instance.pk)


def connect():
    model = auth.get_user_model()
    post_save.connect(_user_changed, sender=model, dispatch_uid="usercache-save")
    post_delete.connect(_user_changed, sender=model, dispatch_uid="usercache-delete")
    m2m_changed.connect(_groups_changed, sender=model.groups.through,
                        dispatch_uid="usercache-groups")
