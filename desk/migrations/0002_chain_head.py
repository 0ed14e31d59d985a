"""The decisions' chain head exists from the start, so that the first two decisions written at once
both lock it (rather than both trying to create it)."""

from django.db import migrations

GENESIS = "0" * 64


def create_head(apps, schema_editor):
    apps.get_model("desk", "ChainHead").objects.get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS})


class Migration(migrations.Migration):
    dependencies = [("desk", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
