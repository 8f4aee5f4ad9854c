"""A database router as sites with read replicas have one, for the replica test."""

REPLICA = "replica"


class LaggingReplicaRouter:
    """Reads of the app's rows go to a replica that has not caught up at all (it is empty);
    writes, and everything else, go to the primary."""

    def db_for_read(self, model, **hints):
        return REPLICA if model._meta.app_label == "sessions_mgmt" else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return True
