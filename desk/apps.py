from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "desk"
    label = "desk"
    verbose_name = "sales-audit review desk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        connection_created.connect(_sqlite_pragmas)


def _sqlite_pragmas(sender, connection, **kwargs):
    """WAL lets readers go on while one reviewer writes; the busy timeout (in the connection options) makes a
    second writer wait instead of failing. synchronous=NORMAL: in WAL mode a committed transaction survives
    the server process being killed (only a power cut can lose the latest ones), without an fsync per
    decision."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
