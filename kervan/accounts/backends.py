"""Authentication backend: Django's ModelBackend, with the logged-in user read from the shared cache.

Every page loads the session's user; with a shared cache that is one cache round trip instead of a query.
User.save() and User.delete() announce changes (role, deactivation, password: the session hash is checked against
the fresh copy), so a cached user is never out of date (kervan.core.cache explains why even under races).
"""

from django.contrib.auth.backends import ModelBackend

from kervan.accounts.models import User


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        return User.cached.get(user_id, "user", lambda: super(CachedModelBackend, self).get_user(user_id))
