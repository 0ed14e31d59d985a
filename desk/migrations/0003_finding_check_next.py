"""A finding's check_next: what to check next (the document to pull, the person to ask), the exceptions'
added column; findings imported from runs made before it keep it empty."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("desk", "0002_chain_head")]
    operations = [migrations.AddField(model_name="finding", name="check_next",
                                      field=models.TextField(blank=True, default=""))]
